// Endpoint checks deferred until the answer rests on them: the runs of `git bisect run` when the
// endpoints are right, the same good-is-bad / bad-is-good answer when they are not.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decide } from "./engine";
import { ceilLog, linearGraph, simulate } from "./testkit";
import { defaultPolicy, type Policy } from "./types";

const deferred: Policy = { ...defaultPolicy, verifyEndpoints: true, deferEndpoints: true };

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
            policy: deferred,
            slots: k,
            mode: async ? "async" : "rounds",
            // Everything fails (the failure is older than the range) or everything passes.
            run: () => (goodFails ? "bad" : "good"),
          });
          expect(decision.outcome).toBe(goodFails ? "good-is-bad" : "bad-is-good");
        },
      ),
      { numRuns: 200 },
    );
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
