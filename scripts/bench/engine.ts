// npm run bench:engine [-- --repeat 21]
//
// The pure engine's speed: one decide() call on a 1024- and a 10k-commit linear range (8 slots,
// one verdict known) and on a merge-heavy history of about 10k commits. Each figure is the median
// of --repeat calls after one warm-up call; the load average is printed with them, since a busy
// machine moves these numbers. Former test targets, printed for comparison: 1024 commits < 5 ms,
// 10k linear < 100 ms, 10k merge-heavy < 100 ms.
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { decide } from "../../runner/engine/engine.js";
import { dagGraph, linearGraph, prng } from "../../runner/engine/testkit.js";
import { defaultPolicy, type EngineInput } from "../../runner/engine/types.js";
import { median, percentile } from "./lib/timing-executor.js";

const { values } = parseArgs({ options: { repeat: { type: "string", default: "21" } } });
const repeat = Math.max(1, Number(values.repeat));

function measure(input: EngineInput): number[] {
  decide(input);
  const times: number[] = [];
  for (let k = 0; k < repeat; k++) {
    const t0 = performance.now();
    decide(input);
    times.push(performance.now() - t0);
  }
  return times;
}

const policy = { ...defaultPolicy, verifyEndpoints: false };
const linear = (n: number): EngineInput => ({
  graph: linearGraph(n),
  policy,
  observations: [{ sha: `c${n >> 1}`, verdict: "good" }],
  inFlight: [],
  slots: 8,
});
const random = prng(3);
const ops = Array.from({ length: 9000 }, () => ({
  kind: Math.floor(random() * 10),
  a: Math.floor(random() * 1e6),
  b: Math.floor(random() * 1e6),
}));
const merged = dagGraph(ops).graph;

const loadBefore = loadavg();
const cases: [string, EngineInput, number][] = [
  ["linear, 1024 commits", linear(1024), 5],
  ["linear, 10000 commits", linear(10_000), 100],
  [
    `merge-heavy, ${Object.keys(merged.commits).length} commits`,
    { graph: merged, policy, observations: [], inFlight: [], slots: 8 },
    100,
  ],
];
console.log(`decide() with 8 slots, median (p90, min) of ${repeat} calls after a warm-up:`);
for (const [name, input, target] of cases) {
  const t = measure(input);
  const m = median(t);
  console.log(
    `  ${name.padEnd(28)} ${m.toFixed(2)} ms (p90 ${percentile(t, 90).toFixed(2)}, min ${Math.min(...t).toFixed(2)})  ` +
      `target < ${target} ms: ${m < target ? "met" : "MISSED"}`,
  );
}
console.log(
  `load average before / after: ${loadBefore.map((l) => l.toFixed(2)).join(" ")} / ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")} (${cpus().length} CPUs)`,
);
