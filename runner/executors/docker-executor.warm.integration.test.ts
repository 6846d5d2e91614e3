// The Docker executor's warm pool against real engines (host 1 over its unix socket, a host over
// TLS): a warm run must give the same result as a cold one, keep the checkout-failure marker
// secret, never run two commands in one container, and leave nothing behind once closed. In CI
// (CI=true) an unreachable engine fails the suite; elsewhere it is skipped.
import { randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureRunnerImage } from "../image";
import { DockerExecutor } from "./docker-executor";
import { APP_LABEL, PID_LABEL, POOL_LABEL } from "../labels";
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
import { type RunResult, type RunSpec } from "./types";

const MiB = 1024 * 1024;
const engines = await enginesUnderTest();
const host1 = engines[0]?.docker;

for (const engine of engines) {
  if (engine.unavailable) {
    if (dockerRequired) {
      describe(`DockerExecutor warm pool on ${engine.name}`, () => {
        it("has a reachable Docker engine (required in CI)", () => {
          throw new Error(`Docker engine required in CI: ${engine.unavailable}`);
        });
      });
    } else {
      console.warn(`skipping warm pool tests on ${engine.name}: ${engine.unavailable}`);
      describe.skip(`DockerExecutor warm pool on ${engine.name} (skipped: ${engine.unavailable})`, () => {
        it("needs a Docker engine", () => {});
      });
    }
    continue;
  }
  describe(`DockerExecutor warm pool on ${engine.name}`, () =>
    warmSuite(engine.docker!, engine.docker === host1));
}

function warmSuite(docker: Docker, isHost1: boolean): void {
  const testLabel = { "bisect-test": randomUUID() };
  const name = isHost1 ? "host1" : "tls-host";
  let repo: TestRepo;
  const open: DockerExecutor[] = [];

  const spec = (overrides: SpecOverrides = {}): RunSpec =>
    specFor(repo, { ...overrides, labels: { ...testLabel, ...overrides.labels } });
  const pooled = (size = 1) => {
    const executor = new DockerExecutor(docker, { name, warmPool: { size, labels: testLabel } });
    open.push(executor);
    return executor;
  };
  const cold = () => {
    const executor = new DockerExecutor(docker, { name });
    open.push(executor);
    return executor;
  };
  const listed = async (labels: Record<string, string>) =>
    (
      await docker.listContainers({
        all: true,
        filters: JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) }),
      })
    ).map((c) => c.Id);
  /** Runs on a warm container (checked: it carries the pool's label) and returns its id too. */
  const warmRun = async (
    executor: DockerExecutor,
    overrides: SpecOverrides = {},
    signal?: AbortSignal,
  ): Promise<RunResult & { id: string }> => {
    const handle = await executor.prepare(spec(overrides));
    try {
      const info = await docker.getContainer(handle.id).inspect();
      expect(info.Config.Labels[POOL_LABEL]).toBe(executor.poolId);
      await executor.start(handle);
      return { ...(await executor.wait(handle, signal)), id: handle.id };
    } finally {
      await executor.destroy(handle);
    }
  };
  /**
   * The same command warm and cold: same exit, signal, flags and output (its lines: stdout and
   * stderr travel separately, so their interleaving may differ from one run to the next).
   */
  const sameAsCold = async (overrides: SpecOverrides = {}) => {
    const executor = pooled();
    await executor.warmUp(spec(overrides));
    const warm = await warmRun(executor, overrides);
    const reference = await runOnce(cold(), spec(overrides));
    const pick = ({
      exitCode,
      signal,
      timedOut,
      oomKilled,
      aborted,
      log,
      logTruncated,
    }: RunResult) => ({
      exitCode,
      signal,
      timedOut,
      oomKilled,
      aborted,
      lines: log.split("\n").sort(),
      logTruncated,
    });
    expect(pick(warm)).toEqual(pick(reference));
    await executor.close();
    return warm;
  };

  beforeAll(async () => {
    const source = !isHost1 && host1 ? host1 : undefined;
    if (source) await ensureRunnerImage(source);
    await ensureRunnerImage(docker, { source, networkMode: isHost1 ? undefined : "host" });
    repo = makeRepo(3, 2);
  }, 900_000);

  afterEach(async () => {
    await Promise.all(open.splice(0).map((e) => e.close()));
    expect(await listed(testLabel)).toEqual([]);
  });

  afterAll(async () => {
    await removeLabelled(docker, testLabel).catch(() => {});
    if (repo) rmSync(repo.dir, { recursive: true, force: true });
  });

  it("gives a cold run's results for a pass and a failure", async () => {
    const ok = await sameAsCold({ command: "echo hello; echo to-stderr >&2" });
    expect(ok).toMatchObject({ exitCode: 0, signal: null });
    expect(ok.log).toContain("hello\n");
    const bad = await sameAsCold({ command: "echo failing; exit 1" });
    expect(bad).toMatchObject({ exitCode: 1, log: "failing\n" });
  });

  it("checks out exactly the requested commit", async () => {
    const executor = pooled(2);
    await executor.warmUp(spec());
    for (const [i, sha] of repo.shas.entries()) {
      const r = await warmRun(executor, {
        sha,
        command: "git rev-parse HEAD; cat version.txt; git status --porcelain; sh check.sh",
      });
      expect(r.log).toBe(`${sha}\n${i}\n${i >= 2 ? "broken" : "fine"}\n`);
      expect(r.exitCode).toBe(i >= 2 ? 1 : 0);
    }
  });

  it("passes multi-line commands and setups with quotes, backslashes and newlines intact", async () => {
    const command = [
      `printf '%s\\n' "it's \\"quoted\\"" 'back\\slash $HOME'`,
      "cat <<'EOF'",
      "  indented 'single' \"double\" `tick` $(not run)",
      "EOF",
      "",
      "echo last; exit 7",
      "",
      "",
    ].join("\n");
    const setup = "echo 'set up'\necho \"two\" > /work/setup.txt\n";
    const r = await sameAsCold({ command, setup });
    expect(r.exitCode).toBe(7);
    expect(r.log).toBe(
      'set up\nit\'s "quoted"\nback\\slash $HOME\n  indented \'single\' "double" `tick` $(not run)\nlast\n',
    );
    // The command's stdin is empty, as in a cold container: nothing of the assignment is left.
    const stdin = await sameAsCold({ command: "cat; echo stdin-done" });
    expect(stdin.log).toBe("stdin-done\n");
  });

  it("exits 125 when the setup fails", async () => {
    const r = await sameAsCold({ setup: "echo compiling; exit 4", command: "echo never" });
    expect(r.exitCode).toBe(SETUP_FAILED_EXIT);
    expect(r.log).toContain("setup failed with exit code 4");
    expect(r.log).not.toContain("never");
  });

  it("treats a failed checkout as an infrastructure error, and the command cannot imitate it", async () => {
    const executor = pooled();
    await executor.warmUp(spec());
    const missing = "0123456789abcdef0123456789abcdef01234567";
    const err = await runOnce(executor, spec({ sha: missing })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfrastructureError);
    expect((err as Error).message).toMatch(/checkout of 0123456789abcdef.* failed/);
    const imitation = await warmRun(executor, { command: "echo checkout failed; exit 213" });
    expect(imitation.exitCode).toBe(213);
  });

  it("reports a mirror that cannot be cloned as an infrastructure error before any run", async () => {
    const empty = mkdtempSync(path.join(tmpdir(), "bisect-not-a-repo-"));
    chmodSync(empty, 0o755);
    try {
      const executor = pooled();
      const notARepo = { repo: { kind: "host-path" as const, path: empty } };
      await executor.warmUp(spec(notARepo));
      // The checkout box clones before any container is made for the run.
      const err = await executor
        .prepare(spec({ ...notARepo, command: "echo never" }))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InfrastructureError);
      expect((err as Error).message).toMatch(/checkout of .* failed.*repository/is);
      expect((err as Error).message).not.toContain("bisect-runner-checkout-failed");
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("keeps the marker out of the command's sight (/proc of every process)", async () => {
    const executor = pooled();
    await executor.warmUp(spec());
    const handle = await executor.prepare(
      spec({
        command:
          "for f in /proc/[0-9]*/cmdline /proc/[0-9]*/environ; do tr '\\0' ' ' < $f 2>/dev/null; echo; done; " +
          "cat /proc/1/cmdline | tr '\\0' ' '; echo",
      }),
    );
    try {
      const info = await docker.getContainer(handle.id).inspect();
      const marker = info.Config.Cmd.find((a) => a.startsWith("bisect-runner-checkout-failed-"));
      expect(marker).toMatch(/^bisect-runner-checkout-failed-[0-9a-f]{32}$/);
      await executor.start(handle);
      const r = await executor.wait(handle);
      expect(r.exitCode).toBe(0);
      expect(r.log).toContain("bisect-run"); // it did read the processes' command lines
      expect(r.log).not.toContain(marker!);
      expect(r.log).not.toContain("bisect-runner-checkout-failed");
    } finally {
      await executor.destroy(handle);
    }
  });

  it("kills at the timeout counted from the assignment, and reports the command's own time", async () => {
    const executor = pooled();
    await executor.warmUp(spec());
    // The warm container has been running for a while before its run is given.
    await new Promise((r) => setTimeout(r, 1_500));
    const started = Date.now();
    const r = await warmRun(executor, { command: "echo sleeping; sleep 1000", timeoutMs: 2_000 });
    const elapsed = Date.now() - started;
    expect(r).toMatchObject({ timedOut: true, exitCode: null, signal: "SIGKILL", aborted: false });
    expect(r.log).toBe("sleeping\n");
    expect(elapsed).toBeGreaterThanOrEqual(2_000);
    // The clock starts when the run is given, not when the container was warmed: the run's
    // duration fits inside what this test measured from the hand-over, whatever the machine's speed.
    expect(r.durationMs).toBeGreaterThanOrEqual(2_000);
    expect(r.durationMs).toBeLessThanOrEqual(elapsed);

    const handedOver = Date.now();
    const quick = await warmRun(executor, { command: "sleep 1" });
    expect(quick.exitCode).toBe(0);
    expect(quick.durationMs).toBeGreaterThanOrEqual(1_000);
    expect(quick.durationMs).toBeLessThanOrEqual(Date.now() - handedOver);
  });

  it("kills the run when the abort signal fires", async () => {
    const executor = pooled();
    await executor.warmUp(spec());
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 1_000);
    const r = await warmRun(executor, { command: "sleep 1000" }, controller.signal);
    expect(r).toMatchObject({ aborted: true, timedOut: false, exitCode: null, signal: "SIGKILL" });
  });

  it("reports an out-of-memory kill", async () => {
    const overrides: SpecOverrides = {
      command: "python3 -c \"b = bytearray(512 * 1024 * 1024); print('allocated', len(b))\"",
      limits: { memoryBytes: 64 * MiB },
    };
    const r = await sameAsCold(overrides);
    expect(r.oomKilled).toBe(true);
    expect(r.log).not.toContain("allocated");
  });

  it("never runs two commands in one container: each run gets a fresh one, removed after", async () => {
    const executor = pooled(1);
    await executor.warmUp(spec());
    const first = await warmRun(executor, { command: "touch /work/used; echo one" });
    const second = await warmRun(executor, { command: "ls /work/used 2>&1 || echo fresh" });
    expect(first.log).toBe("one\n");
    expect(second.log).toContain("fresh");
    expect(second.id).not.toBe(first.id);
    await expect(docker.getContainer(first.id).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
    await expect(docker.getContainer(second.id).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it("makes warm containers exactly as hardened as cold ones, with the pool's labels", async () => {
    const executor = pooled(1);
    const limits = { pids: 99, nanoCpus: 500_000_000 };
    await executor.warmUp(spec({ limits }));
    const warmHandle = await executor.prepare(spec({ labels: { job: "42", step: "7" }, limits }));
    const coldExecutor = cold();
    const coldHandle = await coldExecutor.prepare(
      spec({ labels: { job: "42", step: "7" }, limits }),
    );
    try {
      const warm = await docker.getContainer(warmHandle.id).inspect();
      const reference = await docker.getContainer(coldHandle.id).inspect();
      expect(warm.Config.Labels).toMatchObject({
        ...testLabel,
        ...APP_LABEL,
        [POOL_LABEL]: executor.poolId,
        [PID_LABEL]: String(process.pid),
      });
      expect(warm.Config.Labels.step).toBeUndefined();
      const hc = warm.HostConfig;
      expect(hc.PidsLimit).toBe(99);
      expect(hc.NanoCpus).toBe(500_000_000);
      for (const field of [
        "CapDrop",
        "SecurityOpt",
        "ReadonlyRootfs",
        "Tmpfs",
        "Memory",
        "MemorySwap",
        "NanoCpus",
        "PidsLimit",
        "Ulimits",
        "OomScoreAdj",
        "NetworkMode",
        "LogConfig",
        "AutoRemove",
        "Privileged",
      ] as const) {
        expect(hc[field], field).toEqual(reference.HostConfig[field]);
      }
      // The same mounts, but for the name of each run's own work directory.
      const runDirs = (mounts: unknown) =>
        JSON.stringify(mounts)
          .replace(/run-[0-9a-f]{16}/g, "run-*")
          .replace(/volumes\/[0-9a-f]{64}/g, "volumes/*");
      expect(runDirs(hc.Mounts)).toEqual(runDirs(reference.HostConfig.Mounts));
      for (const field of [
        "Image",
        "User",
        "WorkingDir",
        "Env",
        "Hostname",
        "Entrypoint",
      ] as const) {
        expect(warm.Config[field], field).toEqual(reference.Config[field]);
      }
    } finally {
      await executor.destroy(warmHandle);
      await coldExecutor.destroy(coldHandle);
    }
  });

  it("falls back to a cold container for a spec of another kind", async () => {
    const executor = pooled(1);
    await executor.warmUp(spec());
    const other = await executor.prepare(
      spec({ labels: { job: "cold" }, limits: { memoryBytes: 128 * MiB } }),
    );
    try {
      const info = await docker.getContainer(other.id).inspect();
      expect(info.Config.Labels[POOL_LABEL]).toBeUndefined();
      expect(info.Config.Labels.job).toBe("cold");
      expect(info.HostConfig.Memory).toBe(128 * MiB);
      await executor.start(other);
      expect((await executor.wait(other)).exitCode).toBe(0);
    } finally {
      await executor.destroy(other);
    }
    // The pool still serves its own kind.
    expect((await warmRun(executor, { command: "echo warm" })).log).toBe("warm\n");
  });

  it("close() removes every container of the pool, is idempotent, and later runs go cold", async () => {
    const executor = pooled(3);
    await executor.warmUp(spec());
    const poolLabel = { [POOL_LABEL]: executor.poolId };
    expect(await listed(poolLabel)).toHaveLength(3);
    // A run in use survives the close; its own destroy removes it.
    const handle = await executor.prepare(spec({ command: "echo in-use" }));
    await executor.close();
    await executor.drain();
    expect(await listed(poolLabel)).toEqual([handle.id]);
    await executor.start(handle);
    expect((await executor.wait(handle)).log).toBe("in-use\n");
    await executor.destroy(handle);
    expect(await listed(poolLabel)).toEqual([]);
    const after = await runOnce(executor, spec({ command: "echo cold" }));
    expect(after.log).toBe("cold\n");
    expect(await listed(poolLabel)).toEqual([]);
  });

  it("fills the pool lazily from the first run, and closing right away leaves nothing", async () => {
    const executor = pooled(2);
    const r = await warmRun(executor, { command: "echo first" });
    expect(r.log).toBe("first\n");
    await executor.close();
    expect(await listed({ [POOL_LABEL]: executor.poolId })).toEqual([]);
    // Closing while containers are still being made.
    const racing = pooled(3);
    void racing.warmUp(spec());
    await racing.close();
    expect(await listed({ [POOL_LABEL]: racing.poolId })).toEqual([]);
  });

  it("falls back to a cold run when the pool cannot make containers", async () => {
    const executor = pooled(1);
    await executor.warmUp(spec({ image: "bisect-runner:no-such-tag" }));
    await expect(runOnce(executor, spec({ image: "bisect-runner:no-such-tag" }))).rejects.toThrow(
      /not on/,
    );
  });
}
