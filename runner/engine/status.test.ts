import { describe, expect, it } from "vitest";
import {
  describeRuns,
  failRatio,
  isDecided,
  isMixed,
  isOpen,
  judge,
  passRatio,
  runsNeeded,
  runsToReach,
  StatusBook,
  type CommitState,
  type CommitStatus,
} from "./status";
import { termsOf } from "./predicate";
import { defaultPolicy, type Observation, type Policy, type Verdict } from "./types";

const policy = (p: Partial<Policy> = {}): Policy => ({ ...defaultPolicy, ...p });
const counts = (c: Partial<Omit<CommitStatus, "state">> = {}) => ({
  good: 0,
  bad: 0,
  skip: 0,
  error: 0,
  inFlight: 0,
  ...c,
});
const status = (c: Partial<Omit<CommitStatus, "state">>, p: Partial<Policy> = {}): CommitStatus => {
  const all = counts(c);
  return { ...all, state: judge(all, policy(p)) };
};

describe("the per-commit rule", () => {
  // [counts, policy, state]
  const rows: [Partial<Omit<CommitStatus, "state">>, Partial<Policy>, CommitState][] = [
    [{}, {}, "untested"],
    [{ inFlight: 1 }, {}, "pending"],
    [{ good: 1 }, {}, "good"],
    [{ bad: 1 }, {}, "bad"],
    // any skip run wins, even over results
    [{ skip: 1, bad: 3 }, { runs: 3, failThreshold: 1 }, "skipped"],
    // errors: fewer than maxErrorsPerCommit are no result; at the limit the commit is skipped
    [{ error: 1 }, { maxErrorsPerCommit: 2 }, "pending"],
    [{ error: 2 }, { maxErrorsPerCommit: 2 }, "skipped"],
    [{ error: 1, good: 1 }, { maxErrorsPerCommit: 2 }, "good"],
    // a limit below 1 still needs one error
    [{ error: 1 }, { maxErrorsPerCommit: 0 }, "skipped"],
    [{}, { maxErrorsPerCommit: 0 }, "untested"],
    // fewer than `runs` results: undecided
    [{ bad: 2 }, { runs: 3, failThreshold: 2 }, "pending"],
    [{ good: 2, inFlight: 1 }, { runs: 3, failThreshold: 2 }, "pending"],
    // exactly `runs` results: bad iff #bad ≥ failThreshold
    [{ bad: 2, good: 1 }, { runs: 3, failThreshold: 2 }, "bad"],
    [{ bad: 1, good: 2 }, { runs: 3, failThreshold: 2 }, "good"],
    [{ bad: 3, good: 2 }, { runs: 5, failThreshold: 3 }, "bad"],
    [{ bad: 2, good: 3 }, { runs: 5, failThreshold: 3 }, "good"],
    // extra results weigh in proportion: bad · runs ≥ failThreshold · n
    [{ bad: 2, good: 2 }, { runs: 1, failThreshold: 1 }, "good"],
    [{ bad: 4, good: 2 }, { runs: 3, failThreshold: 2 }, "bad"],
    [{ bad: 3, good: 3 }, { runs: 3, failThreshold: 2 }, "good"],
  ];
  it.each(rows)("%j with %j is %s", (c, p, state) => {
    expect(judge(counts(c), policy(p))).toBe(state);
  });
});

describe("StatusBook", () => {
  const obs = (...pairs: [string, Verdict][]): Observation[] =>
    pairs.map(([sha, verdict]) => ({ sha, verdict }));

  it("counts every verdict and run in flight per commit", () => {
    const book = new StatusBook(
      obs(["a", "good"], ["a", "bad"], ["a", "bad"], ["b", "skip"], ["c", "error"]),
      ["a", "c", "c"],
      policy({ runs: 3, failThreshold: 2 }),
    );
    expect(book.get("a")).toEqual({
      good: 1,
      bad: 2,
      skip: 0,
      error: 0,
      inFlight: 1,
      state: "bad",
    });
    expect(book.get("b")).toEqual({
      good: 0,
      bad: 0,
      skip: 1,
      error: 0,
      inFlight: 0,
      state: "skipped",
    });
    expect(book.get("c")).toEqual({
      good: 0,
      bad: 0,
      skip: 0,
      error: 1,
      inFlight: 2,
      state: "pending",
    });
    expect([...book.shas()].sort()).toEqual(["a", "b", "c"]);
  });

  it("calls a commit nobody ran untested, and a verdict outside the contract an error", () => {
    const book = new StatusBook(
      [{ sha: "a", verdict: "maybe" as Verdict }],
      [],
      policy({ maxErrorsPerCommit: 1 }),
    );
    expect(book.get("zzz")).toEqual({
      good: 0,
      bad: 0,
      skip: 0,
      error: 0,
      inFlight: 0,
      state: "untested",
    });
    expect(book.get("a")).toMatchObject({ good: 0, bad: 0, error: 1, state: "skipped" });
    expect([...book.shas()]).toEqual(["a"]);
  });
});

describe("runs still wanted", () => {
  it("asks for the runs a commit lacks, counting those in flight, and none once it is decided", () => {
    const p = { runs: 3, failThreshold: 2 };
    expect(runsNeeded(status({}, p), policy(p))).toBe(3);
    expect(runsNeeded(status({ bad: 1, inFlight: 1 }, p), policy(p))).toBe(1);
    expect(runsNeeded(status({ good: 1, error: 1 }, p), policy(p))).toBe(2);
    expect(runsNeeded(status({ bad: 2, inFlight: 1 }, p), policy(p))).toBe(0);
    expect(runsNeeded(status({ inFlight: 5 }, p), policy(p))).toBe(0);
    expect(runsNeeded(status({ bad: 2, good: 1 }, p), policy(p))).toBe(0);
    expect(runsNeeded(status({ skip: 1 }, p), policy(p))).toBe(0);
  });

  it("confirms a decided commit up to a target, but never a skipped one", () => {
    expect(runsToReach(status({ bad: 1, good: 1, inFlight: 1 }), 5)).toBe(2);
    expect(runsToReach(status({ bad: 5 }), 5)).toBe(0);
    expect(runsToReach(status({ bad: 6 }), 5)).toBe(0);
    expect(runsToReach(status({ skip: 1 }), 5)).toBe(0);
  });
});

describe("how a commit's runs read", () => {
  it("gives the shares of failing and passing results, or the fallback with none", () => {
    expect(failRatio(status({ bad: 1, good: 3 }))).toBe(0.25);
    expect(passRatio(status({ bad: 1, good: 3 }))).toBe(0.75);
    expect(failRatio(status({ error: 1 }))).toBe(1);
    expect(passRatio(status({}), 0.5)).toBe(0.5);
    expect(failRatio(status({}), 0)).toBe(0);
  });

  it("says open, decided and mixed as a person would", () => {
    expect([
      isOpen(status({})),
      isOpen(status({ inFlight: 1 })),
      isOpen(status({ good: 1 })),
    ]).toEqual([true, true, false]);
    expect([
      isDecided(status({ good: 1 })),
      isDecided(status({ bad: 1 })),
      isDecided(status({ skip: 1 })),
    ]).toEqual([true, true, false]);
    expect(isDecided(status({ inFlight: 1 }))).toBe(false);
    expect([
      isMixed(status({ good: 1, bad: 1 })),
      isMixed(status({ bad: 2 })),
      isMixed(status({ good: 2 })),
    ]).toEqual([true, false, false]);
  });

  it("summarises a commit's runs in words", () => {
    expect(describeRuns(status({ bad: 1 }), "bad")).toBe("fails");
    expect(describeRuns(status({}), "good")).toBe("passes");
    expect(describeRuns(status({ bad: 3, good: 2 }), "bad")).toBe("fails in 3 of 5 runs");
    expect(describeRuns(status({ bad: 3, good: 2 }), "good")).toBe("passes in 2 of 5 runs");
    // Hunting a fix, a "bad" (fixed) run passes and a "good" one fails.
    const fix = termsOf("fix");
    expect(describeRuns(status({ bad: 1, good: 2 }), "bad", fix)).toBe("passes in 1 of 3 runs");
    expect(describeRuns(status({ bad: 1, good: 2 }), "good", fix)).toBe("fails in 2 of 3 runs");
  });
});
