// npm run bench:engine [-- --repeat 3 --baseline /path/to/an/older/checkout]
//
// The engine at scale, as a job sees it: `git rev-list --parents` output parsed into the commit
// graph, then decide().
// - linear, 1,000,000 commits: parse + the first decide (8 slots). Target: ≤ 1 s together.
// - merge-heavy, 100,000 commits of topic branches merged into a main line (testkit's
//   topicGraph, a third of them merges): parse, the first decide, and every decide of a whole
//   bisection (8 slots, one culprit). Target: ≤ 50 ms per decide.
// - a random DAG of 100,000 commits (testkit's dagGraph: thousands of branches alive at once,
//   forking anywhere): the first decide, for information — the worst case for merge weights.
// Each figure: median and worst of --repeat runs (≥ 3), wall time and the process's CPU time (a
// busy machine moves wall time most; targets are judged on CPU time, wall time is printed with
// them). The load average is printed before and after.
// --baseline DIR runs the same cases on the engine of another checkout (its parseRevListParents
// and decide, given git's output as a string as that code took it) and prints the ratios.
import { cpus, loadavg } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { CompactGraph } from "../../runner/engine/compact";
import { decide as newDecide } from "../../runner/engine/engine";
import { buildRange } from "../../runner/engine/graph";
import { dagGraph, prng, topicGraph } from "../../runner/engine/testkit";
import {
  defaultPolicy,
  type CommitGraph,
  type Decision,
  type EngineInput,
  type Observation,
  type Sha,
} from "../../runner/engine/types";
import { median } from "./lib/timing-executor";

const { values } = parseArgs({
  options: {
    repeat: { type: "string", default: "3" },
    baseline: { type: "string" },
  },
});
const repeat = Math.max(3, Number(values.repeat));
const policy = { ...defaultPolicy, verifyEndpoints: false };
const SLOTS = 8;

interface Engine {
  name: string;
  parse(good: Sha, bad: Sha, text: string, bytes: Buffer): CommitGraph;
  decide(input: EngineInput): Decision;
}

const current: Engine = {
  name: "this engine",
  parse: (good, bad, _text, bytes) => CompactGraph.fromRevList(good, bad, bytes),
  decide: newDecide,
};

async function baselineEngine(dir: string): Promise<Engine> {
  const git = (await import(path.resolve(dir, "runner/git/graph.ts"))) as {
    parseRevListParents(text: string): CommitGraph["commits"];
  };
  const engine = (await import(path.resolve(dir, "runner/engine/engine.ts"))) as {
    decide(input: EngineInput): Decision;
  };
  return {
    name: `baseline (${dir})`,
    parse: (good, bad, text) => ({ good, bad, commits: git.parseRevListParents(text) }),
    decide: engine.decide,
  };
}

/** Distinct 40-hex names for test commits, so the text is what git would print. */
function hexNames(graph: CommitGraph): (sha: Sha) => Sha {
  const random = prng(11);
  const names = new Map<Sha, Sha>();
  const word = () =>
    Math.floor(random() * 2 ** 32)
      .toString(16)
      .padStart(8, "0");
  return (sha) => {
    let h = names.get(sha);
    if (!h) {
      h = word() + word() + word() + word() + word();
      names.set(sha, h);
    }
    return h;
  };
  void graph;
}

/** `git rev-list --parents` output for a graph: children before parents (range order reversed). */
function revList(graph: CommitGraph): { good: Sha; bad: Sha; text: string; bytes: Buffer } {
  const name = hexNames(graph);
  const range = buildRange(graph, false);
  const lines: string[] = [];
  for (let i = range.n - 1; i >= 0; i--) {
    const sha = range.sha(i);
    lines.push([sha, ...graph.commits[sha]!.parents].map(name).join(" "));
  }
  // Built by concatenation, as git's output arrives in chunks.
  let text = "";
  for (let i = 0; i < lines.length; i += 4096) text += lines.slice(i, i + 4096).join("\n") + "\n";
  return { good: name(graph.good), bad: name(graph.bad), text, bytes: Buffer.from(text, "latin1") };
}

function linearRevList(n: number): { good: Sha; bad: Sha; text: string; bytes: Buffer } {
  const random = prng(7);
  const word = () =>
    Math.floor(random() * 2 ** 32)
      .toString(16)
      .padStart(8, "0");
  const shas = Array.from({ length: n + 1 }, () => word() + word() + word() + word() + word());
  let text = "";
  for (let i = n; i >= 1; i -= 4096) {
    const chunk: string[] = [];
    for (let k = i; k >= Math.max(1, i - 4095); k--) chunk.push(`${shas[k]} ${shas[k - 1]}`);
    text += chunk.join("\n") + "\n";
  }
  return { good: shas[0]!, bad: shas[n]!, text, bytes: Buffer.from(text, "latin1") };
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

interface Timed<T> {
  value: T;
  wall: number;
  cpu: number;
}
function timed<T>(f: () => T): Timed<T> {
  const c = cpuMs();
  const w = performance.now();
  const value = f();
  return { value, wall: performance.now() - w, cpu: cpuMs() - c };
}

const first = (graph: CommitGraph): EngineInput => ({
  graph,
  policy,
  observations: [],
  inFlight: [],
  slots: SLOTS,
});

/** Every decide of a bisection in rounds of SLOTS runs, the culprit at `culprit` (range node). */
function bisection(
  engine: Engine,
  graph: CommitGraph,
  culpritNode: number,
): { wall: number[]; cpu: number[] } {
  const range = buildRange(graph, false);
  const bad = new Uint8Array(range.n);
  for (let i = 0; i < range.n; i++) {
    bad[i] = i === culpritNode ? 1 : 0;
    for (let e = range.parentStart[i]!; e < range.parentStart[i + 1]! && !bad[i]; e++)
      bad[i] = bad[range.parents[e]!]!;
  }
  const observations: Observation[] = [];
  const times = { wall: [] as number[], cpu: [] as number[] };
  for (let round = 0; round < 100; round++) {
    const t = timed(() => engine.decide({ ...first(graph), observations }));
    times.wall.push(t.wall);
    times.cpu.push(t.cpu);
    const d = t.value;
    if (d.kind === "done") {
      if (d.culprit !== range.sha(culpritNode)) throw new Error(`wrong culprit ${d.culprit}`);
      return times;
    }
    if (d.kind !== "probe") throw new Error(`unexpected ${d.kind}`);
    for (const sha of d.probes)
      observations.push({ sha, verdict: bad[range.find(sha)] ? "bad" : "good" });
  }
  throw new Error("no answer after 100 rounds");
}

const fmt = (xs: number[]) =>
  `median ${median(xs).toFixed(1)} ms, worst ${Math.max(...xs).toFixed(1)} ms`;

interface Row {
  label: string;
  wall: number[];
  cpu: number[];
  target?: number;
}

function run(engine: Engine, quick: boolean): Row[] {
  const rows: Row[] = [];
  const add = (label: string, wall: number[], cpu: number[], target?: number) => {
    rows.push({ label, wall, cpu, target });
    // Judged on CPU time: on a shared machine wall time is mostly waiting for a core.
    const met =
      target === undefined
        ? ""
        : `  target ≤ ${target} ms: ${median(cpu) <= target ? "met" : "MISSED"} (cpu)${median(wall) <= target ? ", met (wall)" : ", missed (wall)"}`;
    console.log(`  ${label.padEnd(44)} ${fmt(wall)}  (cpu ${fmt(cpu)})${met}`);
  };
  console.log(`${engine.name}:`);

  const linear = linearRevList(1_000_000);
  const lp: number[] = [],
    lpc: number[] = [],
    ld: number[] = [],
    ldc: number[] = [],
    lt: number[] = [],
    ltc: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const p = timed(() => engine.parse(linear.good, linear.bad, linear.text, linear.bytes));
    const d = timed(() => engine.decide(first(p.value)));
    if (d.value.kind !== "probe" || d.value.probes.length !== SLOTS) throw new Error("no probes");
    lp.push(p.wall);
    lpc.push(p.cpu);
    ld.push(d.wall);
    ldc.push(d.cpu);
    lt.push(p.wall + d.wall);
    ltc.push(p.cpu + d.cpu);
  }
  add("linear 1M: parse", lp, lpc);
  add("linear 1M: first decide", ld, ldc);
  add("linear 1M: parse + decide", lt, ltc, 1000);

  const topics = topicGraph(100_000, 3);
  const tl = revList(topics);
  const tp: number[] = [],
    tpc: number[] = [],
    td: number[] = [],
    tdc: number[] = [],
    all: number[] = [],
    allc: number[] = [];
  let rounds = 0;
  for (let r = 0; r < repeat; r++) {
    const p = timed(() => engine.parse(tl.good, tl.bad, tl.text, tl.bytes));
    const d = timed(() => engine.decide(first(p.value)));
    tp.push(p.wall);
    tpc.push(p.cpu);
    td.push(d.wall);
    tdc.push(d.cpu);
    if (!quick) {
      const range = buildRange(p.value, false);
      const times = bisection(engine, p.value, Math.floor((range.n * (r + 1)) / (repeat + 1)));
      rounds += times.wall.length;
      all.push(...times.wall);
      allc.push(...times.cpu);
    }
  }
  add("topic branches 100k: parse", tp, tpc);
  add("topic branches 100k: first decide", td, tdc, 50);
  if (!quick)
    add(`topic branches 100k: every decide (${rounds} in ${repeat} bisections)`, all, allc, 50);

  const random = prng(3);
  const ops = Array.from({ length: 90_000 }, () => ({
    kind: Math.floor(random() * 10),
    a: Math.floor(random() * 1e6),
    b: Math.floor(random() * 1e6),
  }));
  const dag = dagGraph(ops).graph;
  const dl = revList(dag);
  const dd: number[] = [],
    ddc: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const g = engine.parse(dl.good, dl.bad, dl.text, dl.bytes);
    const d = timed(() => engine.decide(first(g)));
    dd.push(d.wall);
    ddc.push(d.cpu);
  }
  add(`random DAG ${Object.keys(dag.commits).length}: first decide`, dd, ddc);
  return rows;
}

const loadBefore = loadavg();
console.log(
  `repeat ${repeat}; ${cpus().length} CPUs; load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")}`,
);
const mine = run(current, false);
if (values.baseline) {
  const base = run(await baselineEngine(values.baseline), true);
  console.log("ratios, baseline median / this engine's median (wall; cpu):");
  for (const b of base) {
    const m = mine.find((r) => r.label === b.label);
    if (!m) continue;
    console.log(
      `  ${b.label.padEnd(44)} ${(median(b.wall) / median(m.wall)).toFixed(1)}× ; ${(median(b.cpu) / median(m.cpu)).toFixed(1)}×`,
    );
  }
}
console.log(
  `load average before / after: ${loadBefore.map((l) => l.toFixed(2)).join(" ")} / ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")} (${cpus().length} CPUs)`,
);
