import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  defaultPredicate,
  describePredicate,
  normalizePredicate,
  patternProblem,
  PredicateError,
  type Predicate,
} from "./predicate";
import { classifyRun } from "./verdict";

const predicateArb: fc.Arbitrary<Predicate> = fc.record({
  crash: fc.constantFrom("bad" as const, "skip" as const),
  timeout: fc.constantFrom("bad" as const, "skip" as const),
  find: fc.constantFrom("regression" as const, "fix" as const),
  runs: fc.constant(1),
  failThreshold: fc.constant(1),
  flaky: fc.constant(false),
  badIfOutput: fc.option(fc.constantFrom("panicked at|Segmentation fault", "^FAIL", "boom"), {
    nil: undefined,
  }),
});

const runArb = fc.record({
  exitCode: fc.option(fc.integer({ min: -3, max: 300 })),
  signal: fc.option(fc.constantFrom("SIGKILL", "SIGSEGV", "SIGABRT")),
  timedOut: fc.boolean(),
  oomKilled: fc.boolean(),
  aborted: fc.boolean(),
  log: fc.constantFrom(
    "",
    "ok\n",
    "thread main panicked at x\n",
    "FAIL test\n",
    "boom",
    "write: No space left on device\n",
  ),
});

/** "fails"/"passes" in the predicate's own terms: the engine verdict read back through find. */
const failed = (verdict: string, p: Predicate) =>
  verdict === "good" || verdict === "bad" ? (verdict === "bad") !== (p.find === "fix") : null;

describe("predicates in the classifier", () => {
  it("never count an abort, a lost run, an OOM kill or a full disk as good or bad, whatever the options", () => {
    fc.assert(
      fc.property(runArb, predicateArb, (run, p) => {
        const { verdict } = classifyRun(run, { predicate: p });
        const infra =
          run.aborted ||
          run.oomKilled ||
          (run.exitCode !== null && run.exitCode < 0) ||
          (run.exitCode === null && run.signal === null && !run.timedOut);
        if (infra) expect(["skip", "error"]).toContain(verdict);
        const diskFull =
          !run.aborted &&
          !run.oomKilled &&
          !run.timedOut &&
          run.exitCode !== 0 &&
          run.exitCode !== 125 &&
          run.exitCode !== null &&
          run.exitCode >= 0 &&
          run.log.includes("No space left");
        if (diskFull) expect(verdict).toBe("skip");
      }),
      { numRuns: 2000 },
    );
  });

  it("--crash: exit codes ≥ 128 and signals fail with bad, are skipped with skip", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ exitCode: fc.integer({ min: 128, max: 255 }), signal: fc.constant(null) }),
          fc.record({
            exitCode: fc.constant(null),
            signal: fc.constantFrom("SIGSEGV", "SIGABRT", "SIGKILL"),
          }),
        ),
        predicateArb.filter((p) => p.badIfOutput === undefined),
        (r, p) => {
          const run = { ...r, timedOut: false, oomKilled: false, aborted: false, log: "" };
          const c = classifyRun(run, { predicate: p });
          if (p.crash === "skip") expect(c.verdict).toBe("skip");
          else expect(failed(c.verdict, p)).toBe(true);
        },
      ),
    );
  });

  it("--timeout-is: a hang fails with bad, is skipped with skip (OOM and aborts still win)", () => {
    fc.assert(
      fc.property(predicateArb, fc.boolean(), fc.boolean(), (p, oom, aborted) => {
        const run = {
          exitCode: null,
          signal: "SIGKILL",
          timedOut: true,
          oomKilled: oom,
          aborted,
          log: "",
        };
        const c = classifyRun(run, { predicate: p });
        if (aborted) expect(c.verdict).toBe("error");
        else if (oom) expect(c.verdict).toBe("skip");
        else if (p.timeout === "skip") expect(c).toEqual({ verdict: "skip", reason: "timeout" });
        else expect(failed(c.verdict, p)).toBe(true);
      }),
    );
  });

  it("--bad-if-output: the output decides for a run that ended by itself", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.constantFrom("ok", "all good", "x panicked at y", "Segmentation fault", "done"),
          { maxLength: 6 },
        ),
        fc.constantFrom(0, 1, 2),
        fc.constantFrom("regression" as const, "fix" as const),
        (lines, exitCode, find) => {
          const p: Predicate = {
            ...defaultPredicate,
            find,
            badIfOutput: "panicked at|Segmentation fault",
          };
          const log = lines.join("\n");
          const c = classifyRun(
            { exitCode, signal: null, timedOut: false, oomKilled: false, aborted: false, log },
            { predicate: p },
          );
          expect(failed(c.verdict, p)).toBe(/panicked at|Segmentation fault/.test(log));
        },
      ),
    );
  });

  it("--find fix is the mirror image: passing means fixed (bad), failing means not yet fixed (good)", () => {
    fc.assert(
      fc.property(runArb, predicateArb, (run, p) => {
        const regression = classifyRun(run, { predicate: { ...p, find: "regression" } });
        const fix = classifyRun(run, { predicate: { ...p, find: "fix" } });
        const mirror = { good: "bad", bad: "good", skip: "skip", error: "error" } as const;
        expect(fix.verdict).toBe(mirror[regression.verdict]);
      }),
      { numRuns: 2000 },
    );
    const pass = {
      exitCode: 0,
      signal: null,
      timedOut: false,
      oomKilled: false,
      aborted: false,
      log: "",
    };
    expect(classifyRun(pass, { predicate: { ...defaultPredicate, find: "fix" } })).toEqual({
      verdict: "bad",
      reason: "fixed: passes",
    });
    expect(
      classifyRun({ ...pass, exitCode: 1 }, { predicate: { ...defaultPredicate, find: "fix" } }),
    ).toEqual({
      verdict: "good",
      reason: "not yet fixed: exit 1",
    });
  });

  it("keeps the defaults of a plain bisection", () => {
    const run = { exitCode: 139, signal: null, timedOut: false, oomKilled: false, aborted: false };
    expect(classifyRun(run)).toEqual({ verdict: "skip", reason: "killed by SIGSEGV" });
    expect(classifyRun(run, { predicate: { ...defaultPredicate, crash: "bad" } })).toEqual({
      verdict: "bad",
      reason: "crash: killed by SIGSEGV",
    });
  });
});

describe("normalizePredicate", () => {
  it("fills defaults and applies the flaky preset", () => {
    expect(normalizePredicate(undefined)).toEqual(defaultPredicate);
    expect(normalizePredicate({ flaky: true })).toMatchObject({
      runs: 5,
      failThreshold: 3,
      flaky: true,
    });
    expect(
      normalizePredicate({ crash: "bad", find: "fix", badIfOutput: "panicked at" }),
    ).toMatchObject({
      crash: "bad",
      find: "fix",
      badIfOutput: "panicked at",
    });
  });

  it.each([
    [{ crash: "yes" }, /crash must be bad or skip/],
    [{ timeout: "bad " }, /timeout must be bad or skip/],
    [{ find: "fixes" }, /find must be regression or fix/],
    [{ runs: 6 }, /runs must be an integer from 1 to 5/],
    [{ runs: 1.5 }, /runs must be an integer/],
    [{ runs: 2, failThreshold: 3 }, /failThreshold 3 is more than runs 2/],
    [{ flaky: true, runs: 3 }, /flaky sets runs/],
    [{ flaky: "yes" }, /flaky must be true or false/],
    [{ badIfOutput: "(" }, /not a valid regular expression/],
    [{ badIfOutput: "(a+)+$" }, /repeats a group/],
    [{ badIfOutput: "(a|aa)*b" }, /repeats a group/],
    [{ badIfOutput: "(x)\\1" }, /back-reference/],
    [{ badIfOutput: "a".repeat(201) }, /longer than 200/],
    [{ badIfOutput: "" }, /is empty/],
    [{ colour: "red" }, /unknown predicate option "colour"/],
    [{ runs: 0 }, /runs must be an integer from 1 to 5, got 0/],
    [{ runs: "3" }, /runs must be an integer from 1 to 5, got "3"/],
    [{ failThreshold: 0 }, /failThreshold must be an integer from 1 to 5, got 0/],
    [{ failThreshold: 6 }, /failThreshold must be an integer from 1 to 5, got 6/],
    [{ flaky: true, failThreshold: 2 }, /flaky sets runs/],
    [{ badIfOutput: 42 }, /badIfOutput must be a string/],
    [[], /the predicate must be an object/],
    ["bad", /the predicate must be an object/],
    // Every problem is named, not only the first.
    [{ crash: "x", runs: 9 }, /crash must be bad or skip, got "x"; runs must be/],
  ])("refuses %j", (input, message) => {
    expect(() => normalizePredicate(input)).toThrow(PredicateError);
    expect(() => normalizePredicate(input)).toThrow(message);
  });

  it("keeps the numbers given within the limits", () => {
    expect(normalizePredicate({ runs: 5, failThreshold: 5 })).toMatchObject({
      runs: 5,
      failThreshold: 5,
    });
    expect(normalizePredicate({ runs: 3, failThreshold: 1 })).toMatchObject({
      runs: 3,
      failThreshold: 1,
    });
    expect(normalizePredicate(null)).toEqual(defaultPredicate);
    expect(normalizePredicate({})).toEqual(defaultPredicate);
    expect(normalizePredicate({ flaky: false })).toEqual(defaultPredicate);
    expect(normalizePredicate({ crash: "skip", timeout: "bad" })).toMatchObject({
      crash: "skip",
      timeout: "bad",
    });
  });

  it.each([
    ["a".repeat(200), null],
    ["a".repeat(201), "is longer than 200 characters"],
    // A tab written as the escape \t is fine; a tab itself is a control character.
    ["a\\tb", null],
    ["a\tb", "contains control characters"],
    ["a\u001fb", "contains control characters"],
    ["a\u007fb", "contains control characters"],
    ["(a*)*", "repeats a group"],
    ["(a+){2,}", "repeats a group"],
    ["(a|b)+", "repeats a group"],
    ["(?:a+)+", "repeats a group"],
    ["(a?)+", "repeats a group"],
    ["(a{2})+", "repeats a group"],
    ["((a+)b)+", "repeats a group"],
    ["((a|b)c)*", "repeats a group"],
    ["(a)+", null],
    ["(a+)b+", null],
    ["(a+)?", null],
    ["(a)(b+)", null],
    ["a|b+", null],
    ["\\(a+\\)+", null],
    ["[(a+)]+", null],
    ["[\\]a+)]+", null],
    ["(?:ab)+", null],
    ["(?=a)b+", null],
    ["(?<n>a)\\k<n>", "uses a back-reference"],
    ["\\0", null],
  ])("judges the pattern %j: %s", (pattern, problem) => {
    if (problem === null) expect(patternProblem(pattern)).toBeNull();
    else expect(patternProblem(pattern)).toContain(problem);
  });

  it("accepts ordinary patterns", () => {
    for (const ok of [
      "panicked at|Segmentation fault",
      "^FAIL\\b",
      "(?:error|warning): x+",
      "[a-z]+ failed",
    ])
      expect(patternProblem(ok)).toBeNull();
  });
});

describe("describePredicate", () => {
  it("says each rule in words, in the hunted terms", () => {
    expect(describePredicate(defaultPredicate).join(" ")).toContain(
      "A crash (exit code ≥ 128 or a signal) counts as untestable (skip).",
    );
    const words = describePredicate(
      normalizePredicate({ crash: "bad", timeout: "bad", find: "fix", flaky: true }),
    ).join(" ");
    expect(words).toContain("first fixed commit");
    expect(words).toContain(
      "A crash (exit code ≥ 128 or a signal) counts as a failure (not yet fixed).",
    );
    expect(words).toContain("hits the time limit counts as a failure");
    expect(words).toContain("5 times");
    expect(words).toContain("never count as a failure");
  });

  it("names the default rules, the output rule and repeated runs", () => {
    expect(describePredicate(defaultPredicate)).toEqual([
      "Looking for the first bad commit: a run that passes (exit 0) is good, a failing one (exit 1–127 except 125) is bad.",
      "A crash (exit code ≥ 128 or a signal) counts as untestable (skip).",
      "A run that hits the time limit counts as untestable (skip).",
      "Exit 125 means the commit cannot be tested (skip).",
      "Infrastructure failures (out of memory, a full disk, a cancelled or lost run) never count as a failure.",
    ]);
    const words = describePredicate(
      normalizePredicate({ badIfOutput: "panicked", runs: 3, failThreshold: 2 }),
    );
    expect(words).toContain(
      "The output decides: a run whose output matches /panicked/ counts as a failure (bad), one that does not counts as a pass, whatever its exit code.",
    );
    expect(words).toContain("Each commit runs 3 times and fails when 2 or more runs fail.");
    expect(describePredicate(normalizePredicate({ runs: 1 })).join(" ")).not.toContain(
      "Each commit runs",
    );
  });
});
