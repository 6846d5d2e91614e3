import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classifyRun, signalName } from "./verdict";

const base = {
  exitCode: 0 as number | null,
  signal: null as string | null,
  timedOut: false,
  oomKilled: false,
  aborted: false,
};

describe("classifyRun", () => {
  it.each([
    [{ exitCode: 0 }, { verdict: "good" }],
    [{ exitCode: 1 }, { verdict: "bad", reason: "exit 1" }],
    [{ exitCode: 2 }, { verdict: "bad", reason: "exit 2" }],
    [{ exitCode: 124 }, { verdict: "bad", reason: "exit 124" }],
    [{ exitCode: 126 }, { verdict: "bad", reason: "exit 126" }],
    [{ exitCode: 127 }, { verdict: "bad", reason: "exit 127" }],
    [{ exitCode: 125 }, { verdict: "skip", reason: "exit 125 (cannot test this commit)" }],
    [{ exitCode: 137 }, { verdict: "skip", reason: "killed by SIGKILL" }],
    [{ exitCode: 139 }, { verdict: "skip", reason: "killed by SIGSEGV" }],
    [{ exitCode: 143 }, { verdict: "skip", reason: "killed by SIGTERM" }],
    [{ exitCode: 128 }, { verdict: "skip", reason: "exit 128" }],
    [{ exitCode: 255 }, { verdict: "skip", reason: "exit 255" }],
    [
      { exitCode: null, signal: "SIGKILL" },
      { verdict: "skip", reason: "killed by SIGKILL" },
    ],
    [
      { exitCode: null, signal: "SIGSEGV" },
      { verdict: "skip", reason: "killed by SIGSEGV" },
    ],
    [{ exitCode: null }, { verdict: "error", reason: "infrastructure" }],
    [{ exitCode: -1 }, { verdict: "error", reason: "infrastructure: unexpected exit code -1" }],
    [
      { exitCode: null, signal: "SIGKILL", timedOut: true },
      { verdict: "skip", reason: "timeout" },
    ],
    [
      { exitCode: 137, oomKilled: true },
      { verdict: "skip", reason: "out of memory" },
    ],
    // A shell can exit 0 while its child was OOM-killed: the OOM flag wins.
    [
      { exitCode: 0, oomKilled: true },
      { verdict: "skip", reason: "out of memory" },
    ],
    [
      { exitCode: 1, aborted: true },
      { verdict: "error", reason: "aborted" },
    ],
    [
      { exitCode: null, signal: "SIGKILL", aborted: true, timedOut: true },
      { verdict: "error", reason: "aborted" },
    ],
  ])("%j → %j", (partial, expected) => {
    expect(classifyRun({ ...base, ...partial })).toEqual(expected);
  });

  it("treats a timeout as bad only when asked", () => {
    const r = { ...base, exitCode: null, signal: "SIGKILL", timedOut: true };
    expect(classifyRun(r, { timeoutIsBad: true })).toEqual({ verdict: "bad", reason: "timeout" });
    expect(classifyRun(r, { timeoutIsBad: false })).toEqual({ verdict: "skip", reason: "timeout" });
  });

  it("names signals", () => {
    expect(signalName(9)).toBe("SIGKILL");
    expect(signalName(6)).toBe("SIGABRT");
    expect(signalName(40)).toBe("signal 40");
  });

  it("never says bad for infrastructure, OOM, signals, aborts, or timeouts by default", () => {
    fc.assert(
      fc.property(
        fc.record({
          exitCode: fc.option(fc.integer({ min: -5, max: 300 })),
          signal: fc.option(fc.constantFrom("SIGKILL", "SIGTERM", "SIGSEGV")),
          timedOut: fc.boolean(),
          oomKilled: fc.boolean(),
          aborted: fc.boolean(),
        }),
        (r) => {
          const { verdict } = classifyRun(r);
          if (verdict === "bad") {
            expect(
              r.exitCode !== null && r.exitCode >= 1 && r.exitCode <= 127 && r.exitCode !== 125,
            ).toBe(true);
            expect(r.signal === null && !r.timedOut && !r.oomKilled && !r.aborted).toBe(true);
          }
          if (verdict === "good") expect(r.exitCode).toBe(0);
        },
      ),
    );
  });
});
