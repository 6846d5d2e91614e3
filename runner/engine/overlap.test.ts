// Endpoint checks alongside the first probes: no round of their own, and a failed check still wins.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decide } from "./engine";
import { ceilLog, linearGraph, simulate } from "./testkit";
import { defaultPolicy, type Policy } from "./types";

const overlap: Policy = { ...defaultPolicy, verifyEndpoints: true, overlapEndpoints: true };

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
            policy: overlap,
            slots: k,
            mode: async ? "async" : "rounds",
            run: (sha) =>
              sha === "g"
                ? goodFails
                  ? "bad"
                  : "good"
                : sha === graph.bad
                  ? goodFails
                    ? "bad"
                    : "good"
                  : "bad",
          });
          expect(decision.outcome).toBe(goodFails ? "good-is-bad" : "bad-is-good");
        },
      ),
      { numRuns: 200 },
    );
  });
});
