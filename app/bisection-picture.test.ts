import { describe, expect, it } from "vitest";
import { bisectionPicture, type PictureStep } from "./bisection-picture";

const sha = (i: number) => i.toString(16).padStart(40, "0");

/** good = c0 (outside), then c1..cN in a line; bad = cN. */
function linear(n: number) {
  const commits: Record<string, { parents: string[] }> = {};
  for (let i = 1; i <= n; i++) commits[sha(i)] = { parents: [sha(i - 1)] };
  return { good: sha(0), bad: sha(n), commits };
}

describe("bisectionPicture", () => {
  it("narrows a linear range round by round", () => {
    const graph = linear(16); // candidates c1..c16, culprit c5
    const steps: PictureStep[] = [
      { sha: sha(8), round: 1, verdict: "bad" },
      { sha: sha(4), round: 2, verdict: "good" },
      { sha: sha(6), round: 3, verdict: "bad" },
      { sha: sha(5), round: 4, verdict: "bad" },
    ];
    const picture = bisectionPicture({ graph, steps }, 16);
    expect(picture.commits).toBe(16);
    expect(picture.rows.map((r) => r.candidates)).toEqual([16, 8, 4, 2, 1]);
    expect(picture.rows.map((r) => r.round)).toEqual([1, 2, 3, 4, null]);
    expect(picture.rows[0]!.segments).toEqual([[0, 16]]);
    expect(picture.rows[1]!.segments).toEqual([[0, 8]]);
    expect(picture.rows[2]!.segments).toEqual([[4, 8]]);
    expect(picture.rows[4]!.segments).toEqual([[4, 5]]);
    expect(picture.rows[0]!.probes).toEqual([{ sha: sha(8), column: 7, verdict: "bad" }]);
  });

  it("keeps skipped and pending probes without narrowing, and places the good endpoint left of the range", () => {
    const graph = linear(8);
    const steps: PictureStep[] = [
      { sha: sha(0), round: 0, verdict: "good" },
      { sha: sha(8), round: 0, verdict: "bad" },
      { sha: sha(4), round: 1, verdict: "skip" },
      { sha: sha(3), round: 2, verdict: null },
    ];
    const picture = bisectionPicture({ graph, steps }, 8);
    expect(picture.rows.map((r) => r.candidates)).toEqual([8, 8, 8, 8]);
    expect(picture.rows[0]!.probes).toEqual([
      { sha: sha(0), column: -1, verdict: "good" },
      { sha: sha(8), column: 7, verdict: "bad" },
    ]);
    expect(picture.rows[2]!.probes[0]!.verdict).toBe("pending");
  });

  it("follows merges: a good side branch removes only its own ancestors", () => {
    // c1 - c2 - c4 (merge of c2 and c3) - c5 ; c3 branches from c1
    const commits = {
      [sha(1)]: { parents: [sha(0)] },
      [sha(2)]: { parents: [sha(1)] },
      [sha(3)]: { parents: [sha(1)] },
      [sha(4)]: { parents: [sha(2), sha(3)] },
      [sha(5)]: { parents: [sha(4)] },
    };
    const graph = { good: sha(0), bad: sha(5), commits };
    const picture = bisectionPicture(
      { graph, steps: [{ sha: sha(3), round: 1, verdict: "good" }] },
      10,
    );
    // c3 good clears c1 and c3; c2, c4, c5 remain.
    expect(picture.rows.at(-1)!.candidates).toBe(3);
    const firstParent = bisectionPicture({ graph, firstParent: true, steps: [] }, 10);
    expect(firstParent.commits).toBe(4);
  });

  it("needs failThreshold failures of runs before a commit counts as bad", () => {
    const graph = linear(8);
    const steps: PictureStep[] = [
      { sha: sha(4), round: 1, verdict: "bad" },
      { sha: sha(4), round: 1, verdict: "good" },
      { sha: sha(4), round: 1, verdict: "good" },
    ];
    expect(
      bisectionPicture({ graph, steps, runs: 3, failThreshold: 2 }).rows.at(-1)!.candidates,
    ).toBe(4);
    expect(
      bisectionPicture({ graph, steps, runs: 3, failThreshold: 1 }).rows.at(-1)!.candidates,
    ).toBe(4);
    expect(
      bisectionPicture({ graph, steps: steps.slice(0, 1), runs: 3, failThreshold: 1 }).rows.at(-1)!
        .candidates,
    ).toBe(4);
    // Undecided until enough runs agree: the range stays whole.
    expect(
      bisectionPicture({ graph, steps: steps.slice(1, 2), runs: 3, failThreshold: 1 }).rows.at(-1)!
        .candidates,
    ).toBe(8);
    expect(
      bisectionPicture({ graph, steps: steps.slice(0, 1), runs: 3, failThreshold: 2 }).rows.at(-1)!
        .candidates,
    ).toBe(8);
  });

  it("buckets a large range into the columns", () => {
    const graph = linear(100_000);
    const steps: PictureStep[] = [];
    let lo = 1;
    let hi = 100_000;
    const culprit = 31_337;
    for (let round = 1; lo < hi; round++) {
      const mid = Math.floor((lo + hi) / 2);
      const bad = mid >= culprit;
      steps.push({ sha: sha(mid), round, verdict: bad ? "bad" : "good" });
      if (bad) hi = mid;
      else lo = mid + 1;
    }
    const picture = bisectionPicture({ graph, steps }, 120);
    expect(picture.columns).toBe(120);
    expect(picture.rows.at(-1)!.candidates).toBe(1);
    expect(picture.rows[0]!.segments).toEqual([[0, 120]]);
  });

  it("shows the probes per round when the graph is not known yet", () => {
    const picture = bisectionPicture({
      graph: null,
      steps: [{ sha: sha(1), round: 1, verdict: "error" }],
    });
    expect(picture.commits).toBe(0);
    expect(picture.rows).toEqual([
      {
        round: 1,
        candidates: 0,
        segments: [],
        probes: [{ sha: sha(1), column: -1, verdict: "error" }],
      },
    ]);
  });
});
