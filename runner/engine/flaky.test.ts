// The --flaky preset against simulated flaky tests, and find-fix as the mirror image of a regression.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decide } from "./engine";
import { normalizePredicate, policyOfPredicate } from "./predicate";
import { dagGraph, linearGraph, prng, simulate } from "./testkit";
import { defaultPolicy, FOUND_CONFIDENCE, reportedOutcome, type Policy, type Sha } from "./types";
import { classifyRun } from "./verdict";

const flakyPolicy: Policy = {
  ...defaultPolicy,
  ...policyOfPredicate(normalizePredicate({ flaky: true })),
};

/** One seeded bisection of a 100-commit range; good commits fail with probability `rate`. */
function flakyBisection(seed: number, rate: number, slots = 4) {
  const random = prng(seed);
  const n = 100;
  const culprit = 1 + Math.floor(random() * (n - 1));
  const { decision, runs } = simulate({
    graph: linearGraph(n),
    policy: flakyPolicy,
    slots,
    run: (sha) => {
      const i = sha === "g" ? -1 : Number(sha.slice(1));
      return i >= culprit || random() < rate ? "bad" : "good";
    },
  });
  return { decision, runs, culprit: `c${culprit}` };
}

describe("--flaky on a test that fails 25% of the time on good commits", () => {
  it("names the right culprit in at least 9 of 10 seeds, and never says found below the threshold", () => {
    let right = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const { decision: d, culprit } = flakyBisection(seed, 0.25);
      if (d.culprit === culprit) right++;
      const outcome = reportedOutcome(d);
      if (outcome === "found") expect(d.confidence).toBeGreaterThanOrEqual(FOUND_CONFIDENCE);
      if (d.confidence < FOUND_CONFIDENCE && d.culprit) {
        expect(outcome).toBe("likely");
        expect(d.explanation).toMatch(
          /is likely the first bad commit, but not surely: it fails in \d+ of \d+ runs/,
        );
      }
    }
    expect(right).toBeGreaterThanOrEqual(9);
  });

  it("confirms a disagreeing endpoint before calling the range wrong", () => {
    // The good revision fails 3 of its 5 runs: with the preset it is run up to 15 times first.
    const g = linearGraph(10);
    const obs = ["bad", "bad", "bad", "good", "good"].map((verdict) => ({
      sha: "g",
      verdict: verdict as "good" | "bad",
    }));
    const d = decide({ graph: g, policy: flakyPolicy, observations: obs, inFlight: [], slots: 20 });
    expect(d.kind).toBe("probe");
    if (d.kind === "probe") expect(d.probes.filter((s) => s === "g")).toHaveLength(10);
    const more = [
      ...obs,
      ...Array.from({ length: 10 }, () => ({ sha: "g", verdict: "good" as const })),
    ];
    const after = decide({
      graph: g,
      policy: flakyPolicy,
      observations: more,
      inFlight: [],
      slots: 0,
    });
    expect(after.kind === "done" && after.outcome === "good-is-bad").toBe(false);
  });
});

describe("find fix", () => {
  it("is the mirror image of a regression: the same commit, called the first fixed commit", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ kind: fc.nat(9), a: fc.nat(), b: fc.nat() }), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.nat(),
        fc.integer({ min: 1, max: 4 }),
        (ops, pick, slots) => {
          const { graph, parents } = dagGraph(ops);
          const range = Object.keys(graph.commits);
          const culprit = range[pick % range.length]!;
          const after = new Set<Sha>();
          for (const sha of range) {
            const seen = new Set<Sha>();
            const stack = [sha];
            while (stack.length) {
              const x = stack.pop()!;
              if (x === culprit) after.add(sha);
              if (seen.has(x)) continue;
              seen.add(x);
              stack.push(...(parents.get(x) ?? []));
            }
          }
          const exit = (sha: Sha, broken: boolean) => ({
            exitCode: broken ? 1 : 0,
            signal: null,
            timedOut: false,
            oomKilled: false,
            aborted: false,
          });
          // Regression: commits from the culprit on fail. Fix: commits from the culprit on pass.
          const regression = simulate({
            graph,
            policy: { ...defaultPolicy },
            slots,
            run: (sha) => classifyRun(exit(sha, after.has(sha))).verdict,
          });
          const fixPolicy = { ...defaultPolicy, find: "fix" as const };
          const fix = simulate({
            graph,
            policy: fixPolicy,
            slots,
            run: (sha) =>
              classifyRun(exit(sha, !after.has(sha)), {
                predicate: normalizePredicate({ find: "fix" }),
              }).verdict,
          });
          expect(fix.decision.outcome).toBe(regression.decision.outcome);
          expect(fix.decision.culprit).toBe(regression.decision.culprit);
          expect(fix.runs).toBe(regression.runs);
          if (fix.decision.outcome === "found") {
            expect(fix.decision.explanation).toContain("is the first fixed commit: it passes");
            expect(fix.decision.explanation).not.toContain("bad");
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
