import { describe, expect, it } from "vitest";
import { decide, EngineInputError } from "./engine";
import { dagGraph, linearGraph, prng, shuffleInput } from "./testkit";
import {
  defaultPolicy,
  isEndpointRun,
  reportedOutcome,
  type CommitGraph,
  type Decision,
  type EngineInput,
  type Observation,
  type Policy,
  type Verdict,
} from "./types";

const noVerify: Policy = { ...defaultPolicy, verifyEndpoints: false };

function input(
  graph: CommitGraph,
  partial: Omit<Partial<EngineInput>, "policy"> & { policy?: Partial<Policy> } = {},
): EngineInput {
  return {
    graph,
    observations: partial.observations ?? [],
    inFlight: partial.inFlight ?? [],
    slots: partial.slots ?? 1,
    policy: { ...noVerify, ...partial.policy },
  };
}

const obs = (...pairs: [string, Verdict][]): Observation[] =>
  pairs.map(([sha, verdict]) => ({ sha, verdict }));

function expectDone(d: Decision): Extract<Decision, { kind: "done" }> {
  if (d.kind !== "done") throw new Error(`expected done, got ${JSON.stringify(d)}`);
  return d;
}

describe("decide: linear ranges", () => {
  const g = linearGraph(16); // c0..c15, good = g

  it("probes the middle by git's weight with one slot", () => {
    // |C| = 16, target 8 → weight 8 = c7.
    expect(decide(input(g))).toEqual({ kind: "probe", probes: ["c7"], candidates: 16 });
  });

  it("splits into k+1 parts with k slots", () => {
    expect(decide(input(g, { slots: 3 }))).toEqual({
      kind: "probe",
      probes: ["c3", "c7", "c11"],
      candidates: 16,
    });
  });

  it("narrows the candidate set from verdicts and finds the first bad commit", () => {
    const d = decide(
      input(g, {
        observations: obs(["c7", "good"], ["c11", "bad"], ["c9", "bad"], ["c8", "good"]),
      }),
    );
    const done = expectDone(d);
    expect(done).toMatchObject({
      outcome: "found",
      culprit: "c9",
      candidates: ["c9"],
      confidence: 1,
    });
    expect(done.explanation).toContain("c9 is the first bad commit");
    expect(done.explanation).toContain("c8 passes");
  });

  it("reports the bad revision itself when everything below passes", () => {
    const d = expectDone(decide(input(g, { observations: obs(["c14", "good"]) })));
    expect(d).toMatchObject({ outcome: "found", culprit: "c15" });
    expect(d.explanation).toContain("assumed bad");
  });

  it("a single-commit range needs no run without endpoint verification", () => {
    expect(expectDone(decide(input(linearGraph(1))))).toMatchObject({
      outcome: "found",
      culprit: "c0",
    });
  });

  it("waits when every useful commit is in flight, and with no free slot", () => {
    const g3 = linearGraph(3);
    expect(decide(input(g3, { inFlight: ["c0", "c1"], slots: 2 }))).toEqual({
      kind: "wait",
      candidates: 3,
    });
    expect(decide(input(g, { slots: 0 }))).toEqual({ kind: "wait", candidates: 16 });
  });

  it("fills the gaps left by runs in flight", () => {
    // c7 (weight 8) is in flight: the two new probes go to the middles of [0,8] and [8,16].
    expect(decide(input(g, { inFlight: ["c7"], slots: 2 }))).toEqual({
      kind: "probe",
      probes: ["c3", "c11"],
      candidates: 16,
    });
  });

  it("never probes a decided commit", () => {
    const d = decide(input(g, { observations: obs(["c7", "good"]), slots: 8 }));
    expect(d.kind).toBe("probe");
    if (d.kind === "probe") {
      expect(d.probes).not.toContain("c7");
      expect(d.probes.every((s) => Number(s.slice(1)) > 7)).toBe(true);
      expect(d.candidates).toBe(8);
    }
  });
});

describe("decide: endpoint verification", () => {
  const g = linearGraph(16);
  const verify = { verifyEndpoints: true };

  it("tests the good revision first, then the bad one, with one slot", () => {
    expect(decide(input(g, { policy: verify }))).toEqual({
      kind: "probe",
      probes: ["g"],
      candidates: 16,
    });
    expect(decide(input(g, { policy: verify, observations: obs(["g", "good"]) }))).toEqual({
      kind: "probe",
      probes: ["c15"],
      candidates: 16,
    });
  });

  it("probes interior commits in the same round when slots allow", () => {
    expect(decide(input(g, { policy: verify, slots: 2 }))).toEqual({
      kind: "probe",
      probes: ["g", "c15"],
      candidates: 16,
    });
    expect(decide(input(g, { policy: verify, slots: 4 }))).toEqual({
      kind: "probe",
      probes: ["g", "c15", "c4", "c10"],
      candidates: 16,
    });
  });

  it("does not report a culprit before both endpoints are verified", () => {
    const o = obs(["c0", "bad"]);
    expect(decide(input(g, { policy: verify, observations: o, slots: 2 }))).toEqual({
      kind: "probe",
      probes: ["g", "c15"],
      candidates: 1,
    });
    expect(
      decide(input(g, { policy: verify, observations: o, inFlight: ["g", "c15"], slots: 2 })),
    ).toEqual({
      kind: "wait",
      candidates: 1,
    });
    const d = expectDone(
      decide(
        input(g, { policy: verify, observations: [...o, ...obs(["g", "good"], ["c15", "bad"])] }),
      ),
    );
    expect(d).toMatchObject({ outcome: "found", culprit: "c0", confidence: 1 });
    expect(d.explanation).toContain("the good revision g passes");
  });

  it("good-is-bad dominates everything else", () => {
    const d = expectDone(
      decide(
        input(g, {
          policy: verify,
          observations: obs(["g", "bad"], ["c3", "bad"], ["c4", "good"]),
        }),
      ),
    );
    expect(d).toMatchObject({
      outcome: "good-is-bad",
      culprit: null,
      candidates: [],
      confidence: 1,
    });
    expect(d.explanation).toContain("good revision g fails");
  });

  it("bad-is-good dominates everything else", () => {
    const d = expectDone(
      decide(input(g, { policy: verify, observations: obs(["c15", "good"], ["g", "good"]) })),
    );
    expect(d).toMatchObject({
      outcome: "bad-is-good",
      culprit: null,
      candidates: [],
      confidence: 1,
    });
    expect(d.explanation).toContain("bad revision c15 passes");
  });

  it("waits for an endpoint in flight before calling a contradiction flaky", () => {
    const o = obs(["c3", "bad"], ["c5", "good"]);
    expect(
      decide(input(g, { policy: verify, observations: o, inFlight: ["g", "c15"], slots: 1 })).kind,
    ).toBe("wait");
    expect(
      expectDone(
        decide(
          input(g, { policy: verify, observations: [...o, ...obs(["g", "bad"], ["c15", "bad"])] }),
        ),
      ).outcome,
    ).toBe("good-is-bad");
    expect(
      expectDone(
        decide(
          input(g, { policy: verify, observations: [...o, ...obs(["g", "good"], ["c15", "bad"])] }),
        ),
      ).outcome,
    ).toBe("flaky");
  });

  it("assumes an endpoint that cannot be tested, and says so", () => {
    const d = expectDone(
      decide(
        input(linearGraph(2), {
          policy: verify,
          observations: obs(["g", "skip"], ["c1", "bad"], ["c0", "good"]),
        }),
      ),
    );
    expect(d).toMatchObject({ outcome: "found", culprit: "c1" });
    expect(d.explanation).toContain("could not be tested; it was assumed good");
  });
});

describe("decide: skip, error and ambiguity", () => {
  const g = linearGraph(8);

  it("moves away from a skipped commit instead of probing its neighbours", () => {
    const d = decide(input(g, { observations: obs(["c3", "skip"]) }));
    expect(d.kind).toBe("probe");
    if (d.kind !== "probe") return;
    expect(d.candidates).toBe(8);
    expect(d.probes).toHaveLength(1);
    expect(["c2", "c3", "c4"]).not.toContain(d.probes[0]);
  });

  it("moves a probe a quarter away from a skipped stretch, on the side away from it", () => {
    const g16 = linearGraph(16);
    const probe = (o: Observation[]) => decide(input(g16, { observations: o }));
    // The middle is c7: skipped, the next probe is c3, not its neighbour c6 or c8.
    expect(probe(obs(["c7", "skip"]))).toEqual({ kind: "probe", probes: ["c3"], candidates: 16 });
    expect(probe(obs(["c7", "skip"], ["c8", "skip"]))).toEqual({
      kind: "probe",
      probes: ["c3"],
      candidates: 16,
    });
    // A skipped commit low in the range pushes the probe up, past the middle.
    expect(probe(obs(["c3", "skip"]))).toEqual({ kind: "probe", probes: ["c9"], candidates: 16 });
  });

  it("reports ambiguity like git: the skipped commits and the bad one", () => {
    const d = expectDone(
      decide(
        input(g, {
          observations: obs(["c1", "good"], ["c2", "skip"], ["c3", "skip"], ["c4", "bad"]),
        }),
      ),
    );
    expect(d).toMatchObject({
      outcome: "ambiguous",
      culprit: null,
      candidates: ["c2", "c3", "c4"],
      confidence: 1,
    });
    expect(d.explanation).toContain("could be any of 3 commits");
  });

  it("retries a commit after an error, and skips it after maxErrorsPerCommit errors", () => {
    const g2 = linearGraph(3);
    const o = obs(["c0", "good"], ["c1", "error"]);
    expect(decide(input(g2, { observations: o }))).toEqual({
      kind: "probe",
      probes: ["c1"],
      candidates: 2,
    });
    const d = expectDone(decide(input(g2, { observations: [...o, ...obs(["c1", "error"])] })));
    expect(d).toMatchObject({ outcome: "ambiguous", candidates: ["c1", "c2"] });
    const d3 = expectDone(
      decide(input(g2, { observations: o, policy: { maxErrorsPerCommit: 1 } })),
    );
    expect(d3.outcome).toBe("ambiguous");
  });
});

describe("decide: several runs per commit", () => {
  const g = linearGraph(4);
  const p3 = { runs: 3, failThreshold: 2 };

  it("starts every run a fresh commit needs, counting runs in flight", () => {
    expect(decide(input(g, { policy: p3, slots: 3 }))).toEqual({
      kind: "probe",
      probes: ["c1", "c1", "c1"],
      candidates: 4,
    });
    expect(decide(input(g, { policy: p3, slots: 3, inFlight: ["c1"] }))).toEqual({
      kind: "probe",
      probes: ["c1", "c1", "c0"],
      candidates: 4,
    });
    expect(decide(input(g, { policy: p3, slots: 1, inFlight: ["c1", "c1", "c1"] }))).toEqual({
      kind: "probe",
      probes: ["c0"],
      candidates: 4,
    });
  });

  it("decides by the fail threshold and measures the culprit's parent before reporting", () => {
    const o = obs(
      ["c1", "bad"],
      ["c1", "good"],
      ["c1", "bad"],
      ["c0", "good"],
      ["c0", "good"],
      ["c0", "good"],
    );
    const d = expectDone(decide(input(g, { policy: p3, observations: o })));
    expect(d).toMatchObject({ outcome: "found", culprit: "c1" });
    expect(d.confidence).toBeCloseTo(2 / 3);
    expect(d.explanation).toContain("fails in 2 of 3 runs");
    expect(d.explanation).toContain("c0 passes in 3 of 3 runs");
  });

  it("tests an inferred parent before reporting when runs > 1", () => {
    // g ← a ← p ← x ← t, p ← q, t merges x and q. q passes, x fails: C = {x}, and x's parent p is
    // only inferred good (an ancestor of q). With runs > 1 it gets its own runs first.
    const dag: CommitGraph = {
      good: "g",
      bad: "t",
      commits: {
        a: { parents: ["g"] },
        p: { parents: ["a"] },
        x: { parents: ["p"] },
        q: { parents: ["p"] },
        t: { parents: ["x", "q"] },
      },
    };
    const three = (sha: string, v: Verdict): [string, Verdict][] => [
      [sha, v],
      [sha, v],
      [sha, v],
    ];
    const o = obs(...three("q", "good"), ...three("x", "bad"));
    expect(decide(input(dag, { policy: p3, observations: o, slots: 5 }))).toEqual({
      kind: "probe",
      probes: ["p", "p", "p"],
      candidates: 1,
    });
    const d = expectDone(
      decide(input(dag, { policy: p3, observations: [...o, ...obs(...three("p", "good"))] })),
    );
    expect(d).toMatchObject({ outcome: "found", culprit: "x", confidence: 1 });
    // A parent that fails contradicts q passing: flaky, not a culprit.
    expect(
      expectDone(
        decide(input(dag, { policy: p3, observations: [...o, ...obs(...three("p", "bad"))] })),
      ).outcome,
    ).toBe("flaky");
    // With runs = 1 the inferred parent is trusted, as git bisect does.
    expect(
      expectDone(decide(input(dag, { observations: obs(["q", "good"], ["x", "bad"]) }))),
    ).toMatchObject({
      outcome: "found",
      culprit: "x",
      confidence: 1,
    });
  });

  it("measures the boundary parent (the good revision) when the culprit is the lowest commit", () => {
    const o = obs(["c0", "bad"], ["c0", "bad"], ["c0", "bad"]);
    expect(decide(input(g, { policy: p3, observations: o, slots: 5 }))).toEqual({
      kind: "probe",
      probes: ["g", "g", "g"],
      candidates: 1,
    });
    const d = expectDone(
      decide(
        input(g, {
          policy: p3,
          observations: [...o, ...obs(["g", "good"], ["g", "bad"], ["g", "good"])],
        }),
      ),
    );
    expect(d).toMatchObject({ outcome: "found", culprit: "c0" });
    expect(d.confidence).toBeCloseTo(2 / 3);
  });

  it("measures a boundary parent outside the range by sha, and calls it flaky if it fails", () => {
    // x's only parent "old" is an ancestor of the good revision (outside the range).
    const g2: CommitGraph = { good: "g", bad: "x", commits: { x: { parents: ["old"] } } };
    const x3 = obs(["x", "bad"], ["x", "bad"], ["x", "bad"]);
    expect(decide(input(g2, { policy: p3, observations: x3, slots: 3 }))).toEqual({
      kind: "probe",
      probes: ["old", "old", "old"],
      candidates: 1,
    });
    const bad = expectDone(
      decide(
        input(g2, {
          policy: p3,
          observations: [...x3, ...obs(["old", "bad"], ["old", "bad"], ["old", "good"])],
        }),
      ),
    );
    expect(bad.outcome).toBe("flaky");
    expect(bad.explanation).toContain(
      "old, the parent of x outside the range, fails in 2 of 3 runs",
    );
    const ok = expectDone(
      decide(
        input(g2, {
          policy: p3,
          observations: [...x3, ...obs(["old", "good"], ["old", "good"], ["old", "good"])],
        }),
      ),
    );
    expect(ok).toMatchObject({ outcome: "found", culprit: "x", confidence: 1 });
    expect(ok.explanation).toContain("old passes in 3 of 3 runs");
  });

  it("with the bad revision as culprit and no endpoint verification, runs it too", () => {
    const o = obs(["c2", "good"], ["c2", "good"], ["c2", "good"]);
    expect(decide(input(g, { policy: p3, observations: o, slots: 5 }))).toEqual({
      kind: "probe",
      probes: ["c3", "c3", "c3"],
      candidates: 1,
    });
  });

  it("weighs extra results in proportion", () => {
    // runs 1, four results 2 bad / 2 good: bad · 1 ≥ 1 · 4 is false → good.
    const o = obs(["c1", "bad"], ["c1", "good"], ["c1", "bad"], ["c1", "good"]);
    const d = decide(input(g, { observations: o }));
    expect(d.kind === "probe" && d.probes).toEqual(["c2"]);
  });
});

describe("decide: flakiness", () => {
  const g = linearGraph(16);

  it("calls a good commit above a bad one flaky and names both", () => {
    const d = expectDone(decide(input(g, { observations: obs(["c4", "bad"], ["c9", "good"]) })));
    expect(d).toMatchObject({ outcome: "flaky", culprit: null, candidates: [], confidence: 0 });
    expect(d.explanation).toContain("c4 fails but its descendant c9 passes");
  });

  it("calls failing branches without a possible common first bad commit flaky", () => {
    //   g ← a ← b1 ← m
    //         ↖ b2 ↙      a passes, b1 and b2 fail: no common candidate.
    const dag: CommitGraph = {
      good: "g",
      bad: "m",
      commits: {
        a: { parents: ["g"] },
        b1: { parents: ["a"] },
        b2: { parents: ["a"] },
        m: { parents: ["b1", "b2"] },
      },
    };
    const d = expectDone(
      decide(input(dag, { observations: obs(["a", "good"], ["b1", "bad"], ["b2", "bad"]) })),
    );
    expect(d.outcome).toBe("flaky");
    expect(d.explanation).toContain("b1, b2");
  });
});

describe("decide: merges and first-parent", () => {
  //  g ─ a ─ b ───────── m ─ t
  //       \             /
  //        s1 ─ s2 ─ s3
  const dag: CommitGraph = {
    good: "g",
    bad: "t",
    commits: {
      a: { parents: ["g"] },
      b: { parents: ["a"] },
      s1: { parents: ["a"] },
      s2: { parents: ["s1"] },
      s3: { parents: ["s2"] },
      m: { parents: ["b", "s3"] },
      t: { parents: ["m"] },
    },
  };

  it("uses git's weights on a DAG", () => {
    // Weights: a1 b2 s1:2 s2:3 s3:4 m6 t7; target 3.5 → s2 (3) beats s3 (4) by the lower tie.
    expect(decide(input(dag))).toEqual({ kind: "probe", probes: ["s2"], candidates: 7 });
  });

  it("finds a culprit on a side branch", () => {
    const d = expectDone(
      decide(input(dag, { observations: obs(["s2", "bad"], ["a", "good"], ["s1", "good"]) })),
    );
    expect(d).toMatchObject({ outcome: "found", culprit: "s2" });
  });

  it("ignores side-branch commits when following first parents", () => {
    const d = decide(input(dag, { policy: { firstParent: true }, slots: 8 }));
    expect(d).toEqual({ kind: "probe", probes: ["a", "b", "m"], candidates: 4 });
    const done = expectDone(
      decide(
        input(dag, {
          policy: { firstParent: true },
          observations: obs(["s2", "bad"], ["b", "good"], ["m", "bad"]),
        }),
      ),
    );
    expect(done).toMatchObject({ outcome: "found", culprit: "m" });
  });

  it("assumes parents outside the range are good", () => {
    const g2: CommitGraph = { good: "g", bad: "x", commits: { x: { parents: ["old", "g"] } } };
    expect(expectDone(decide(input(g2)))).toMatchObject({ outcome: "found", culprit: "x" });
  });
});

describe("decide: input", () => {
  it("rejects a bad revision outside the range and invalid policies", () => {
    const g = linearGraph(3);
    expect(() => decide(input({ ...g, bad: "nope" }))).toThrow(EngineInputError);
    expect(() => decide(input(g, { policy: { runs: 0 } }))).toThrow(EngineInputError);
    expect(() => decide(input(g, { policy: { runs: 2, failThreshold: 3 } }))).toThrow(
      EngineInputError,
    );
    expect(() => decide(input(g, { slots: -1 }))).toThrow(EngineInputError);
  });

  it("names the setting that is wrong, at each boundary", () => {
    const g = linearGraph(3);
    const problem = (policy: Record<string, unknown>, slots = 1): string | null => {
      try {
        decide(input(g, { policy: policy as Partial<Policy>, slots }));
        return null;
      } catch (error) {
        expect(error).toBeInstanceOf(EngineInputError);
        return (error as Error).message;
      }
    };
    expect(problem({ runs: 0, failThreshold: 0 })).toBe(
      "policy.runs must be an integer ≥ 1, got 0",
    );
    expect(problem({ runs: 1.5 })).toBe("policy.runs must be an integer ≥ 1, got 1.5");
    expect(problem({ runs: "2" })).toBe("policy.runs must be an integer ≥ 1, got 2");
    expect(problem({ runs: 2, failThreshold: 0 })).toBe(
      "policy.failThreshold must be an integer in 1..runs, got 0",
    );
    expect(problem({ runs: 2, failThreshold: 1.5 })).toBe(
      "policy.failThreshold must be an integer in 1..runs, got 1.5",
    );
    expect(problem({ runs: 2, failThreshold: 3 })).toBe(
      "policy.failThreshold must be an integer in 1..runs, got 3",
    );
    expect(problem({ maxErrorsPerCommit: -1 })).toBe(
      "policy.maxErrorsPerCommit must be an integer ≥ 0, got -1",
    );
    expect(problem({ maxErrorsPerCommit: 0.5 })).toBe(
      "policy.maxErrorsPerCommit must be an integer ≥ 0, got 0.5",
    );
    expect(problem({ confirmRuns: 0 })).toBe("policy.confirmRuns must be an integer ≥ 1, got 0");
    expect(problem({ confirmRuns: 1.5 })).toBe(
      "policy.confirmRuns must be an integer ≥ 1, got 1.5",
    );
    expect(problem({}, 1.5)).toBe("slots must be an integer ≥ 0, got 1.5");
    // The lowest valid values.
    expect(problem({ runs: 2, failThreshold: 2, maxErrorsPerCommit: 0, confirmRuns: 1 }, 0)).toBe(
      null,
    );
  });

  it("is deterministic and independent of key and observation order", () => {
    const g = linearGraph(40);
    const i = input(g, {
      observations: obs(["c9", "good"], ["c30", "bad"], ["c12", "skip"]),
      inFlight: ["c20"],
      slots: 4,
    });
    const random = prng(7);
    const first = decide(i);
    for (let k = 0; k < 10; k++) expect(decide(shuffleInput(i, random))).toEqual(first);
  });

  it("decides large linear ranges: k probes that split the candidates", () => {
    for (const n of [1024, 10_000]) {
      const half = n >> 1;
      const d = decide(
        input(linearGraph(n), { slots: 8, observations: obs([`c${half}`, "good"]) }),
      );
      expect(d).toMatchObject({ kind: "probe", candidates: n - half - 1 });
      if (d.kind !== "probe") throw new Error("expected probes");
      expect(d.probes).toHaveLength(8);
      for (const sha of d.probes) expect(Number(sha.slice(1))).toBeGreaterThan(half);
    }
  });

  it("decides a merge-heavy range of about 10k commits", () => {
    const random = prng(3);
    const ops = Array.from({ length: 9000 }, () => ({
      kind: Math.floor(random() * 10),
      a: Math.floor(random() * 1e6),
      b: Math.floor(random() * 1e6),
    }));
    const { graph } = dagGraph(ops);
    expect(Object.keys(graph.commits).length).toBeGreaterThan(9000);
    const d = decide(input(graph, { slots: 8 }));
    expect(d.kind).toBe("probe");
    if (d.kind === "probe") expect(new Set(d.probes).size).toBe(d.probes.length);
  });
});

describe("decide: the explanation a person reads", () => {
  const g = linearGraph(8);
  const explain = (o: Observation[], policy: Partial<Policy> = {}): string =>
    expectDone(decide(input(g, { observations: o, policy }))).explanation;
  const withReason = (sha: string, verdict: Verdict, reason: string): Observation => ({
    sha,
    verdict,
    reason,
  });

  it("says why there is nothing to bisect, for a regression and for a fix", () => {
    expect(explain(obs(["g", "bad"]))).toBe(
      "The good revision g fails: the failure is older than the range, so there is nothing to bisect. Choose an older good revision.",
    );
    expect(explain(obs(["g", "bad"], ["c7", "good"]))).toBe(
      "The good revision g fails, and the bad revision c7 passes: the failure is older than the range, so there is nothing to bisect. Choose an older good revision.",
    );
    expect(explain(obs(["g", "bad"]), { find: "fix" })).toBe(
      "The old revision (not yet fixed) g passes: it is already fixed there, so the fix is older than the range and there is nothing to bisect. Choose an older revision where it is not yet fixed.",
    );
    expect(explain(obs(["g", "good"], ["c7", "good"]))).toBe(
      "The bad revision c7 passes: the failure does not reproduce there, so there is nothing to bisect. Check the command and the bad revision.",
    );
    expect(explain(obs(["g", "good"], ["c7", "good"]), { find: "fix" })).toBe(
      "The new revision (fixed) c7 fails: it is not fixed there, so there is nothing to bisect. Check the command and the new revision.",
    );
  });

  it("points at the command when every run of an endpoint ended with exit 127 or 126", () => {
    const notFound =
      "Every run ended with exit 127 (command not found): the command does not exist where the test runs, so every commit would answer the same. Run it in an image that has the command, or check its spelling and PATH.";
    const notExecutable =
      "Every run ended with exit 126 (found but not executable): make the script executable (chmod +x, committed) or run it through its interpreter, e.g. sh ./test.sh.";
    expect(explain([withReason("g", "bad", "exit 127")])).toBe(
      `The good revision g fails. ${notFound}`,
    );
    expect(explain([withReason("g", "bad", "exit 126")])).toBe(
      `The good revision g fails. ${notExecutable}`,
    );
    expect(
      explain([{ sha: "g", verdict: "good" }, withReason("c7", "good", "exit 127")], {
        find: "fix",
      }),
    ).toBe(`The new revision (fixed) c7 fails. ${notFound}`);
    // One run that ended otherwise, or runs of another commit, give no hint.
    const policy = { runs: 2, failThreshold: 1 };
    expect(
      explain([withReason("g", "bad", "exit 127"), withReason("g", "bad", "exit 1")], policy),
    ).toBe(
      "The good revision g fails in 2 of 2 runs: the failure is older than the range, so there is nothing to bisect. Choose an older good revision.",
    );
    expect(
      explain([withReason("g", "bad", "exit 126"), withReason("g", "bad", "exit 127")], policy),
    ).not.toMatch(/Every run ended/);
    expect(
      explain([withReason("c3", "bad", "exit 127"), { sha: "g", verdict: "bad" }]),
    ).not.toMatch(/Every run ended/);
    // An exit code that merely contains 127 is not one.
    expect(explain([withReason("g", "bad", "exit 1270")])).not.toMatch(/Every run ended/);
  });

  it("names the culprit and what its parent did", () => {
    expect(explain(obs(["c3", "good"], ["c4", "bad"]))).toBe(
      "c4 is the first bad commit: it fails, and its parent c3 passes.",
    );
    expect(explain(obs(["c3", "good"], ["c4", "bad"]), { find: "fix" })).toBe(
      "c4 is the first fixed commit: it passes, and its parent c3 fails.",
    );
    expect(explain(obs(["c0", "bad"]))).toBe(
      "c0 is the first bad commit: it fails, and its parent the good revision g is assumed good.",
    );
    expect(
      explain(obs(["c0", "bad"], ["g", "good"], ["c7", "bad"]), { verifyEndpoints: true }),
    ).toBe("c0 is the first bad commit: it fails, and its parent the good revision g passes.");
  });
});

describe("decide: the explanation on merges, roots and many commits", () => {
  //  g ─ a ─ b ───────── m ─ t
  //       \             /
  //        s1 ─ s2 ─ s3
  const dag: CommitGraph = {
    good: "g",
    bad: "t",
    commits: {
      a: { parents: ["g"] },
      b: { parents: ["a"] },
      s1: { parents: ["a"] },
      s2: { parents: ["s1"] },
      s3: { parents: ["s2"] },
      m: { parents: ["b", "s3"] },
      t: { parents: ["m"] },
    },
  };
  const explain = (graph: CommitGraph, o: Observation[], policy: Partial<Policy> = {}): string =>
    expectDone(decide(input(graph, { observations: o, policy }))).explanation;

  it("lists both parents of a merge culprit", () => {
    expect(explain(dag, obs(["m", "bad"], ["b", "good"], ["s3", "good"]))).toBe(
      "m is the first bad commit: it fails, and its parents b passes; s3 passes.",
    );
  });

  it("says why an untested parent counts as good", () => {
    // x, a descendant of b off the merge, passes: b is good without a run of its own.
    const withX: CommitGraph = {
      ...dag,
      commits: { ...dag.commits, x: { parents: ["b"] }, t: { parents: ["m", "x"] } },
    };
    expect(explain(withX, obs(["m", "bad"], ["x", "good"], ["s3", "good"]))).toBe(
      "m is the first bad commit: it fails, and its parents b is good (an ancestor of a good commit); s3 passes.",
    );
    const outside: CommitGraph = { good: "g", bad: "x", commits: { x: { parents: ["old", "g"] } } };
    expect(explain(outside, [])).toBe(
      "x is the first bad commit: it is the bad revision (assumed bad, not tested), and its parent old is assumed good (an ancestor of the good revision).",
    );
    const root: CommitGraph = { good: "g", bad: "x", commits: { x: { parents: [] } } };
    expect(explain(root, [])).toBe(
      "x is the first bad commit: it is the bad revision (assumed bad, not tested), and it has no parent (a root commit).",
    );
  });

  it("shortens shas to 12 characters", () => {
    const [a, b] = ["a".repeat(40), "b".repeat(40)];
    expect(explain({ good: a, bad: b, commits: { [b]: { parents: [a] } } }, [])).toBe(
      `${b.slice(0, 12)} is the first bad commit: it is the bad revision (assumed bad, not tested), and its parent the good revision ${a.slice(0, 12)} is assumed good.`,
    );
  });

  it("names failing branches without a common first bad commit, ten at most", () => {
    const tail =
      "have no common ancestor in the range that could be the first bad commit (the failure may have been introduced more than once). The test looks flaky; consider more runs per commit.";
    expect(explain(dag, obs(["b", "bad"], ["s3", "bad"], ["a", "good"], ["s2", "good"]))).toBe(
      `The results contradict each other: the failing commits b, s3 ${tail}`,
    );
    expect(
      explain(dag, obs(["b", "bad"], ["s3", "bad"], ["a", "good"], ["s2", "good"]), {
        find: "fix",
      }),
    ).toBe(
      "The results contradict each other: the fixed commits b, s3 have no common ancestor in the range that could be the first fixed commit (the fix may have been made more than once). The test looks flaky; consider more runs per commit.",
    );
    const wide = (k: number): CommitGraph => {
      const commits: CommitGraph["commits"] = {
        t: { parents: Array.from({ length: k }, (_, i) => `p${i}`) },
      };
      for (let i = 0; i < k; i++) commits[`p${i}`] = { parents: ["g"] };
      return { good: "g", bad: "t", commits };
    };
    const allBad = (k: number) =>
      obs(...Array.from({ length: k }, (_, i): [string, Verdict] => [`p${i}`, "bad"]));
    const ten = "p0, p1, p2, p3, p4, p5, p6, p7, p8, p9";
    expect(explain(wide(10), allBad(10))).toBe(
      `The results contradict each other: the failing commits ${ten} ${tail}`,
    );
    expect(explain(wide(12), allBad(12))).toBe(
      `The results contradict each other: the failing commits ${ten} and 2 more ${tail}`,
    );
  });

  it("reports the skipped commits that leave the answer open", () => {
    const g = linearGraph(8);
    expect(explain(g, obs(["c3", "good"], ["c4", "skip"], ["c5", "skip"], ["c6", "bad"]))).toBe(
      "The first bad commit could be any of 3 commits: c6 (bad) or the skipped c4, c5, which could not be tested.",
    );
    expect(
      explain(g, obs(["g", "skip"], ["c7", "skip"], ["c3", "good"], ["c4", "bad"]), {
        verifyEndpoints: true,
      }),
    ).toBe(
      "c4 is the first bad commit: it fails, and its parent c3 passes. The good revision g could not be tested; it was assumed good. The bad revision c7 could not be tested; it was assumed bad.",
    );
  });
});

describe("decide: confirmation runs", () => {
  const g = linearGraph(8);
  const policy: Partial<Policy> = { runs: 3, failThreshold: 2, confirmRuns: 5 };

  it("confirms a failing good revision whose runs disagree before calling it good-is-bad", () => {
    const o = obs(["g", "bad"], ["g", "bad"], ["g", "good"]);
    const d = decide(
      input(g, { observations: o, policy: { ...policy, verifyEndpoints: true }, slots: 4 }),
    );
    expect(d).toEqual({ kind: "probe", probes: ["g", "g", "c7", "c7"], candidates: 8 });
    // Without confirmation runs, the same runs are the answer.
    const now = expectDone(
      decide(
        input(g, { observations: o, policy: { runs: 3, failThreshold: 2, verifyEndpoints: true } }),
      ),
    );
    expect(now.outcome).toBe("good-is-bad");
  });

  it("confirms a passing bad revision whose runs disagree", () => {
    const o = obs(
      ["g", "good"],
      ["g", "good"],
      ["g", "good"],
      ["c7", "good"],
      ["c7", "good"],
      ["c7", "bad"],
    );
    const d = decide(
      input(g, { observations: o, policy: { ...policy, verifyEndpoints: true }, slots: 4 }),
    );
    expect(d).toEqual({ kind: "probe", probes: ["c7", "c7"], candidates: 0 });
  });

  it("confirms a culprit whose runs disagree, then reports it as likely", () => {
    const o = obs(
      ["c3", "good"],
      ["c3", "good"],
      ["c3", "good"],
      ["c4", "bad"],
      ["c4", "bad"],
      ["c4", "good"],
    );
    expect(decide(input(g, { observations: o, policy, slots: 4 }))).toEqual({
      kind: "probe",
      probes: ["c4", "c4"],
      candidates: 1,
    });
    const d = expectDone(
      decide(
        input(g, { observations: [...o, ...obs(["c4", "bad"], ["c4", "bad"])], policy, slots: 4 }),
      ),
    );
    expect(d).toEqual({
      kind: "done",
      outcome: "found",
      culprit: "c4",
      candidates: ["c4"],
      confidence: 0.8,
      certain: false,
      explanation:
        "c4 is likely the first bad commit, but not surely: it fails in 4 of 5 runs, and its parent c3 passes in 3 of 3 runs (confidence 0.80, below 0.9). More runs of c4 and its parent would settle it.",
    });
  });

  it("reports a sure culprit without a `certain` flag", () => {
    const d = expectDone(decide(input(g, { observations: obs(["c3", "good"], ["c4", "bad"]) })));
    expect(d).toEqual({
      kind: "done",
      outcome: "found",
      culprit: "c4",
      candidates: ["c4"],
      confidence: 1,
      explanation: "c4 is the first bad commit: it fails, and its parent c3 passes.",
    });
  });
});

describe("decide: runs planned once, endpoint lanes", () => {
  it("plans a commit's runs once when the answer needs it twice", () => {
    // c0 is the culprit; its parent outside the range is the good revision, which the endpoint
    // check and the culprit's confirmation both ask for: two runs, not four.
    const g = linearGraph(8);
    const d = decide(
      input(g, {
        observations: obs(["c0", "bad"], ["c0", "bad"], ["c7", "bad"], ["c7", "bad"]),
        policy: { runs: 2, failThreshold: 1, verifyEndpoints: true },
        slots: 4,
      }),
    );
    expect(d).toEqual({ kind: "probe", probes: ["g", "g"], candidates: 1 });
  });

  it("gives each endpoint one run at a time beside the probes", () => {
    const g = linearGraph(100);
    const policy = { runs: 3, failThreshold: 2, verifyEndpoints: true, overlapEndpoints: true };
    expect(decide(input(g, { policy, slots: 3 }))).toEqual({
      kind: "probe",
      probes: ["g", "c99", "c49", "c49", "c49"],
      candidates: 100,
    });
    // One run of each endpoint in flight: no second one, and the probes keep their slots.
    expect(decide(input(g, { policy, slots: 3, inFlight: ["g", "c99"] }))).toEqual({
      kind: "probe",
      probes: ["c49", "c49", "c49"],
      candidates: 100,
    });
    // After a result, the next run of that endpoint.
    expect(
      decide(input(g, { policy, slots: 0, observations: obs(["g", "good"]), inFlight: ["c99"] })),
    ).toEqual({ kind: "probe", probes: ["g"], candidates: 100 });
  });
});

describe("decide: contradictions anywhere in the graph", () => {
  it("finds a failing first commit below a passing one", () => {
    const d = expectDone(
      decide(input(linearGraph(8), { observations: obs(["c0", "bad"], ["c3", "good"]) })),
    );
    expect(d.explanation).toBe(
      "The results contradict each other: c0 fails but its descendant c3 passes. The test looks flaky; consider more runs per commit.",
    );
  });

  it("follows a merge's second parent to the failing commit", () => {
    //  g ─ a ─ b ───── m ─ t
    //       \         /
    //        s1 ─ s2
    const dag: CommitGraph = {
      good: "g",
      bad: "t",
      commits: {
        a: { parents: ["g"] },
        b: { parents: ["a"] },
        s1: { parents: ["a"] },
        s2: { parents: ["s1"] },
        m: { parents: ["b", "s2"] },
        t: { parents: ["m"] },
      },
    };
    const d = expectDone(decide(input(dag, { observations: obs(["s1", "bad"], ["m", "good"]) })));
    expect(d.explanation).toBe(
      "The results contradict each other: s1 fails but its descendant m passes. The test looks flaky; consider more runs per commit.",
    );
  });
});

describe("what is reported", () => {
  it("calls an uncertain culprit likely, and every other outcome by its name", () => {
    expect(reportedOutcome({ outcome: "found", certain: false })).toBe("likely");
    expect(reportedOutcome({ outcome: "found" })).toBe("found");
    expect(reportedOutcome({ outcome: "flaky", certain: false })).toBe("flaky");
    expect(reportedOutcome({ outcome: "ambiguous" })).toBe("ambiguous");
  });

  it("counts runs of either endpoint as endpoint checks, and no other", () => {
    const g = linearGraph(3);
    expect([g.good, g.bad, "c1"].map((sha) => isEndpointRun(g, sha))).toEqual([true, true, false]);
  });
});
