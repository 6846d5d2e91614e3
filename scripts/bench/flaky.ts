// npm run bench:flaky [-- --seeds 200 --commits 100 --parallel 4]
//
// Accuracy of the --flaky preset (5 runs, threshold 3, up to 15 runs on disagreeing commits the
// answer rests on) against a simulated test that fails with probability p on good commits and
// always on bad ones, for p from 10% to 30%, over many seeds: how often the right culprit is
// named, how often it is called found (confidence ≥ 0.9) or likely, what the wrong answers were,
// and the runs per bisection. Pure engine, no containers. Also, for comparison, --runs 3 with
// threshold 1 (any failure marks a commit bad).
import { parseArgs } from "node:util";
import { normalizePredicate, policyOfPredicate } from "../../runner/engine/predicate";
import { linearGraph, prng, simulate } from "../../runner/engine/testkit";
import {
  defaultPolicy,
  FOUND_CONFIDENCE,
  reportedOutcome,
  type Policy,
} from "../../runner/engine/types";

const { values } = parseArgs({
  options: {
    seeds: { type: "string", default: "200" },
    commits: { type: "string", default: "100" },
    parallel: { type: "string", default: "4" },
  },
});
const seeds = Number(values.seeds);
const n = Number(values.commits);
const slots = Number(values.parallel);

const presets: [string, Policy][] = [
  ["--flaky", { ...defaultPolicy, ...policyOfPredicate(normalizePredicate({ flaky: true })) }],
  ["--runs 3 --fail-threshold 1", { ...defaultPolicy, runs: 3, failThreshold: 1 }],
];
console.log(
  `${n}-commit linear range, ${seeds} seeds per row, --parallel ${slots}; "found" needs confidence ≥ ${FOUND_CONFIDENCE}`,
);
for (const [name, policy] of presets) {
  console.log(`\n${name}`);
  for (const rate of [0.1, 0.15, 0.2, 0.25, 0.3]) {
    let right = 0;
    let found = 0;
    let likely = 0;
    let foundBelow = 0;
    let runs = 0;
    const wrong: Record<string, number> = {};
    for (let seed = 1; seed <= seeds; seed++) {
      const random = prng(seed);
      const culprit = 1 + Math.floor(random() * (n - 1));
      const sim = simulate({
        graph: linearGraph(n),
        policy,
        slots,
        run: (sha) => {
          const i = sha === "g" ? -1 : Number(sha.slice(1));
          return i >= culprit || random() < rate ? "bad" : "good";
        },
      });
      const d = sim.decision;
      const outcome = reportedOutcome(d);
      runs += sim.runs;
      if (outcome === "found") found++;
      if (outcome === "likely") likely++;
      if (outcome === "found" && d.confidence < FOUND_CONFIDENCE) foundBelow++;
      if (d.culprit === `c${culprit}`) right++;
      else wrong[outcome] = (wrong[outcome] ?? 0) + 1;
    }
    console.log(
      `  flake ${String(Math.round(rate * 100)).padStart(2)}%: right culprit ${((100 * right) / seeds).toFixed(1)}% ` +
        `(found ${found}, likely ${likely}, "found" below threshold ${foundBelow}), wrong: ${JSON.stringify(wrong)}, ` +
        `runs per bisection ${(runs / seeds).toFixed(1)}`,
    );
  }
}
