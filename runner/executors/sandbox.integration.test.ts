// A job's sandboxes on a real engine: runs of one job reuse its sandbox, and nothing a run leaves
// behind — a background process, files in the checkout, /tmp, $HOME or /dev/shm — reaches the
// job's next run or another job's run. Each run's command checks what it can see and says so.
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerRequired, ensureImageEverywhere, tlsEngines } from "../../tests/helpers/engines";
import { DockerExecutor } from "./docker-executor";
import { removeLabelled } from "./removal";
import { runOnce } from "./run-once";
import { makeRepo, type SpecOverrides, specFor, type TestRepo } from "./test-support";
import { SANDBOX_LABEL } from "../labels";

const { engines, problem } = await tlsEngines();
if (problem && dockerRequired) throw new Error(`Docker engines are required in CI: ${problem}`);
const suite = problem ? describe.skip : describe;

// Leaves a process whose command line names $TAG (holding the run's output open), and files.
const LEAVE_BEHIND = [
  'nohup sh -c "sleep 1000; echo leftover-$TAG" >/dev/null 2>&1 &',
  "sleep 1000 &",
  "echo x > /work/src/left-src; echo x > /tmp/left-tmp; echo x > $HOME/left-home",
  "echo x > /dev/shm/left-shm",
  "echo left",
].join("\n");

// Exits 1 naming what it finds of an earlier run. The scan is written to a file before grep runs,
// so that grep's own command line (which holds the expanded tag) is not part of it.
const CHECK_CLEAN = [
  "found=",
  'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline 2>/dev/null; echo; done > /tmp/ps.txt',
  'grep -q "leftover-$TAG" /tmp/ps.txt && found="$found process"',
  "grep -q '^sleep 1000 $' /tmp/ps.txt && found=\"$found sleeper\"",
  'for f in /work/src/left-src /tmp/left-tmp $HOME/left-home /dev/shm/left-shm; do [ -e $f ] && found="$found $f"; done',
  'if [ -n "$found" ]; then echo "found:$found"; exit 1; fi',
  "echo clean",
].join("\n");

suite("a job's sandboxes", () => {
  let docker: Docker;
  let repo: TestRepo;
  const testLabel = { "bisect-test": randomUUID() };
  const jobLabels = (job: string) => ({ ...testLabel, "bisect-test.job": job });
  // A new executor per run, as the farm makes one per step: the sandbox outlives each.
  const executorOf = (job: string, options: { idleMs?: number } = {}) =>
    new DockerExecutor(docker, {
      name: "h1",
      workspace: { key: `${testLabel["bisect-test"]}:${job}`, labels: jobLabels(job) },
      sandboxes: {
        key: `${testLabel["bisect-test"]}:${job}`,
        labels: jobLabels(job),
        owner: "test",
        ...options,
      },
    });
  const run = (job: string, overrides: SpecOverrides) =>
    runOnce(
      executorOf(job),
      specFor(repo, { ...overrides, labels: { ...jobLabels(job), ...overrides.labels } }),
    );
  const sandboxesOf = async (job: string) =>
    (
      await docker.listContainers({
        all: true,
        filters: JSON.stringify({
          label: [
            `bisect-test.job=${job}`,
            `bisect-test=${testLabel["bisect-test"]}`,
            SANDBOX_LABEL,
          ],
        }),
      })
    ).map((c) => c.Id);

  beforeAll(async () => {
    await ensureImageEverywhere(engines);
    docker = engines[0]!.docker;
    repo = makeRepo(3, 2);
  }, 900_000);

  afterAll(async () => {
    if (docker) await removeLabelled(docker, testLabel);
    if (repo) rmSync(repo.dir, { recursive: true, force: true });
  });

  it("gives the job's next run a clean sandbox, the same one, and another job its own", async () => {
    const tag = randomUUID();
    const env = { TAG: tag };
    const first = await run("a", { command: LEAVE_BEHIND, env, sha: repo.shas[0] });
    // The background process holding the output open does not keep the run going.
    expect(first).toMatchObject({ exitCode: 0, timedOut: false });
    expect(first.log).toContain("left");
    const [sandbox] = await sandboxesOf("a");
    expect(sandbox).toBeDefined();

    const other = await run("b", { command: CHECK_CLEAN, env, sha: repo.shas[0] });
    expect(other.log).toContain("clean");
    expect(other.exitCode).toBe(0);

    const next = await run("a", { command: CHECK_CLEAN, env, sha: repo.shas[1] });
    expect(next.log).toContain("clean");
    expect(next.exitCode).toBe(0);
    // The same sandbox, and the next commit's files in it.
    expect(await sandboxesOf("a")).toEqual([sandbox]);
    const version = await run("a", { command: "cat version.txt", sha: repo.shas[2] });
    expect(version.log.trim()).toBe("2");
    expect(await sandboxesOf("a")).toEqual([sandbox]);
    expect(await sandboxesOf("b")).toHaveLength(1);
    expect(await sandboxesOf("b")).not.toContain(sandbox);
  }, 180_000);

  it("keeps what outlives a run out of the run's reach: it can neither trace nor signal it", async () => {
    // Every process this run sees that is not its own ancestor: the sandbox's init and keeper.
    const probe = [
      "import ctypes, os, signal",
      "libc = ctypes.CDLL(None, use_errno=True)",
      "mine, p = set(), os.getpid()",
      "while p > 1:",
      "    mine.add(p)",
      "    p = int(open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1])",
      "others = [int(d) for d in os.listdir('/proc') if d.isdigit() and int(d) not in mine]",
      "traced = [q for q in others if libc.ptrace(16, q, 0, 0) == 0]",
      "signalled = []",
      "for q in others:",
      "    try:",
      "        os.kill(q, 0)",
      "        signalled.append(q)",
      "    except PermissionError:",
      "        pass",
      "print('others', len(others), 'traced', traced, 'signalled', signalled)",
    ].join("\n");
    const result = await run("g", { command: `python3 -c "${probe}"` });
    expect(result.log).toMatch(/^others [1-9]\d* traced \[\] signalled \[\]$/m);
  }, 120_000);

  it("stops a run at its timeout, an out-of-memory kill and a full disk, and the next run is unaffected", async () => {
    const timedOut = await run("c", { command: "sleep 1000 & sleep 1000", timeoutMs: 2_000 });
    expect(timedOut).toMatchObject({ timedOut: true, exitCode: null, signal: "SIGKILL" });
    const oom = await run("c", {
      command: "python3 -c 'a = bytearray(512 * 1024 * 1024); print(len(a))'",
      limits: { memoryBytes: 64 * 1024 * 1024 },
    });
    expect(oom.oomKilled).toBe(true);
    // A command that fails once it has filled its work directory is "disk full", not bad.
    const full = await run("c", {
      command: "trap '' XFSZ; dd if=/dev/zero of=/work/fill bs=1M count=100 2>&1; exit 1",
      limits: { workBytes: 16 * 1024 * 1024 },
    });
    expect(full.log).toMatch(/File too large/);
    expect(full).toMatchObject({ exitCode: 1, diskFull: true });
    const after = await run("c", {
      command: "echo fine",
      limits: { memoryBytes: 64 * 1024 * 1024 },
    });
    expect(after).toMatchObject({ exitCode: 0, oomKilled: false, timedOut: false });
  }, 180_000);

  it("counts a run's OOM kills from its wrapper, not from what the run prints, and keeps its line out of the log", async () => {
    const line = "bisect-run-end oom_kill 5 work_kib -";
    const forged = await run("h", { command: `echo out; printf '\\n${line}\\n'` });
    expect(forged).toMatchObject({ exitCode: 0, oomKilled: false });
    expect(forged.log).toBe(`out\n\n${line}\n`);
  }, 120_000);

  it("never runs a sandbox again that could not be made clean: the job's next run gets a new one", async () => {
    // A directory its owner cannot list cannot be removed by the settle.
    const stuck = await run("i", {
      command: "mkdir -p /dev/shm/stuck/in && chmod 0 /dev/shm/stuck && echo stuck",
    });
    expect(stuck).toMatchObject({ exitCode: 0 });
    const [first] = await sandboxesOf("i");
    expect(first).toBeDefined();
    const next = await run("i", { command: "ls -a /dev/shm" });
    expect(next.exitCode).toBe(0);
    expect(next.log).not.toContain("stuck");
    await expect.poll(() => sandboxesOf("i"), { timeout: 30_000, interval: 200 }).toHaveLength(1);
    expect(await sandboxesOf("i")).not.toContain(first);
  }, 120_000);

  it("runs an online setup and an offline test in a pair of sandboxes, kept for the next run", async () => {
    const tag = randomUUID();
    const spec = (command: string) => ({
      setup: `${LEAVE_BEHIND}\nexport FROM_SETUP=yes`,
      setupNetwork: true,
      command,
      env: { TAG: tag },
    });
    const first = await run("d", spec(`echo "setup=$FROM_SETUP"\n${CHECK_CLEAN}`));
    expect(first.log).toContain("setup=yes");
    // The setup's own files are there for its test (same work directory), its processes are not.
    expect(first.log).toMatch(/found: \/work\/src\/left-src \/tmp\/left-tmp \S+left-home\n/);
    expect(first.exitCode).toBe(1);
    const pair = await sandboxesOf("d");
    expect(pair).toHaveLength(2);
    const next = await run("d", {
      ...spec(""),
      setup: "true",
      command: `${CHECK_CLEAN}\ncat /sys/class/net/eth0/operstate 2>/dev/null || echo offline`,
    });
    expect(next.log).toContain("clean");
    expect(next.log).toContain("offline");
    expect((await sandboxesOf("d")).sort()).toEqual(pair.sort());
  }, 180_000);

  it("keeps a job's cache: paths in place after a setup that succeeded, and restores them from the cache after one that failed", async () => {
    const volume = `bisect-cache-test-kept-${randomUUID().slice(0, 8)}`;
    const build = 'mkdir -p build && echo "built-$(cat version.txt)" >> build/out';
    const step = (sha: string, setup: string) =>
      run("k", {
        sha,
        setup,
        command: "cat build/out",
        cacheVolume: volume,
        cachePaths: ["build"],
      });
    try {
      const first = await step(repo.shas[0]!, build);
      expect(first).toMatchObject({ exitCode: 0 });
      expect(first.log).toContain("built-0");
      // The next commit's setup builds on what the last one left, as on one machine.
      const kept = await step(repo.shas[1]!, build);
      expect(kept.log).toContain("build is kept from the last step run here");
      expect(kept.log).toMatch(/^built-0\nbuilt-1$/m);
      // A setup that fails leaves a state nobody should build on ...
      const failed = await step(repo.shas[2]!, "echo broken >> build/out; exit 1");
      expect(failed.exitCode).toBe(125);
      // ... so the next step starts from the cache's copy: the first step's, as a path kept in
      // place is not copied out again.
      const restored = await step(repo.shas[1]!, build);
      expect(restored.log).toContain("restored build from the cache");
      expect(restored.log).not.toContain("broken");
      expect(restored.log).toMatch(/^built-0\nbuilt-1$/m);
    } finally {
      await removeLabelled(docker, jobLabels("k"));
      await docker
        .getVolume(volume)
        .remove()
        .catch(() => {});
    }
  }, 180_000);

  it("fails a run whose test sandbox could not start as the engine's failure, not a verdict, and leaves nothing", async () => {
    // The pair's test sandbox starts while the setup runs. Here it is made to keep a command that
    // does not exist, so that its start really fails.
    const executor = executorOf("no-start");
    const patched = executor as unknown as {
      create: (plan: unknown, input: { Cmd: string[] }) => Promise<unknown>;
    };
    const create = patched.create.bind(executor);
    let made = 0;
    patched.create = (plan, input) =>
      create(plan, ++made === 2 ? { ...input, Cmd: ["/no/such/keeper"] } : input);
    const spec = { setup: "echo setup-ran", setupNetwork: true, command: "echo test-ran" };
    await expect(
      runOnce(executor, specFor(repo, { ...spec, labels: jobLabels("no-start") })),
    ).rejects.toThrow(/starting a sandbox on h1 failed/);
    expect(made).toBe(2);
    await expect
      .poll(() => sandboxesOf("no-start"), { timeout: 30_000, interval: 200 })
      .toEqual([]);
    // The job's next run gets a new pair.
    const again = await run("no-start", spec);
    expect(again).toMatchObject({ exitCode: 0 });
    expect(again.log).toContain("test-ran");
    expect(await sandboxesOf("no-start")).toHaveLength(2);
  }, 180_000);

  it("replaces a sandbox removed by a clean-up, and removes an idle one by itself", async () => {
    await run("e", { command: "true" });
    await removeLabelled(docker, jobLabels("e"));
    expect(await sandboxesOf("e")).toEqual([]);
    const again = await run("e", { command: "echo again" });
    expect(again).toMatchObject({ exitCode: 0 });
    expect(await sandboxesOf("e")).toHaveLength(1);

    const executor = executorOf("f", { idleMs: 200 });
    await runOnce(executor, specFor(repo, { labels: jobLabels("f"), command: "true" }));
    await expect.poll(() => sandboxesOf("f"), { timeout: 30_000, interval: 200 }).toEqual([]);
  }, 180_000);
});
