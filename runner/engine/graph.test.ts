import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildRange, candidateSet, candidateWeights, EngineInputError } from "./graph";
import { selectCandidates, sortByWeightThenRank } from "./select";
import { ancestorsOrSelf, dagGraph, firstParentChain, linearGraph, type DagOp } from "./testkit";
import type { Sha } from "./types";

const opArb: fc.Arbitrary<DagOp> = fc.record({ kind: fc.nat(9), a: fc.nat(1000), b: fc.nat(1000) });
const opsArb = fc.array(opArb, { minLength: 0, maxLength: 60 });

describe("buildRange", () => {
  it("orders parents before children and keeps every reachable commit", () => {
    fc.assert(
      fc.property(opsArb, fc.boolean(), (ops, fp) => {
        const { graph } = dagGraph(ops);
        const g = buildRange(graph, fp);
        expect(g.shas[g.tip]).toBe(graph.bad);
        if (fp) expect(g.shas).toEqual(firstParentChain(graph));
        else expect(new Set(g.shas)).toEqual(new Set(Object.keys(graph.commits)));
        for (let i = 0; i < g.shas.length; i++) {
          for (let e = g.parentStart[i]!; e < g.parentStart[i + 1]!; e++)
            expect(g.parents[e]!).toBeLessThan(i);
        }
      }),
    );
  });

  it("rejects a cycle and a bad revision outside the range", () => {
    expect(() =>
      buildRange(
        { good: "g", bad: "a", commits: { a: { parents: ["b"] }, b: { parents: ["a"] } } },
        false,
      ),
    ).toThrow(EngineInputError);
    expect(() => buildRange({ ...linearGraph(2), bad: "zz" }, false)).toThrow(
      /not in the commit range/,
    );
  });
});

describe("candidate set and weights", () => {
  it("match a brute-force computation on random DAGs", () => {
    fc.assert(
      fc.property(
        opsArb,
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (ops, badPicks, goodPicks) => {
          const { graph } = dagGraph(ops);
          const g = buildRange(graph, false);
          const n = g.shas.length;
          const bads = [g.tip, ...badPicks.map((x) => x % n)];
          const goods = goodPicks.map((x) => x % n).filter((x) => !bads.includes(x));
          const inC = candidateSet(g, bads, goods);

          const parents = new Map<Sha, Sha[]>();
          for (const sha of g.shas)
            parents.set(
              sha,
              graph.commits[sha]!.parents.filter((p) => g.index.has(p)),
            );
          const anc = (i: number) => ancestorsOrSelf(parents, g.shas[i]!);
          const expected = new Set(
            g.shas.filter(
              (s) => bads.every((b) => anc(b).has(s)) && !goods.some((x) => anc(x).has(s)),
            ),
          );
          expect(new Set(g.shas.filter((_, i) => inC[i]))).toEqual(expected);

          const members = Int32Array.from(g.shas.map((_, i) => i).filter((i) => inC[i]));
          for (const budget of [undefined, 1, 3]) {
            const w = candidateWeights(g, members, budget);
            members.forEach((node, j) => {
              const brute = [...anc(node)].filter((s) => expected.has(s)).length;
              expect(w[j]).toBe(brute);
            });
          }
        },
      ),
    );
  });
});

describe("selectCandidates", () => {
  it("cuts a linear candidate set into k+1 parts of at most ⌈|C|/(k+1)⌉", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 600 }), fc.integer({ min: 1, max: 8 }), (size, k) => {
        // Fresh candidates: weights 1..size-1 (the bad commit, weight |C|, is never probed).
        const weights = Array.from({ length: size - 1 }, (_, i) => i + 1);
        const chosen = selectCandidates({
          size,
          occupied: [],
          freshWeights: weights,
          freshRank: weights,
          count: k,
        });
        expect(chosen.length).toBe(Math.min(k, size - 1));
        const points = [0, ...chosen.map((i) => weights[i]!), size];
        for (let i = 1; i < points.length; i++) {
          expect(points[i]! - points[i - 1]!).toBeGreaterThan(0);
          expect(points[i]! - points[i - 1]!).toBeLessThanOrEqual(Math.ceil(size / (k + 1)));
        }
      }),
    );
  });

  it("fills the gaps between points already occupied, without duplicates", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 300 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        fc.integer({ min: 1, max: 8 }),
        (size, occ, k) => {
          const occupied = [...new Set(occ.map((x) => 1 + (x % (size - 1))))];
          const weights = Array.from({ length: size - 1 }, (_, i) => i + 1).filter(
            (w) => !occupied.includes(w),
          );
          const chosen = selectCandidates({
            size,
            occupied,
            freshWeights: weights,
            freshRank: weights,
            count: k,
          });
          expect(new Set(chosen).size).toBe(chosen.length);
          expect(chosen.length).toBe(Math.min(k, weights.length));
          if (occupied.length === 1 && k === 1 && size >= 4) {
            // One new point goes into the larger side.
            const w = weights[chosen[0]!]!;
            const larger = occupied[0]! >= size - occupied[0]! ? "low" : "high";
            expect(larger === "low" ? w < occupied[0]! : w > occupied[0]!).toBe(true);
          }
        },
      ),
    );
  });
});

describe("sortByWeightThenRank", () => {
  it("orders by weight, then rank, whichever way it sorts", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ w: fc.nat(40), r: fc.nat(40) }), { maxLength: 60 }),
        fc.integer({ min: 0, max: 50 }),
        fc.boolean(),
        (items, size, ascendingRanks) => {
          const ranks = ascendingRanks ? items.map((_, i) => i) : items.map((x) => x.r);
          const weights = items.map((x) => x.w);
          const expected = items
            .map((_, i) => i)
            .sort((a, b) => weights[a]! - weights[b]! || ranks[a]! - ranks[b]! || a - b);
          expect(Array.from(sortByWeightThenRank(weights, ranks, size))).toEqual(expected);
        },
      ),
    );
  });

  it("keeps equal weights in rank order and accepts weights up to size", () => {
    expect(Array.from(sortByWeightThenRank([3, 1, 3, 0, 1], [0, 1, 2, 3, 4], 3))).toEqual([
      3, 1, 4, 0, 2,
    ]);
    expect(Array.from(sortByWeightThenRank([2, 2, 1], [5, 4, 9], 2))).toEqual([2, 1, 0]);
    expect(Array.from(sortByWeightThenRank([1.5, 0.5], [0, 1], 2))).toEqual([1, 0]);
    expect(Array.from(sortByWeightThenRank([], [], 0))).toEqual([]);
  });
});
