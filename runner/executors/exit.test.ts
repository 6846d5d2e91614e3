import { describe, expect, it } from "vitest";
import { InfrastructureError } from "../errors";
import {
  type EndFacts,
  engineDuration,
  killUntilEnded,
  mayBeDiskFull,
  parseDockerTime,
  runResultOf,
} from "./exit";
import { CHECKOUT_FAILED_EXIT } from "./run-script";

const facts = (over: Partial<EndFacts> = {}): EndFacts => ({
  exitCode: 0,
  oomKilled: false,
  durationMs: 12,
  log: "ok\n",
  logTruncated: false,
  timedOut: false,
  aborted: false,
  diskFull: false,
  marker: "marker-123",
  ...over,
});
const where = { sha: "abc1234", engine: "host-1" };

describe("reading a container's end", () => {
  it("passes an exit code through", () => {
    expect(runResultOf(facts({ exitCode: 3 }), where)).toMatchObject({
      exitCode: 3,
      signal: null,
      durationMs: 12,
      log: "ok\n",
    });
  });

  it("reports a kill by the executor (timeout, abort) as SIGKILL, not as exit 137", () => {
    for (const flag of ["timedOut", "aborted"] as const) {
      const r = runResultOf(facts({ exitCode: 137, [flag]: true }), where);
      expect(r).toMatchObject({ exitCode: null, signal: "SIGKILL", [flag]: true });
    }
  });

  it("reports an OOM kill as SIGKILL with oomKilled, but keeps a shell's own exit after its child's OOM", () => {
    expect(runResultOf(facts({ exitCode: 137, oomKilled: true }), where)).toMatchObject({
      exitCode: null,
      signal: "SIGKILL",
      oomKilled: true,
    });
    expect(runResultOf(facts({ exitCode: 0, oomKilled: true }), where)).toMatchObject({
      exitCode: 0,
      oomKilled: true,
    });
  });

  it("reports a run stopped at its disk limit as disk full", () => {
    expect(runResultOf(facts({ exitCode: 137, diskFull: true }), where)).toMatchObject({
      exitCode: null,
      signal: "SIGKILL",
      diskFull: true,
    });
  });

  it("turns a failed checkout into an infrastructure error, with the marker removed", () => {
    const log = "fatal: bad object\nmarker-123\n";
    expect(() => runResultOf(facts({ exitCode: CHECKOUT_FAILED_EXIT, log }), where)).toThrow(
      InfrastructureError,
    );
    expect(() => runResultOf(facts({ exitCode: CHECKOUT_FAILED_EXIT, log }), where)).toThrow(
      /^checkout of abc1234 failed on host-1: fatal: bad object$/,
    );
  });

  it("does not let a command fake a checkout failure without the marker", () => {
    const r = runResultOf(facts({ exitCode: CHECKOUT_FAILED_EXIT, log: "cannot enter\n" }), where);
    expect(r.exitCode).toBe(CHECKOUT_FAILED_EXIT);
  });

  it("measures the disk again only for exits a full disk could cause", () => {
    expect([0, 1, 2, 125, 127, 128, 137, null].map(mayBeDiskFull)).toEqual([
      false,
      true,
      true,
      false,
      true,
      false,
      false,
      false,
    ]);
  });

  it("reads Docker's nanosecond timestamps", () => {
    expect(parseDockerTime("2026-12-07T06:00:00.123456789Z")).toBeCloseTo(
      Date.parse("2026-12-07T06:00:00Z") + 123.456789,
      5,
    );
    expect(parseDockerTime("0001-01-01T00:00:00Z")).toBeUndefined();
    expect(parseDockerTime("yesterday")).toBeUndefined();
    expect(engineDuration("2026-12-07T06:00:00.5Z", "2026-12-07T06:00:02.25Z")).toBe(1750);
    expect(engineDuration("2026-12-07T06:00:02Z", "2026-12-07T06:00:01Z")).toBeUndefined();
  });
});

describe("killing a run until it has ended", () => {
  /** A run that ends on the `effectiveAt`-th kill (never when 0); kills fail when `failing`. */
  function run(effectiveAt: number, failing = false) {
    let end!: () => void;
    const ended = new Promise<void>((resolve) => (end = resolve));
    let kills = 0;
    const kill = async () => {
      kills++;
      if (kills === effectiveAt) end();
      if (failing) throw new Error("engine busy");
    };
    return { ended, kill, end, kills: () => kills };
  }
  const fast = { pauseMs: 5 };

  it("kills once when the first kill takes effect", async () => {
    const r = run(1);
    await killUntilEnded(r.kill, r.ended, fast);
    expect(r.kills()).toBe(1);
  });

  it("kills again when a kill missed the run's processes", async () => {
    const r = run(3);
    await killUntilEnded(r.kill, r.ended, fast);
    expect(r.kills()).toBe(3);
  });

  it("kills again after a failed kill, and says so when the run never ends", async () => {
    const r = run(0, true);
    await expect(killUntilEnded(r.kill, r.ended, { ...fast, tries: 4 })).rejects.toThrow(
      "engine busy",
    );
    expect(r.kills()).toBe(4);
    const deaf = run(0);
    await expect(killUntilEnded(deaf.kill, deaf.ended, { ...fast, tries: 3 })).rejects.toThrow(
      "outlived 3 kills",
    );
  });

  it("takes no credit for a run that ended while its kill failed", async () => {
    const r = run(1, true);
    await expect(killUntilEnded(r.kill, r.ended, fast)).rejects.toThrow("engine busy");
    expect(r.kills()).toBe(1);
  });
});
