// When the good and bad revisions are tested: alongside the first probes (no round of their own,
// and a failed check still wins), or only once the answer rests on them (the runs of `git bisect
// run` when the endpoints are right, the same good-is-bad / bad-is-good answer when they are not).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decide } from "./engine";
import { ceilLog, linearGraph, simulate } from "./testkit";
import { defaultPolicy, type CommitGraph, type Policy, type Sha, type Verdict } from "./types";

const overlap: Policy = { ...defaultPolicy, verifyEndpoints: true, overlapEndpoints: true };
const deferred: Policy = { ...defaultPolicy, verifyEndpoints: true, deferEndpoints: true };

/**
 * With a wrong endpoint (the good revision fails when `goodFails`, else the bad one passes), the
 * answer says so, at any slot count, in rounds or as runs end.
 */
function expectEndpointFault(
  policy: Policy,
  world: (graph: CommitGraph, goodFails: boolean) => (sha: Sha) => Verdict,
): void {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 500 }),
      fc.integer({ min: 1, max: 6 }),
      fc.boolean(),
      fc.boolean(),
      (n, k, goodFails, async) => {
        const graph = linearGraph(n);
        const { decision } = simulate({
          graph,
          policy,
          slots: k,
          mode: async ? "async" : "rounds",
          run: world(graph, goodFails),
        });
        expect(decision.outcome).toBe(goodFails ? "good-is-bad" : "bad-is-good");
      },
    ),
    { numRuns: 200 },
  );
}

describe("endpoint checks alongside the first probes", () => {
  it("plan both endpoints beside k probes in the first decision", () => {
    const d = decide({
      graph: linearGraph(100),
      policy: overlap,
      observations: [],
      inFlight: [],
      slots: 1,
    });
    expect(d.kind).toBe("probe");
    if (d.kind !== "probe") return;
    expect(d.probes).toHaveLength(3);
    expect(d.probes).toContain("g");
    expect(d.probes).toContain("c99");
  });

  it("take no round of their own: ⌈log_{k+1} N⌉ rounds on a linear range, as without checks", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 3000 }),
        fc.nat(),
        fc.integer({ min: 1, max: 8 }),
        (n, pick, k) => {
          const graph = linearGraph(n);
          const culprit = pick % n;
          const { decision, rounds, observations } = simulate({
            graph,
            policy: overlap,
            slots: k,
            run: (sha) => (sha !== graph.good && Number(sha.slice(1)) >= culprit ? "bad" : "good"),
          });
          expect(decision).toMatchObject({ outcome: "found", culprit: `c${culprit}` });
          expect(observations.some((o) => o.sha === "g")).toBe(true);
          expect(observations.some((o) => o.sha === `c${n - 1}`)).toBe(true);
          expect(rounds).toBeLessThanOrEqual(Math.max(1, ceilLog(n, k + 1)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("still end with good-is-bad or bad-is-good, whatever the probes said", () => {
    // The good revision fails, or the bad one passes; every other commit fails.
    expectEndpointFault(
      overlap,
      (graph, goodFails) => (sha) =>
        sha === "g" || sha === graph.bad ? (goodFails ? "bad" : "good") : "bad",
    );
  });
});

describe("endpoint checks deferred until the answer rests on them", () => {
  it("start with the probes alone", () => {
    const d = decide({
      graph: linearGraph(100),
      policy: deferred,
      observations: [],
      inFlight: [],
      slots: 1,
    });
    expect(d).toMatchObject({ kind: "probe" });
    if (d.kind !== "probe") return;
    expect(d.probes).toHaveLength(1);
    expect(d.probes).not.toContain("g");
    expect(d.probes).not.toContain("c99");
  });

  it("test an endpoint only when the culprit is the bad revision or the good one's child", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 3000 }), fc.nat(), (n, pick) => {
        const graph = linearGraph(n);
        const culprit = pick % n;
        const { decision, observations, rounds } = simulate({
          graph,
          policy: deferred,
          slots: 1,
          run: (sha) => (sha !== graph.good && Number(sha.slice(1)) >= culprit ? "bad" : "good"),
        });
        expect(decision).toMatchObject({ outcome: "found", culprit: `c${culprit}` });
        const tested = new Set(observations.map((o) => o.sha));
        expect(tested.has("g")).toBe(culprit === 0);
        expect(tested.has(graph.bad)).toBe(culprit === n - 1);
        // One run per round, and no more rounds than git bisect's ⌈log2 n⌉ plus that endpoint.
        expect(rounds).toBeLessThanOrEqual(ceilLog(n, 2) + 1);
      }),
      { numRuns: 300 },
    );
  });

  it("still end with good-is-bad or bad-is-good when an endpoint is wrong", () => {
    // Everything fails (the failure is older than the range) or everything passes.
    expectEndpointFault(deferred, (_, goodFails) => () => (goodFails ? "bad" : "good"));
  });

  it("test both endpoints at once when a run says the command is missing", () => {
    const graph = linearGraph(100);
    const d = decide({
      graph,
      policy: deferred,
      observations: [{ sha: "c49", verdict: "bad", reason: "exit 127" }],
      inFlight: [],
      slots: 2,
    });
    expect(d.kind).toBe("probe");
    if (d.kind !== "probe") return;
    expect(d.probes).toEqual(expect.arrayContaining(["g", "c99"]));
    const answer = decide({
      graph,
      policy: deferred,
      observations: [
        { sha: "c49", verdict: "bad", reason: "exit 127" },
        { sha: "g", verdict: "bad", reason: "exit 127" },
        { sha: "c99", verdict: "bad", reason: "exit 127" },
      ],
      inFlight: [],
      slots: 1,
    });
    expect(answer).toMatchObject({ kind: "done", outcome: "good-is-bad" });
    if (answer.kind === "done") expect(answer.explanation).toContain("command not found");
  });

  it("test the endpoints before an ambiguous answer", () => {
    const graph = linearGraph(4);
    const d = decide({
      graph,
      policy: deferred,
      observations: [
        { sha: "c0", verdict: "good" },
        { sha: "c1", verdict: "skip" },
        { sha: "c2", verdict: "skip" },
      ],
      inFlight: [],
      slots: 2,
    });
    expect(d.kind).toBe("probe");
    if (d.kind === "probe") expect(d.probes.sort()).toEqual(["c3", "g"]);
  });
});
