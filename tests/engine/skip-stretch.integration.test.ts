// Skip-aware probing against the reference: on the same history, with a stretch of 14 commits
// that cannot be tested (exit 125), the engine tests no more skipped commits than `git bisect run`.
// The engine side is pure (decide() driven by the test kit); git runs on a real repository made
// from the same data.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { simulate } from "../../runner/engine/testkit";
import { defaultPolicy, type CommitGraph, type Sha } from "../../runner/engine/types";
import { gitBisect } from "../../scripts/bench/lib/git-bisect";
import {
  generateRepo,
  linearHistory,
  PREDICATE,
  type GeneratedRepo,
} from "../../scripts/bench/lib/repo-gen";

const N = 120;
/** The generated repository's predicate, printing a marker for each untestable run. */
const COUNTING_PREDICATE = PREDICATE.replace("then exit 125", "then echo untestable-run; exit 125");
const STRETCH = 14;

interface Scenario {
  /** First index of the untestable stretch. */
  from: number;
  culprit: number;
}
// Stretches around the first probe (the middle), around later probes, and culprits on both sides
// of the stretch (never inside it, where both must test every commit of it).
const scenarios: Scenario[] = [
  { from: 53, culprit: 30 },
  { from: 53, culprit: 90 },
  { from: 53, culprit: 68 },
  { from: 50, culprit: 49 },
  { from: 22, culprit: 41 },
  { from: 80, culprit: 100 },
  { from: 60, culprit: 12 },
  { from: 45, culprit: 75 },
];

describe("a stretch of 14 untestable commits", () => {
  const repos: GeneratedRepo[] = [];
  beforeAll(async () => {
    for (const s of scenarios) {
      const skip = Array.from({ length: STRETCH }, (_, i) => s.from + i);
      repos.push(await generateRepo(linearHistory(N), { culprit: s.culprit, skip }));
    }
  });
  afterAll(async () => {
    await Promise.all(repos.map((r) => r.cleanup()));
  });

  it("costs no more skipped runs than git bisect run over the scenarios, and finds the same culprits", async () => {
    const rows: string[] = [];
    let ours = 0;
    let theirs = 0;
    for (const [k, s] of scenarios.entries()) {
      const repo = repos[k]!;
      // The range is bad ^good with good = commit 0.
      const commits: CommitGraph["commits"] = {};
      for (let i = 1; i < N; i++) commits[repo.shas[i]!] = { parents: [repo.shas[i - 1]!] };
      const graph: CommitGraph = { good: repo.shas[0]!, bad: repo.shas[N - 1]!, commits };
      const index = new Map<Sha, number>(repo.shas.map((sha, i) => [sha, i]));
      const skipped = (sha: Sha) => {
        const i = index.get(sha)!;
        return i >= s.from && i < s.from + STRETCH;
      };
      let skipRuns = 0;
      const sim = simulate({
        graph,
        policy: { ...defaultPolicy, verifyEndpoints: false },
        slots: 1,
        run: (sha) => {
          if (skipped(sha)) {
            skipRuns++;
            return "skip";
          }
          return repo.bad[index.get(sha)!] ? "bad" : "good";
        },
      });
      const git = await gitBisect(repo.dir, repo.shas[0]!, repo.shas[N - 1]!, COUNTING_PREDICATE);
      const gitSkips = (git.output.match(/^untestable-run$/gm) ?? []).length;

      expect(sim.decision.outcome).toBe("found");
      expect(sim.decision.culprit).toBe(repo.shas[s.culprit]);
      expect(git.culprit).toBe(repo.shas[s.culprit]);
      rows.push(
        `stretch ${s.from}..${s.from + STRETCH - 1}, culprit ${s.culprit}: engine ${skipRuns} skipped of ${sim.runs} runs, git ${gitSkips} of ${git.steps}`,
      );
      ours += skipRuns;
      theirs += gitSkips;
    }
    console.log(rows.join("\n") + `\ntotal skipped runs: engine ${ours}, git ${theirs}`);
    // git's choice away from a skipped commit is pseudo-random, so a single scenario can go
    // either way; over the set the engine must not cost more.
    expect(ours, rows.join("\n")).toBeLessThanOrEqual(theirs);
  });
});
