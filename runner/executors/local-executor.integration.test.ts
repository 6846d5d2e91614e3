// The local executor with real git repositories and real child processes.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalExecutor } from "./local-executor";
import { runOnce } from "./run-once";
import { makeRepo, specFor, type TestRepo } from "./test-support";
import { InfrastructureError } from "../errors";

let repo: TestRepo;
let tmpRoot: string;
let executor: LocalExecutor;

beforeAll(async () => {
  repo = makeRepo(3, 2);
  tmpRoot = await mkdtemp(path.join(tmpdir(), "bisect-local-"));
  executor = new LocalExecutor({ tmpRoot });
});

afterAll(() => {
  rmSync(repo.dir, { recursive: true, force: true });
  rmSync(tmpRoot, { recursive: true, force: true });
});

/** Running (a zombie waiting for an init that does not reap counts as dead). */
const processAlive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
};

describe("LocalExecutor", () => {
  it("checks out the requested commit and reports the exit code with the output", async () => {
    for (const [i, sha] of repo.shas.entries()) {
      const r = await runOnce(
        executor,
        specFor(repo, { sha, command: "git rev-parse HEAD; cat version.txt; sh check.sh" }),
      );
      expect(r.log).toBe(`${sha}\n${i}\n${i >= 2 ? "broken" : "fine"}\n`);
      expect(r).toMatchObject({
        exitCode: i >= 2 ? 1 : 0,
        signal: null,
        timedOut: false,
        aborted: false,
        oomKilled: false,
      });
    }
    expect(readdirSync(tmpRoot)).toEqual([]);
    // The source repository was only read.
    expect(
      execFileSync("git", ["-C", repo.dir, "status", "--porcelain"], { encoding: "utf8" }),
    ).toBe("");
    expect(
      execFileSync("git", ["-C", repo.dir, "worktree", "list"], { encoding: "utf8" })
        .trim()
        .split("\n"),
    ).toHaveLength(1);
  });

  it("runs the setup first, and exits 125 when it fails", async () => {
    const ok = await runOnce(
      executor,
      specFor(repo, { setup: "echo built > artifact", command: "cat artifact" }),
    );
    expect(ok).toMatchObject({ exitCode: 0, log: "built\n" });
    const failed = await runOnce(
      executor,
      specFor(repo, { setup: "exit 3", command: "echo never" }),
    );
    expect(failed.exitCode).toBe(125);
    expect(failed.log).toContain("setup failed with exit code 3");
  });

  it("hands the setup's exports and the spec's env to the command", async () => {
    const r = await runOnce(
      executor,
      specFor(repo, {
        env: { GREETING: "hi" },
        setup: 'export BUILT="by setup" PATH="/opt/none:$PATH"\necho "$GREETING"',
        command: 'echo "$BUILT"; case "$PATH" in /opt/none:*) echo prepended;; esac',
      }),
    );
    expect(r).toMatchObject({ exitCode: 0, log: "hi\nby setup\nprepended\n" });
  });

  it("passes only PATH, HOME and the spec's variables", async () => {
    process.env.BISECT_FAKE_TOKEN = "ghs_localSecret";
    try {
      const r = await runOnce(
        executor,
        specFor(repo, { command: "env", env: { ONLY_THIS: "yes" } }),
      );
      expect(r.log).toContain("ONLY_THIS=yes");
      expect(r.log).not.toContain("ghs_localSecret");
      expect(r.log).not.toContain("BISECT_FAKE_TOKEN");
    } finally {
      delete process.env.BISECT_FAKE_TOKEN;
    }
  });

  it("kills the whole process group at the timeout", async () => {
    const started = Date.now();
    // The command leaves a grandchild in the background and then blocks.
    const r = await runOnce(
      executor,
      specFor(repo, { command: "sleep 1000 & echo child=$!; sleep 1000", timeoutMs: 1_000 }),
    );
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(r).toMatchObject({ timedOut: true, exitCode: null, signal: "SIGKILL" });
    const child = Number(/child=(\d+)/.exec(r.log)?.[1]);
    expect(child).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(processAlive(child)).toBe(false);
  });

  it("ends background processes when the command exits", async () => {
    const r = await runOnce(
      executor,
      specFor(repo, { command: "sleep 1000 >/dev/null 2>&1 & echo child=$!" }),
    );
    expect(r.exitCode).toBe(0);
    const child = Number(/child=(\d+)/.exec(r.log)?.[1]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(processAlive(child)).toBe(false);
  });

  it("kills the run on abort", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const r = await runOnce(executor, specFor(repo, { command: "sleep 1000" }), controller.signal);
    expect(r).toMatchObject({ aborted: true, timedOut: false, exitCode: null, signal: "SIGKILL" });
  });

  it("keeps the tail of a large output", async () => {
    const r = await runOnce(
      executor,
      specFor(repo, { command: "seq 1 100000; echo THE-END", logLimitBytes: 500 }),
    );
    expect(r.logTruncated).toBe(true);
    expect(Buffer.byteLength(r.log)).toBeLessThanOrEqual(500);
    expect(r.log.endsWith("100000\nTHE-END\n")).toBe(true);
  });

  it("destroy is idempotent and removes the temporary checkout", async () => {
    const handle = await executor.prepare(specFor(repo));
    const dirs = readdirSync(tmpRoot);
    expect(dirs).toHaveLength(1);
    await executor.start(handle);
    await executor.destroy(handle); // before wait: kills and cleans up
    await executor.destroy(handle);
    await executor.destroy({ id: "never-existed" });
    expect(existsSync(path.join(tmpRoot, dirs[0]!))).toBe(false);
  });

  it("treats a missing commit as an infrastructure error and leaves nothing behind", async () => {
    await expect(
      executor.prepare(specFor(repo, { sha: "0123456789abcdef0123456789abcdef01234567" })),
    ).rejects.toThrow(InfrastructureError);
    await expect(
      executor.prepare(specFor(repo, { repo: { kind: "volume", name: "v" } })),
    ).rejects.toThrow(/host-path/);
    expect(readdirSync(tmpRoot)).toEqual([]);
  });
});
