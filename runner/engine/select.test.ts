import { describe, expect, it } from "vitest";
import { selectCandidates, sortByWeightThenRank } from "./select";

/** Fresh candidates with these weights, ranked in the order given. */
const choose = (
  size: number,
  weights: number[],
  count: number,
  more: { occupied?: number[]; avoid?: number[]; rank?: number[] } = {},
): number[] =>
  selectCandidates({
    size,
    occupied: more.occupied ?? [],
    freshWeights: weights,
    freshRank: more.rank ?? weights.map((_, i) => i),
    count,
    avoid: more.avoid,
  }).map((i) => weights[i]!);
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("selectCandidates: even splits", () => {
  it("takes the weights closest to i·|C|/(k+1)", () => {
    expect(choose(16, range(1, 16), 1)).toEqual([8]);
    expect(choose(16, range(1, 16), 3)).toEqual([4, 8, 12]);
    expect(choose(16, range(1, 16), 7)).toEqual([2, 4, 6, 8, 10, 12, 14]);
  });

  it("breaks ties by the lower weight, then by the lower rank", () => {
    expect(choose(16, [7, 9], 1)).toEqual([7]);
    expect(choose(16, [9, 7], 1)).toEqual([7]);
    const picked = selectCandidates({
      size: 16,
      occupied: [],
      freshWeights: [8, 8, 8],
      freshRank: [5, 2, 9],
      count: 1,
    });
    expect(picked).toEqual([1]);
  });

  it("breaks a tie below the target by the lowest rank among the equal weights", () => {
    // Target 8: the 7s and the 9 are as close; the lower weight wins, and of the 7s the lowest rank.
    const pick = (freshRank: number[], count: number) =>
      selectCandidates({ size: 16, occupied: [], freshWeights: [7, 7, 7, 9], freshRank, count });
    expect(pick([5, 2, 9, 0], 1)).toEqual([1]);
    expect(pick([2, 5, 9, 0], 1)).toEqual([0]);
    // Targets 16/3 and 32/3: the 7s first, each once, by rank.
    const three = (freshRank: number[]) =>
      selectCandidates({ size: 16, occupied: [], freshWeights: [7, 7, 7], freshRank, count: 2 });
    expect(three([5, 2, 9])).toEqual([1, 0]);
    expect(three([9, 5, 2])).toEqual([2, 1]);
    // Ranks are any numbers, below zero too.
    expect(three([-1, -5, -3])).toEqual([1, 2]);
  });

  it("never picks a candidate twice, and picks the next closest instead", () => {
    expect(choose(16, [1, 2, 15, 16], 2)).toEqual([2, 15]);
    expect(choose(16, [1, 2, 3], 2)).toEqual([2, 3]);
    expect(choose(16, [14, 15, 16], 2)).toEqual([14, 15]);
    expect(choose(16, [8, 8, 8], 3)).toEqual([8, 8, 8]);
  });

  it("returns the chosen ones by weight, then rank, whatever the input order", () => {
    const weights = range(1, 16).reverse();
    const picked = selectCandidates({
      size: 16,
      occupied: [],
      freshWeights: weights,
      freshRank: weights.map((_, i) => i),
      count: 3,
    });
    expect(picked).toEqual([12, 8, 4]);
    expect(picked.map((i) => weights[i])).toEqual([4, 8, 12]);
  });

  it("chooses nothing for no count, and at most every fresh candidate", () => {
    expect(choose(16, range(1, 16), 0)).toEqual([]);
    expect(choose(16, range(1, 16), -1)).toEqual([]);
    expect(choose(16, [], 3)).toEqual([]);
    expect(choose(16, [3, 9], 5)).toEqual([3, 9]);
  });
});

describe("selectCandidates: around commits already being tested", () => {
  it("fills the largest gaps between occupied points, in any order given", () => {
    expect(choose(16, range(1, 16), 2, { occupied: [8] })).toEqual([4, 12]);
    expect(choose(16, range(1, 16), 1, { occupied: [12, 4] })).toEqual([8]);
    expect(choose(16, range(1, 16), 2, { occupied: [4] })).toEqual([8, 12]);
    // A third point: the gap of 12 split three ways (4) ties the gap of 4; the lower gap wins.
    expect(choose(16, range(1, 16), 3, { occupied: [4] })).toEqual([2, 8, 12]);
    expect(choose(100, range(1, 100), 2, { occupied: [90, 10] })).toEqual([37, 63]);
  });
});

describe("selectCandidates: away from skipped commits", () => {
  const without = (skip: number[]) => range(1, 16).filter((w) => !skip.includes(w));

  it("moves a pick away from a skipped stretch rather than to its neighbour", () => {
    expect(choose(16, without([8]), 1, { avoid: [8] })).toEqual([4]);
    expect(choose(16, without([8, 9]), 1, { avoid: [9, 8] })).toEqual([4]);
    expect(choose(16, without([4]), 1, { avoid: [4] })).toEqual([10]);
  });

  it("prefers a candidate outside a skipped stretch to one between two skipped commits", () => {
    // 6 lies between the skipped 5 and 7: almost surely untestable too.
    expect(choose(16, [6, 15], 1, { avoid: [5, 7] })).toEqual([15]);
    expect(choose(16, [6, 2], 1, { avoid: [5, 7] })).toEqual([2]);
  });
});

describe("sortByWeightThenRank", () => {
  const sorted = (weights: number[], rank: number[], size: number) =>
    Array.from(sortByWeightThenRank(weights, rank, size));

  it("orders by weight, then rank, by counting or by comparison alike", () => {
    expect(sorted([3, 1, 2, 1], [0, 1, 2, 3], 3)).toEqual([1, 3, 2, 0]);
    // A size too large for counting, ranks out of order, weights that are not whole or in range.
    expect(sorted([3, 1, 2, 1], [0, 1, 2, 3], 1_000_000)).toEqual([1, 3, 2, 0]);
    expect(sorted([1, 1, 1, 1], [0, 3, 2, 1], 1)).toEqual([0, 3, 2, 1]);
    expect(sorted([1.5, 0.5], [0, 1], 2)).toEqual([1, 0]);
    expect(sorted([5, 2], [0, 1], 3)).toEqual([1, 0]);
    expect(sorted([-1, 2], [0, 1], 3)).toEqual([0, 1]);
    expect(sorted([2, 2, 0], [0, 1, 2], 2)).toEqual([2, 0, 1]);
    expect(sorted([], [], 0)).toEqual([]);
    // A size too large for any array: compared, not counted.
    expect(sorted([3, 1, 3], [0, 1, 2], 2 ** 40)).toEqual([1, 0, 2]);
  });
});
