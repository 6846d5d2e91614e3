import { describe, expect, it } from "vitest";
import { defaultPolicy, type CommitGraph, type Sha } from "../engine/types";
import { uselessInFlight } from "./useless";

function linear(n: number): { graph: CommitGraph; shas: Sha[] } {
  const shas = Array.from({ length: n }, (_, i) => i.toString(16).padStart(40, "0"));
  const commits: CommitGraph["commits"] = {};
  for (let i = 1; i < n; i++) commits[shas[i]!] = { parents: [shas[i - 1]!] };
  return { graph: { good: shas[0]!, bad: shas[n - 1]!, commits }, shas };
}

describe("uselessInFlight (with the real engine)", () => {
  const { graph, shas } = linear(100);
  const policy = { ...defaultPolicy };
  const known = [
    { sha: shas[0]!, verdict: "good" as const },
    { sha: shas[99]!, verdict: "bad" as const },
  ];

  it("finds runs above a known bad and below a known good", () => {
    const observations = [
      ...known,
      { sha: shas[60]!, verdict: "bad" as const },
      { sha: shas[20]!, verdict: "good" as const },
    ];
    const useless = uselessInFlight({
      graph,
      policy,
      observations,
      inFlight: [shas[80]!, shas[40]!, shas[10]!],
    });
    expect(useless.sort()).toEqual([shas[80]!, shas[10]!].sort());
  });

  it("keeps every run that can still narrow the range, and the endpoint checks", () => {
    expect(
      uselessInFlight({
        graph,
        policy,
        observations: known,
        inFlight: [shas[25]!, shas[50]!, shas[75]!],
      }),
    ).toEqual([]);
    expect(
      uselessInFlight({
        graph,
        policy,
        observations: [],
        inFlight: [shas[0]!, shas[99]!, shas[50]!],
      }),
    ).toEqual([]);
  });

  it("keeps the runs a commit still needs with several runs per commit", () => {
    const p3 = { ...policy, runs: 3, failThreshold: 2 };
    const observations = [
      ...known,
      ...known,
      ...known,
      { sha: shas[50]!, verdict: "bad" as const },
      { sha: shas[50]!, verdict: "bad" as const },
    ];
    expect(uselessInFlight({ graph, policy: p3, observations, inFlight: [shas[50]!] })).toEqual([]);
  });
});
