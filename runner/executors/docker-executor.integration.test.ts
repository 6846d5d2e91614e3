// The Docker executor against real engines: host 1 over its unix socket and a host over TLS.
// Hostile commands must be contained, classified, leave no container behind and leave the engine
// healthy. In CI (CI=true) an unreachable engine fails the suite; elsewhere it is skipped.
import { randomUUID } from "node:crypto";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import net from "node:net";
import type Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connectDocker } from "../docker/connect";
import { ensureRunnerImage } from "../image";
import { TOOL_CACHES } from "./container-recipe";
import { DockerExecutor } from "./docker-executor";
import { APP_LABEL } from "../labels";
import { removeLabelled } from "./removal";
import { SETUP_FAILED_EXIT } from "./run-script";
import { runOnce } from "./run-once";
import {
  dockerRequired,
  enginesUnderTest,
  makeRepo,
  type SpecOverrides,
  specFor,
  type TestRepo,
} from "./test-support";
import { InfrastructureError } from "../errors";
import { type RunSpec } from "./types";
import { classifyRun } from "../engine/verdict";

const MiB = 1024 * 1024;
const engines = await enginesUnderTest();
const host1 = engines[0]?.docker;

for (const engine of engines) {
  if (engine.unavailable) {
    if (dockerRequired) {
      describe(`DockerExecutor on ${engine.name}`, () => {
        it("has a reachable Docker engine (required in CI)", () => {
          throw new Error(`Docker engine required in CI: ${engine.unavailable}`);
        });
      });
    } else {
      console.warn(`skipping DockerExecutor tests on ${engine.name}: ${engine.unavailable}`);
      describe.skip(`DockerExecutor on ${engine.name} (skipped: ${engine.unavailable})`, () => {
        it("needs a Docker engine", () => {});
      });
    }
    continue;
  }
  describe(`DockerExecutor on ${engine.name}`, () =>
    engineSuite(engine.docker!, engine.docker === host1));
}

function engineSuite(docker: Docker, isHost1: boolean): void {
  const testLabel = { "bisect-test": randomUUID() };
  let executor: DockerExecutor;
  let repo: TestRepo;

  const spec = (overrides: SpecOverrides = {}): RunSpec =>
    specFor(repo, { ...overrides, labels: { ...testLabel, ...overrides.labels } });
  const run = (overrides: SpecOverrides = {}, signal?: AbortSignal) =>
    runOnce(executor, spec(overrides), signal);
  const leftovers = () =>
    docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`bisect-test=${testLabel["bisect-test"]}`] }),
    });

  beforeAll(async () => {
    // Build on host 1 (apt-get through its bridge); other hosts get a copy, or build with host networking.
    const source = !isHost1 && host1 ? host1 : undefined;
    if (source) await ensureRunnerImage(source);
    await ensureRunnerImage(docker, { source, networkMode: isHost1 ? undefined : "host" });
    executor = new DockerExecutor(docker, { name: isHost1 ? "host1" : "tls-host" });
    repo = makeRepo(3, 2);
  }, 900_000);

  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  afterAll(async () => {
    await executor?.close();
    await removeLabelled(docker, testLabel).catch(() => {});
    if (repo) rmSync(repo.dir, { recursive: true, force: true });
  });

  async function expectHealthy(): Promise<void> {
    await docker.ping();
    const r = await run({ command: "echo still-here" });
    expect(r.exitCode).toBe(0);
    expect(r.log).toBe("still-here\n");
  }

  it("reports exit 0 and exit 1 with the output", async () => {
    const ok = await run({ command: "echo hello; echo to-stderr >&2" });
    expect(ok).toMatchObject({
      exitCode: 0,
      signal: null,
      timedOut: false,
      oomKilled: false,
      aborted: false,
      logTruncated: false,
    });
    expect(ok.log).toContain("hello\n");
    expect(ok.log).toContain("to-stderr\n");
    expect(ok.durationMs).toBeGreaterThanOrEqual(0);

    const bad = await run({ command: "echo failing; exit 1" });
    expect(bad).toMatchObject({ exitCode: 1, signal: null, timedOut: false });
    expect(bad.log).toBe("failing\n");
  });

  it("checks out exactly the requested commit", async () => {
    for (const [i, sha] of repo.shas.entries()) {
      const r = await run({
        sha,
        command: "git rev-parse HEAD; cat version.txt; git status --porcelain; sh check.sh",
      });
      expect(r.log).toBe(`${sha}\n${i}\n${i >= 2 ? "broken" : "fine"}\n`);
      expect(r.exitCode).toBe(i >= 2 ? 1 : 0);
    }
  });

  it("runs the setup first and exits 125 when the setup fails", async () => {
    const r = await run({ setup: "echo built > /work/artifact", command: "cat /work/artifact" });
    expect(r).toMatchObject({ exitCode: 0, log: "built\n" });
    const failed = await run({ setup: "echo compiling; exit 4", command: "echo never" });
    expect(failed.exitCode).toBe(SETUP_FAILED_EXIT);
    expect(failed.log).toContain("setup failed with exit code 4");
    expect(failed.log).not.toContain("never");
  });

  it("hands the run's env and the setup's exports to the command; a multi-line setup stops at its first failure", async () => {
    const r = await run({
      env: { GREETING: "hello world", CI: "true" },
      setup:
        'mkdir -p /work/bin\nprintf "#!/bin/sh\\necho tool ran\\n" > /work/bin/tool\nchmod +x /work/bin/tool\nexport PATH="/work/bin:$PATH" BUILT="by setup"\necho "setup sees $GREETING"',
      command: 'echo "$GREETING/$CI/$BUILT"; tool',
    });
    expect(r).toMatchObject({ exitCode: 0 });
    expect(r.log).toBe("setup sees hello world\nhello world/true/by setup\ntool ran\n");
    const stopped = await run({ setup: "echo one\nfalse\necho two", command: "echo never" });
    expect(stopped.exitCode).toBe(SETUP_FAILED_EXIT);
    expect(stopped.log).toContain("one\n");
    expect(stopped.log).not.toContain("two");
  });

  it("treats a failed checkout as an infrastructure error, not a verdict", async () => {
    const missing = "0123456789abcdef0123456789abcdef01234567";
    const err = await run({ sha: missing }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfrastructureError);
    expect((err as Error).message).toMatch(/checkout of 0123456789abcdef.* failed/);
    // The command cannot imitate it: exiting with the same code is just a bad verdict.
    const imitation = await run({ command: "echo checkout failed; exit 213" });
    expect(imitation.exitCode).toBe(213);
  });

  it("fails clearly when the image is missing or the mirror path does not exist", async () => {
    await expect(run({ image: "bisect-runner:no-such-tag" })).rejects.toThrow(InfrastructureError);
    await expect(run({ image: "bisect-runner:no-such-tag" })).rejects.toThrow(/not on/);
    await expect(run({ repo: { kind: "host-path", path: "/nonexistent/mirror" } })).rejects.toThrow(
      InfrastructureError,
    );
  });

  it("runs as uid 1000 with no capabilities and no-new-privileges", async () => {
    const r = await run({
      command:
        "id -u; id -g; grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status",
    });
    const lines = r.log.trim().split("\n");
    expect(lines[0]).toBe("1000");
    expect(lines[1]).toBe("1000");
    for (const cap of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]) {
      expect(r.log).toMatch(new RegExp(`${cap}:\\s+0000000000000000`));
    }
    expect(r.log).toMatch(/NoNewPrivs:\s+1/);
  });

  it("passes only PATH, HOME, the tools' caches and the spec's variables — never the caller's secrets", async () => {
    process.env.BISECT_FAKE_TOKEN = "ghs_fakeTokenThatMustNotLeak123";
    try {
      const r = await run({ command: "env", env: { REPO_SETTING: "on" } });
      expect(r.exitCode).toBe(0);
      expect(r.log).not.toContain("BISECT_FAKE_TOKEN");
      expect(r.log).not.toContain("ghs_fakeTokenThatMustNotLeak123");
      const names = r.log
        .trim()
        .split("\n")
        .map((l) => l.split("=")[0]);
      expect(names).toContain("REPO_SETTING");
      expect(r.log).toContain("HOME=/work\n");
      expect(r.log).toContain("CARGO_HOME=/work/.cargo\n");
      // Set by the engine or the shell itself, nothing else.
      expect(
        names.filter(
          (n) =>
            ![
              "PATH",
              "HOME",
              "REPO_SETTING",
              "HOSTNAME",
              "PWD",
              "OLDPWD",
              "SHLVL",
              ...Object.keys(TOOL_CACHES),
            ].includes(n!),
        ),
      ).toEqual([]);
    } finally {
      delete process.env.BISECT_FAKE_TOKEN;
    }
  });

  it("keeps the root file system and the mirror read-only", async () => {
    const targets = [
      "/etc/evil",
      "/usr/bin/evil",
      "/evil",
      "/mirror/evil",
      "/mirror/.git/evil",
      "/mirror/version.txt",
    ];
    const r = await run({
      command:
        `for p in ${targets.join(" ")}; do if ( : > "$p" ) 2>/dev/null; then echo "WROTE $p"; else echo "denied $p"; fi; done; ` +
        "echo x >> /mirror/.git/config 2>/dev/null && echo WROTE-config; echo ok > /work/fine && echo work-writable; " +
        "echo ok > /tmp/fine && echo tmp-writable; grep -E ' /(mirror|work|tmp) ' /proc/mounts | cut -d' ' -f2-4",
    });
    for (const t of targets) expect(r.log).toContain(`denied ${t}\n`);
    expect(r.log).not.toContain("WROTE");
    expect(r.log).toContain("work-writable");
    expect(r.log).toContain("tmp-writable");
    expect(r.log).toMatch(/\/mirror \S+ ro,/);
    // The work directory and /tmp are on the engine's disk, not in memory.
    expect(r.log).toMatch(/\/work \S+ rw,/);
    expect(r.log).toMatch(/\/tmp \S+ rw,/);
    expect(r.log).not.toMatch(/\/(work|tmp) tmpfs/);
  });

  it("has no network: neither the host's loopback nor the outside world", async () => {
    const server = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    let connections = 0;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const probe = (host: string, p: number) =>
        `python3 -c "import socket
try:
    socket.create_connection(('${host}', ${p}), timeout=3); print('${host} CONNECTED')
except OSError as e:
    print('${host} refused:', e)"`;
      const r = await run({
        command: `${probe("127.0.0.1", port)}; ${probe("1.1.1.1", 443)}; cat /proc/net/route | wc -l`,
      });
      expect(r.log).toMatch(/127\.0\.0\.1 refused:/);
      expect(r.log).toMatch(/1\.1\.1\.1 refused:.*(unreachable|Network)/i);
      expect(r.log).not.toContain("CONNECTED");
      expect(connections).toBe(0);
    } finally {
      server.close();
    }
  });

  it("contains a fork bomb with the pids limit and still finishes", async () => {
    const r = await run({
      command: "bomb() { bomb | bomb & }; bomb; sleep 2; echo done-waiting",
      limits: { pids: 64 },
      timeoutMs: 15_000,
    });
    expect(r.oomKilled).toBe(false);
    // Either the shell could not fork any more, or the bomb ran into the wall-clock timeout.
    expect(r.timedOut || /fork|Resource temporarily unavailable/i.test(r.log)).toBe(true);
    await expectHealthy();
  }, 40_000);

  it("reports an out-of-memory kill", async () => {
    const r = await run({
      command: "python3 -c \"b = bytearray(512 * 1024 * 1024); print('allocated', len(b))\"",
      limits: { memoryBytes: 64 * MiB },
    });
    expect(r.oomKilled).toBe(true);
    expect(r.log).not.toContain("allocated");
    expect(r.timedOut).toBe(false);
    await expectHealthy();
  });

  it("kills a command at the wall-clock timeout, and not before it", async () => {
    const started = Date.now();
    const r = await run({ command: "echo sleeping; sleep 1000", timeoutMs: 2_000 });
    const elapsed = Date.now() - started;
    expect(r).toMatchObject({ timedOut: true, exitCode: null, signal: "SIGKILL", aborted: false });
    expect(r.log).toBe("sleeping\n");
    // Not before its time (how soon after is for benchmarks, not for a test on a busy machine).
    expect(elapsed).toBeGreaterThanOrEqual(2_000);
  });

  it("stops a run that fills its work dir (or /tmp) and reports it as disk full, a skip", async () => {
    const limits = { workBytes: 16 * MiB, memoryBytes: 256 * MiB };
    // Many files: the size watch stops the run.
    const many = await run({
      command:
        "i=0; while :; do i=$((i+1)); dd if=/dev/zero of=/tmp/f$i bs=1M count=1 2>/dev/null; done",
      limits,
    });
    expect(many).toMatchObject({ diskFull: true, oomKilled: false, timedOut: false });
    expect(classifyRun(many)).toEqual({ verdict: "skip", reason: "disk full" });
    // One file cannot outgrow the limit; a command that then fails is not called bad.
    const one = await run({
      command:
        "trap '' XFSZ; dd if=/dev/zero of=/work/fill bs=1M count=100 2>&1; stat -c 'size=%s' /work/fill; exit 1",
      limits,
    });
    expect(one.log).toMatch(/File too large/);
    expect(Number(/size=(\d+)/.exec(one.log)?.[1])).toBeLessThanOrEqual(16 * MiB);
    expect(one).toMatchObject({ diskFull: true, exitCode: 1 });
    expect(classifyRun(one).verdict).toBe("skip");
    // Below the limit nothing is flagged.
    const fine = await run({
      command: "dd if=/dev/zero of=/work/f bs=1M count=4 2>/dev/null; exit 1",
      limits,
    });
    expect(fine).toMatchObject({ diskFull: false, exitCode: 1 });
  });

  it("keeps the tail of a large output", async () => {
    const r = await run({ command: "seq 1 100000; echo THE-END", logLimitBytes: 1_000 });
    expect(r.logTruncated).toBe(true);
    expect(Buffer.byteLength(r.log)).toBeLessThanOrEqual(1_000);
    expect(r.log.endsWith("100000\nTHE-END\n")).toBe(true);
  });

  it("kills the run when the abort signal fires", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 1_000);
    const r = await run({ command: "sleep 1000" }, controller.signal);
    expect(r).toMatchObject({ aborted: true, timedOut: false, exitCode: null, signal: "SIGKILL" });
  });

  it("labels the hardened container, and destroy is idempotent and safe", async () => {
    const handle = await executor.prepare(
      spec({ labels: { job: "42", step: "7" }, limits: { pids: 99, nanoCpus: 500_000_000 } }),
    );
    const info = await docker.getContainer(handle.id).inspect();
    expect(info.Config.Labels).toMatchObject({ ...testLabel, job: "42", step: "7", ...APP_LABEL });
    expect(info.Config.User).toBe("1000:1000");
    const hc = info.HostConfig;
    expect(hc.CapDrop).toEqual(["ALL"]);
    expect(hc.SecurityOpt).toEqual(["no-new-privileges"]);
    expect(hc.ReadonlyRootfs).toBe(true);
    expect(hc.NetworkMode).toBe("none");
    expect(hc.Memory).toBe(256 * MiB);
    expect(hc.MemorySwap).toBe(256 * MiB);
    expect(hc.PidsLimit).toBe(99);
    expect(hc.NanoCpus).toBe(500_000_000);
    expect(hc.AutoRemove).toBe(false);
    expect(info.Mounts.map((m) => m.Destination)).toEqual(
      expect.arrayContaining(["/mirror", "/work", "/tmp"]),
    );
    await executor.destroy(handle);
    await executor.destroy(handle);
    await executor.destroy({ id: "0".repeat(64) });
    await expect(docker.getContainer(handle.id).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it("removes every container with given labels (reaper)", async () => {
    const a = await executor.prepare(spec({ labels: { job: "reap-me" } }));
    const b = await executor.prepare(spec({ labels: { job: "reap-me" } }));
    const keep = await executor.prepare(spec({ labels: { job: "keep-me" } }));
    await executor.start(a);
    const removed = await removeLabelled(docker, { ...testLabel, job: "reap-me" });
    expect(removed.sort()).toEqual([a.id, b.id].sort());
    await expect(docker.getContainer(keep.id).inspect()).resolves.toBeTruthy();
    await executor.destroy(keep);
    await executor.destroy(a); // already reaped: still fine
    await executor.destroy(b); // (and gives back its work directory)
  });

  it("checks out from a mirror volume, whole or by subpath", async () => {
    const suffix = testLabel["bisect-test"].slice(0, 8);
    const whole = `bisect-test-whole-${suffix}`;
    const shared = `bisect-test-shared-${suffix}`;
    // Its own executor: the checkout boxes it makes mount the mirrors until it is closed.
    const onVolumes = new DockerExecutor(docker, { name: "volumes" });
    const run = (overrides: SpecOverrides = {}) => runOnce(onVolumes, spec(overrides));
    await docker.createVolume({ Name: whole, Labels: testLabel });
    await docker.createVolume({ Name: shared, Labels: testLabel });
    try {
      // Fill the volumes the way the farm's fetch step would: bare mirrors written by root.
      const filler = await docker.createContainer({
        Image: "bisect-runner:latest",
        User: "0:0",
        Cmd: [
          "sh",
          "-c",
          "git clone -q --mirror /src /whole && git clone -q --mirror /src /shared/one.git && git clone -q --mirror /src /shared/two.git",
        ],
        Labels: testLabel,
        HostConfig: {
          NetworkMode: "none",
          Mounts: [
            { Type: "bind", Source: repo.dir, Target: "/src", ReadOnly: true },
            { Type: "volume", Source: whole, Target: "/whole" },
            { Type: "volume", Source: shared, Target: "/shared" },
          ],
        },
      });
      await filler.start();
      expect((await filler.wait()).StatusCode).toBe(0);
      await filler.remove({ force: true });

      const sha = repo.shas[1]!;
      const fromWhole = await run({
        sha,
        repo: { kind: "volume", name: whole },
        command: "git rev-parse HEAD; cat version.txt",
      });
      expect(fromWhole.log).toBe(`${sha}\n1\n`);
      const bySubpath = await run({
        sha,
        repo: { kind: "volume", name: shared, subpath: "one.git" },
        command: "git rev-parse HEAD; ls /mirror",
      });
      expect(bySubpath.log).toContain(`${sha}\n`);
      // Only this repository's mirror is visible, not its neighbours in the volume.
      expect(bySubpath.log).not.toContain("two.git");
      expect(bySubpath.log).toContain("objects");
      await expect(
        run({ repo: { kind: "volume", name: shared, subpath: "../etc" } }),
      ).rejects.toThrow(/subpath/);
      await expect(run({ repo: { kind: "volume", name: `${whole}-absent` } })).rejects.toThrow(
        /does not exist/,
      );
    } finally {
      await onVolumes.close();
      await removeLabelled(docker, testLabel);
      await docker.getVolume(whole).remove({ force: true });
      await docker.getVolume(shared).remove({ force: true });
    }
  });

  it("reports an unreachable engine as an infrastructure error", async () => {
    const nowhere = new DockerExecutor(connectDocker("unix:///nonexistent/docker.sock"));
    await expect(nowhere.prepare(spec())).rejects.toThrow(InfrastructureError);
  });

  it("stays healthy with nothing left behind", async () => {
    await expectHealthy();
    expect(await leftovers()).toEqual([]);
    // The only host-side trace of a run is its container, and it is gone.
    expect(
      execFileSync("git", ["-C", repo.dir, "status", "--porcelain"], { encoding: "utf8" }),
    ).toBe("");
  });
}
