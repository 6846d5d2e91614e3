import { describe, expect, it } from "vitest";
import type { BisectStep } from "../../db/models";
import { normalizePredicate } from "../../runner/engine";
import { policyOf, slottedInFlight } from "./policy";
import { predicateOfJob, storedPredicate } from "./predicate";
import { describeMeasurement, measure, outcomeOf, verifyTargetOf } from "./verify";

const graph = {
  good: "g",
  bad: "b",
  commits: { a: { parents: ["g"] }, c: { parents: ["a", "x"] }, b: { parents: ["c"] } },
};

describe("a job's predicate and policy", () => {
  it("reads a stored flaky predicate back as the preset", () => {
    const stored = storedPredicate(normalizePredicate({ flaky: true, crash: "bad" }));
    expect(predicateOfJob({ options: { predicate: stored } })).toEqual(stored);
    expect(policyOf({ options: { predicate: stored } })).toMatchObject({
      runs: 5,
      failThreshold: 3,
      confirmRuns: 15,
      find: "regression",
      overlapEndpoints: true,
      verifyEndpoints: true,
    });
  });

  it("gives jobs stored before predicates the defaults with their runs", () => {
    expect(predicateOfJob({ options: { runs: 3, failThreshold: 9 } })).toMatchObject({
      runs: 3,
      failThreshold: 3,
      crash: "skip",
      timeout: "skip",
      find: "regression",
    });
    expect(policyOf({ options: {} })).toMatchObject({ runs: 1, failThreshold: 1, confirmRuns: 1 });
  });

  it("counts only non-endpoint runs against --parallel", () => {
    expect(slottedInFlight(graph, ["g", "b", "a", "a", "c"])).toBe(3);
  });
});

describe("/bisect verify", () => {
  const finished = {
    id: 7,
    status: "finished" as const,
    outcome: "likely" as const,
    culpritSha: "c",
    graph,
    options: { runs: 2, predicate: storedPredicate(normalizePredicate({ runs: 2 })) },
  };
  const steps = (sha: string, verdicts: string[]) =>
    verdicts.map(
      (verdict) =>
        ({ sha, status: "done", verdict }) as Pick<BisectStep, "sha" | "status" | "verdict">,
    );

  it("re-runs the culprit and its first parent max(5, runs) times", () => {
    expect(verifyTargetOf(finished)).toEqual({ jobId: 7, culprit: "c", parent: "a", runs: 5 });
    expect(
      verifyTargetOf({
        ...finished,
        options: { predicate: storedPredicate(normalizePredicate({ flaky: true })) },
      }),
    ).toMatchObject({ runs: 5 });
    expect(verifyTargetOf({ ...finished, outcome: "ambiguous" })).toMatch(/named one commit/);
    expect(verifyTargetOf({ ...finished, status: "cancelled" })).toMatch(/named one commit/);
    expect(
      verifyTargetOf({
        ...finished,
        options: { verify: { jobId: 1, culprit: "c", parent: "a", runs: 5 } },
      }),
    ).toMatch(/itself a verification/);
  });

  it.each<[string[], string[], "found" | "likely" | "flaky", number]>([
    [["bad", "bad", "bad", "bad", "bad"], ["good", "good", "good", "good", "good"], "found", 1],
    [["bad", "bad", "bad", "bad", "bad"], ["bad", "good", "good", "good", "bad"], "likely", 0.6],
    [
      ["bad", "good", "bad", "good", "skip"],
      ["bad", "good", "good", "bad", "error"],
      "flaky",
      0.25,
    ],
  ])("culprit %j, parent %j → %s", (c, p, outcome, confidence) => {
    const target = { jobId: 7, culprit: "c", parent: "a", runs: 5 };
    const m = measure([...steps("c", c), ...steps("a", p)], target);
    expect(outcomeOf(m)).toBe(outcome);
    expect(m.confidence).toBeCloseTo(confidence);
  });

  it("says what it measured in the job's words", () => {
    const target = { jobId: 7, culprit: "c".repeat(40), parent: "a".repeat(40), runs: 5 };
    const m = measure(
      [
        ...steps(target.culprit, ["bad", "bad", "bad", "bad", "skip"]),
        ...steps(target.parent, ["good", "good", "bad", "good", "error"]),
      ],
      target,
    );
    expect(describeMeasurement(m, target, "fix")).toBe(
      "The commit ccccccc was fixed in 4 of 4 runs (1 untestable); its parent aaaaaaa was fixed in 1 of 4 runs (1 lost to infrastructure errors). Confidence 75%: likely the first fixed commit, but not sure.",
    );
  });
});
