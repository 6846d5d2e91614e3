import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { defaultPredicate } from "./predicate";
import { classifyRun, outputMatches, signalName } from "./verdict";

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
    // 129–159 are 128 + a signal number; from 160 on there is no such signal.
    [{ exitCode: 129 }, { verdict: "skip", reason: "killed by SIGHUP" }],
    [{ exitCode: 159 }, { verdict: "skip", reason: "killed by SIGSYS" }],
    [{ exitCode: 160 }, { verdict: "skip", reason: "exit 160" }],
    [{ exitCode: 1.5 }, { verdict: "error", reason: "infrastructure: unexpected exit code 1.5" }],
    // The executor stopped the run at its disk limit: whatever the exit code, no result.
    [
      { exitCode: 0, diskFull: true },
      { verdict: "skip", reason: "disk full" },
    ],
    [
      { exitCode: null, diskFull: true },
      { verdict: "skip", reason: "disk full" },
    ],
    // A failing run that says the disk is full could not test the commit; a passing one did.
    [
      { exitCode: 1, log: "npm ERR! ENOSPC: write failed" },
      { verdict: "skip", reason: "disk full (No space left on device)" },
    ],
    [
      { exitCode: 2, log: "cp: error writing 'x': No space left on device\n" },
      { verdict: "skip", reason: "disk full (No space left on device)" },
    ],
    [{ exitCode: 0, log: "warning: ENOSPC once, retried" }, { verdict: "good" }],
    // Only the last 64 KiB of output count.
    [
      { exitCode: 1, log: `ENOSPC\n${"x".repeat(64 * 1024)}` },
      { verdict: "bad", reason: "exit 1" },
    ],
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
    // Weighted so that every verdict is drawn often: a plain exit 0 needs no signal and all three
    // flags clear, which uniform booleans would make a 1-in-100 draw.
    const rarely = fc.oneof(
      { weight: 5, arbitrary: fc.constant(false) },
      { weight: 1, arbitrary: fc.constant(true) },
    );
    const seen = { good: 0, bad: 0, skip: 0, error: 0 };
    const runs = 2000;
    fc.assert(
      fc.property(
        fc.record({
          exitCode: fc.oneof(
            { weight: 3, arbitrary: fc.constant(0) },
            { weight: 3, arbitrary: fc.integer({ min: 1, max: 127 }) },
            { weight: 2, arbitrary: fc.integer({ min: 128, max: 300 }) },
            { weight: 1, arbitrary: fc.constant(125) },
            { weight: 1, arbitrary: fc.integer({ min: -5, max: -1 }) },
            { weight: 1, arbitrary: fc.constant(null) },
          ),
          signal: fc.oneof(
            { weight: 4, arbitrary: fc.constant(null) },
            { weight: 1, arbitrary: fc.constantFrom("SIGKILL", "SIGTERM", "SIGSEGV") },
          ),
          timedOut: rarely,
          oomKilled: rarely,
          aborted: rarely,
        }),
        (r) => {
          const { verdict } = classifyRun(r);
          seen[verdict as keyof typeof seen] += 1;
          if (verdict === "bad") {
            expect(
              r.exitCode !== null && r.exitCode >= 1 && r.exitCode <= 127 && r.exitCode !== 125,
            ).toBe(true);
            expect(r.signal === null && !r.timedOut && !r.oomKilled && !r.aborted).toBe(true);
          }
          if (verdict === "good") expect(r).toEqual({ ...base, exitCode: 0, signal: null });
        },
      ),
      { numRuns: runs },
    );
    // The property says something about each verdict only if each was drawn often.
    for (const [verdict, count] of Object.entries(seen))
      expect(count, `${verdict} drawn ${count} of ${runs} times`).toBeGreaterThan(runs / 20);
  });
});

describe("classifyRun with an output pattern", () => {
  const predicate = (badIfOutput: string, more: Partial<typeof defaultPredicate> = {}) => ({
    predicate: { ...defaultPredicate, badIfOutput, ...more },
  });

  it.each([
    [
      { exitCode: 0, log: "ok\npanicked at src/main.rs\n" },
      { verdict: "bad", reason: "output matches" },
    ],
    [
      { exitCode: 1, log: "all fine" },
      { verdict: "good", reason: "output does not match" },
    ],

    // A crash that does not print the pattern still follows the crash rule.
    [
      { exitCode: 139, log: "segfault" },
      { verdict: "skip", reason: "killed by SIGSEGV" },
    ],
  ])("%j → %j", (partial, expected) => {
    expect(classifyRun({ ...base, ...partial }, predicate("panicked"))).toEqual(expected);
  });

  it("matches nothing when there is no output", () => {
    expect(classifyRun({ ...base, exitCode: 0 }, predicate("."))).toEqual({
      verdict: "good",
      reason: "output does not match",
    });
  });

  it("reads fixed / not yet fixed when hunting a fix", () => {
    const fix = predicate("panicked", { find: "fix" });
    expect(classifyRun({ ...base, exitCode: 0, log: "panicked" }, fix)).toEqual({
      verdict: "good",
      reason: "not yet fixed: output matches",
    });
    expect(classifyRun({ ...base, exitCode: 1, log: "" }, fix)).toEqual({
      verdict: "bad",
      reason: "fixed: passes",
    });
  });

  it("refuses a pattern that is too long or unsafe, even from stored options", () => {
    const run = { ...base, exitCode: 1, log: "x" };
    expect(() => classifyRun(run, predicate("a".repeat(201)))).toThrow(
      new RangeError("badIfOutput too long"),
    );
    expect(() => classifyRun(run, predicate("a".repeat(200)))).not.toThrow();
    expect(() => classifyRun(run, predicate("(a+)+$"))).toThrow(/^badIfOutput /);
  });

  it("looks at the last 64 KiB of output, each line up to 4096 characters", () => {
    const kib64 = 64 * 1024;
    expect(outputMatches(`panic\n${"x".repeat(kib64 - 6)}`, "panic")).toBe(true);
    expect(outputMatches(`panic\n${"x".repeat(kib64 - 5)}`, "panic")).toBe(false);
    expect(outputMatches(`${"x".repeat(4091)}panic`, "panic")).toBe(true);
    expect(outputMatches(`${"x".repeat(4092)}panic`, "panic")).toBe(false);
    expect(outputMatches(`${"x".repeat(4092)}\npanic`, "panic")).toBe(true);
  });
});
