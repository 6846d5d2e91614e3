import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CommitTable, CompactGraph, RevListFormatError, tableOf } from "./compact";
import { decide } from "./engine";
import { buildRange, candidateSet, candidatesOf, candidateWeights } from "./graph";
import { ancestorsOrSelf, dagGraph, linearGraph, topicGraph, type DagOp } from "./testkit";
import { defaultPolicy, type CommitGraph, type Sha } from "./types";

const hex = (i: number): Sha =>
  (i * 2654435761 + 12345).toString(16).padStart(8, "0").repeat(5).slice(0, 40);
const A = hex(1);
const B = hex(2);
const C = hex(3);
const D = hex(4);

/** rev-list text for a graph whose names are mapped to 40-hex shas. */
function asRevList(graph: CommitGraph): { text: string; name: (s: Sha) => Sha } {
  const names = new Map<Sha, Sha>();
  const name = (s: Sha): Sha => {
    let h = names.get(s);
    if (!h) {
      h = hex(names.size + 100);
      names.set(s, h);
    }
    return h;
  };
  const text = Object.entries(graph.commits)
    .map(([sha, c]) => [sha, ...c.parents].map(name).join(" "))
    .join("\n");
  return { text: `${text}\n`, name };
}

const opArb: fc.Arbitrary<DagOp> = fc.record({ kind: fc.nat(9), a: fc.nat(1000), b: fc.nat(1000) });

describe("CommitTable.fromRevList", () => {
  it("reads git's lines: parents in order, parents outside the list kept by sha", () => {
    const t = CommitTable.fromRevList(`${C} ${B} ${D}\n${B} ${A}\n`);
    expect(t.size).toBe(2);
    expect(t.record).toEqual({ [C]: { parents: [B, D] }, [B]: { parents: [A] } });
    expect(t.shas.find(C)).toBe(0);
    expect(t.shas.find(B)).toBe(1);
    expect(t.shas.find(A)).toBe(-1);
    expect(t.shas.find("not-a-sha")).toBe(-1);
    expect(t.shas.at(1)).toBe(B);
    expect(t.outside).toEqual([D, A]);
  });

  it("gives the same graph from a string and from bytes, and ignores blank lines and a CRLF", () => {
    const text = `\n${C} ${B}\r\n\n${B}\n`;
    expect(CommitTable.fromRevList(Buffer.from(text)).record).toEqual(
      CommitTable.fromRevList(text).record,
    );
    expect(CommitTable.fromRevList(text).record).toEqual({
      [C]: { parents: [B] },
      [B]: { parents: [] },
    });
    expect(CommitTable.fromRevList("").size).toBe(0);
  });

  it.each([
    ["a warning", "warning: something\n"],
    ["a short sha", `${C.slice(0, 39)} ${B}\n`],
    ["an upper-case sha", `${C.toUpperCase()}\n`],
    ["a parent that is not hex", `${C} ${B.slice(0, 39)}z\n`],
    ["two spaces", `${C}  ${B}\n`],
    ["a commit listed twice", `${C} ${B}\n${C}\n`],
  ])("refuses %s with the line it could not read", (_, text) => {
    expect(() => CommitTable.fromRevList(text)).toThrow(RevListFormatError);
    expect(() => CommitTable.fromRevList(text)).toThrow(/unexpected git rev-list output line/);
  });

  it("keeps every commit and parent of random histories", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
        const { graph } = dagGraph(ops);
        const { text, name } = asRevList(graph);
        const expected: CommitGraph["commits"] = {};
        for (const [sha, c] of Object.entries(graph.commits))
          expected[name(sha)] = { parents: c.parents.map(name) };
        expect(CommitTable.fromRevList(text).record).toEqual(expected);
      }),
    );
  });
});

describe("CompactGraph", () => {
  it("is a CommitGraph: the same decisions as the plain form, and the plain form in JSON", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), fc.nat(), (ops, pick) => {
        const { graph } = dagGraph(ops);
        const { text, name } = asRevList(graph);
        const compact = CompactGraph.fromRevList(name(graph.good), name(graph.bad), text);
        const plain: CommitGraph = JSON.parse(JSON.stringify(compact));
        expect(plain.good).toBe(name(graph.good));
        expect(Object.keys(plain.commits)).toHaveLength(Object.keys(graph.commits).length);
        const shas = Object.keys(plain.commits);
        const observations = [{ sha: shas[pick % shas.length]!, verdict: "good" as const }];
        const policy = { ...defaultPolicy, verifyEndpoints: false };
        for (const slots of [1, 3]) {
          const input = { policy, observations, inFlight: [], slots };
          expect(decide({ ...input, graph: compact })).toEqual(decide({ ...input, graph: plain }));
        }
      }),
    );
  });

  it("keeps its commits when copied with other endpoints", () => {
    const { text, name } = asRevList(linearGraph(3));
    const compact = CompactGraph.fromRevList(name("g"), name("c2"), text);
    expect(compact.size).toBe(3);
    expect(compact.parentsOf(name("c1"))).toEqual([name("c0")]);
    expect(compact.parentsOf(name("c0"))).toEqual([name("g")]);
    expect(compact.parentsOf(name("g"))).toBeUndefined();
    const moved = { ...compact, bad: name("c1") };
    expect(buildRange(moved, false).shas).toEqual([name("c0"), name("c1")]);
    expect(tableOf(moved)).toBe(compact.table);
  });

  it("converts a plain graph once, whatever the endpoints", () => {
    const g = linearGraph(5);
    expect(tableOf(g)).toBe(tableOf({ ...g, bad: "c2" }));
    expect(buildRange(g, false)).toBe(buildRange(g, false));
    expect(buildRange(g, true)).not.toBe(buildRange(g, false));
  });
});

describe("merge weights", () => {
  /** Brute force: |ancestors-or-self ∩ C| for every member. */
  function check(graph: CommitGraph, bads: number[] = [], goods: number[] = []): void {
    const g = buildRange(graph, false);
    const inC = candidateSet(g, [g.tip, ...bads], goods);
    const members = Int32Array.from(g.shas.map((_, i) => i).filter((i) => inC[i]));
    const parents = new Map<Sha, Sha[]>();
    for (const sha of g.shas)
      parents.set(
        sha,
        graph.commits[sha]!.parents.filter((p) => g.index.has(p)),
      );
    const inSet = new Set(Array.from(members, (i) => g.shas[i]!));
    const brute = Array.from(
      members,
      (i) => [...ancestorsOrSelf(parents, g.shas[i]!)].filter((s) => inSet.has(s)).length,
    );
    // The walks, the bitsets alone (no walk budget), and the bitsets in small column blocks.
    expect(Array.from(candidateWeights(g, members))).toEqual(brute);
    expect(Array.from(candidateWeights(g, members, undefined, 0))).toEqual(brute);
    expect(Array.from(candidateWeights(g, members, 1, 0))).toEqual(brute);
    expect(Array.from(candidateWeights(g, members, 5, 0))).toEqual(brute);
  }

  it("are exact on topic-branch histories, also on a part of the range", () => {
    for (const seed of [1, 2, 3]) {
      const graph = topicGraph(400, seed, 30);
      check(graph);
      const g = buildRange(graph, false);
      check(graph, [Math.floor(g.n * 0.8)], [Math.floor(g.n * 0.2), Math.floor(g.n * 0.5)]);
    }
  });

  it("are exact on random histories with criss-cross merges and octopus merges", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => check(dagGraph(ops).graph)),
    );
    const octopus: CommitGraph = {
      good: "g",
      bad: "m2",
      commits: {
        a: { parents: ["g"] },
        b: { parents: ["g"] },
        c: { parents: ["a"] },
        m: { parents: ["a", "b", "c"] },
        d: { parents: ["b"] },
        m2: { parents: ["m", "d", "c"] },
      },
    };
    check(octopus);
  });

  it("topicGraph makes a merge-heavy history of the size asked", () => {
    const graph = topicGraph(2000, 4);
    const commits = Object.values(graph.commits);
    expect(commits.length).toBeGreaterThanOrEqual(1990);
    expect(commits.length).toBeLessThanOrEqual(2000);
    const merges = commits.filter((c) => c.parents.length === 2).length;
    expect(merges / commits.length).toBeGreaterThan(0.2);
    expect(buildRange(graph, false).n).toBe(commits.length);
  });
});

describe("RangeGraph", () => {
  const graph: CommitGraph = {
    good: "g",
    bad: "d",
    commits: {
      g: { parents: ["o"] }, // the good revision, listed: outside the range all the same
      a: { parents: ["g"] },
      b: { parents: ["a", "x"] }, // x: a second parent outside the listed commits
      side: { parents: ["a"] }, // not reachable from d
      c: { parents: [] }, // a root commit, merged in
      d: { parents: ["b", "c"] },
    },
  };

  it("numbers the commits reachable from bad, parents first, and maps shas both ways", () => {
    const g = buildRange(graph, false);
    expect(g.shas).toEqual(["a", "b", "c", "d"]);
    expect(g.n).toBe(4);
    expect(g.tip).toBe(3);
    expect(["a", "b", "c", "d", "g", "side", "x", "nope"].map((s) => g.find(s))).toEqual([
      0, 1, 2, 3, -1, -1, -1, -1,
    ]);
    expect(g.sha(2)).toBe("c");
    expect([0, 1, 2, 3].map((i) => g.firstParent(i))).toEqual(["g", "a", null, "b"]);
    expect(Array.from(g.parentStart)).toEqual([0, 0, 1, 1, 3]);
    expect(Array.from(g.parents)).toEqual([0, 1, 2]);
    expect(g.index.get("c")).toBe(2);
  });

  it("follows first parents only when asked", () => {
    const g = buildRange(graph, true);
    expect(g.shas).toEqual(["a", "b", "d"]);
    expect(Array.from(g.parents)).toEqual([0, 1]);
    expect(g.find("c")).toBe(-1);
  });

  it("refuses equal endpoints, a bad revision outside the list, and cycles either way", () => {
    expect(() => buildRange({ ...graph, bad: "g" }, false)).toThrow(/same commit/);
    expect(() => buildRange({ ...graph, bad: "x" }, false)).toThrow(/not in the commit range/);
    const cyclic: CommitGraph = {
      good: "g",
      bad: "a",
      commits: { a: { parents: ["b"] }, b: { parents: ["c"] }, c: { parents: ["a"] } },
    };
    expect(() => buildRange(cyclic, false)).toThrow(/cycle through/);
    expect(() => buildRange(cyclic, true)).toThrow(/cycle through/);
  });

  it("remembers the last candidate sets and computes their weights once", () => {
    const g = buildRange(linearGraph(50), false);
    const first = candidatesOf(g, [g.tip], [10]);
    expect(Array.from(first.members)).toEqual(Array.from({ length: 39 }, (_, i) => i + 11));
    const w = first.weights();
    expect(w[0]).toBe(1);
    expect(w[38]).toBe(39);
    expect(candidatesOf(g, [g.tip], [10]).weights()).toBe(w);
    for (let k = 0; k < 4; k++) candidatesOf(g, [g.tip], [k]);
    expect(g.recent).toHaveLength(4);
    expect(candidatesOf(g, [g.tip], [10]).members).not.toBe(first.members);
    expect(candidatesOf(g, [g.tip, 30], [10]).members).toHaveLength(20);
  });
});
