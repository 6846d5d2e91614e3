// `npm run bisect` end to end with the local executor, checked against real `git bisect run`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitBisect } from "../../scripts/bench/lib/git-bisect";
import {
  generateRepo,
  linearHistory,
  mergeHistory,
  PREDICATE,
  seededRandom,
  type GeneratedRepo,
} from "../../scripts/bench/lib/repo-gen";
import { runCli } from "./support";

const repos: GeneratedRepo[] = [];
const generate = async (...args: Parameters<typeof generateRepo>) => {
  const repo = await generateRepo(...args);
  repos.push(repo);
  return repo;
};
afterAll(async () => {
  await Promise.all(repos.map((r) => r.cleanup()));
});

const local = (repo: string, good: string, bad: string, ...extra: string[]) => [
  "--repo",
  repo,
  "--good",
  good,
  "--bad",
  bad,
  "--executor",
  "local",
  "--json",
  ...extra,
  "--",
  PREDICATE,
];

describe("linear history", () => {
  let repo: GeneratedRepo;
  let reference: Awaited<ReturnType<typeof gitBisect>>;
  const culprit = 37;

  beforeAll(async () => {
    repo = await generate(linearHistory(80), { culprit, tags: { "v1.0": 0 } });
    reference = await gitBisect(repo.dir, repo.shas[0]!, repo.shas[79]!, PREDICATE);
    expect(reference.culprit).toBe(repo.shas[culprit]);
  });

  it.each([1, 3])("finds git bisect's culprit with --parallel %i", async (parallel) => {
    const run = await runCli(local(repo.dir, "v1.0", "main", "--parallel", String(parallel)));
    expect(run.code, run.stderr).toBe(0);
    expect(run.json).toMatchObject({
      outcome: "found",
      culprit: reference.culprit,
      candidates: [reference.culprit],
    });
    const json = run.json!;
    expect(json.rounds).toBeGreaterThan(0);
    expect(json.steps.length).toBeGreaterThan(0);
    for (const step of json.steps) {
      expect(step).toEqual(
        expect.objectContaining({
          sha: expect.stringMatching(/^[0-9a-f]{40}$/),
          round: expect.any(Number),
          durationMs: expect.any(Number),
        }),
      );
      const index = repo.shas.indexOf(step.sha);
      expect(step.verdict).toBe(index >= culprit ? "bad" : "good");
      expect(step.exitCode).toBe(index >= culprit ? 1 : 0);
    }
    // Human output: rounds, verdicts, the culprit with subject and author.
    expect(run.stderr).toMatch(/^round 1: 79 candidates left$/m);
    expect(run.stderr).toContain(
      `found: the first bad commit is\n    ${reference.culprit!.slice(0, 10)}  commit ${culprit}\n    author: Dev ${culprit % 7} <dev${culprit % 7}@example.test>`,
    );
  });

  it("accepts short shas and a file:// URL (cloned)", async () => {
    const run = await runCli(
      local(
        `file://${repo.dir}`,
        repo.shas[0]!.slice(0, 8),
        repo.shas[79]!.slice(0, 12),
        "--parallel",
        "2",
      ),
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.json?.culprit).toBe(reference.culprit);
  });

  it("says good-is-bad when the good revision fails", async () => {
    const run = await runCli(local(repo.dir, repo.shas[50]!, "main", "--parallel", "2"));
    expect(run.code).toBe(1);
    expect(run.json).toMatchObject({ outcome: "good-is-bad", culprit: null });
    expect(run.stderr).toMatch(/^good-is-bad:/m);
  });

  it("says bad-is-good when the bad revision passes", async () => {
    const run = await runCli(local(repo.dir, "v1.0", repo.shas[20]!));
    expect(run.code).toBe(1);
    expect(run.json).toMatchObject({ outcome: "bad-is-good", culprit: null });
  });

  it("answers an unknown ref with outcome error and exit 1", async () => {
    const run = await runCli(local(repo.dir, "v1.0", "no-such-branch"));
    expect(run.code).toBe(1);
    expect(run.json).toMatchObject({
      outcome: "error",
      culprit: null,
      candidates: [],
      rounds: 0,
      steps: [],
    });
    expect(run.json?.explanation).toContain('unknown revision "no-such-branch"');
    expect(run.stderr).toContain('error: unknown revision "no-such-branch"');
  });

  it("answers swapped revisions with outcome error", async () => {
    const run = await runCli(local(repo.dir, "main", "v1.0"));
    expect(run.code).toBe(1);
    expect(run.json?.outcome).toBe("error");
    expect(run.json?.explanation).toMatch(/is an ancestor of the good revision/);
  });
});

describe("history with merges", () => {
  // Two topologies, the culprit on a side branch (merged back later).
  it.each([
    { seed: 11, parallel: 1 },
    { seed: 11, parallel: 3 },
    { seed: 29, parallel: 3 },
  ])(
    "finds git bisect's culprit (seed $seed, --parallel $parallel)",
    async ({ seed, parallel }) => {
      const history = mergeHistory(40, seed);
      expect(history.commits.some((c) => c.parents.length > 1)).toBe(true);
      const culprit = history.side[Math.floor(seededRandom(seed)() * history.side.length)]!;
      const repo = await generate(history.commits, { culprit });
      const last = history.commits.length - 1;
      const reference = await gitBisect(repo.dir, repo.shas[0]!, repo.shas[last]!, PREDICATE);
      expect(reference.culprit).toBe(repo.shas[culprit]);
      const run = await runCli(
        local(repo.dir, repo.shas[0]!, "main", "--parallel", String(parallel)),
      );
      expect(run.code, run.stderr).toBe(0);
      expect(run.json).toMatchObject({ outcome: "found", culprit: reference.culprit });
    },
  );

  it("follows first parents like git bisect --first-parent (the merge that brought the culprit in)", async () => {
    const history = mergeHistory(40, 5);
    const culprit = history.side[3]!;
    const repo = await generate(history.commits, { culprit });
    const last = history.commits.length - 1;
    const reference = await gitBisect(repo.dir, repo.shas[0]!, repo.shas[last]!, PREDICATE, {
      firstParent: true,
    });
    const mergeIndex = repo.shas.indexOf(reference.culprit!);
    expect(history.mainLine).toContain(mergeIndex);
    const run = await runCli(
      local(repo.dir, repo.shas[0]!, "main", "--parallel", "2", "--first-parent"),
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.json).toMatchObject({ outcome: "found", culprit: reference.culprit });
  });
});

describe("skipped commits", () => {
  it("answers ambiguous with the same candidates as git bisect", async () => {
    // Commits 20–24 cannot be tested (exit 125); the culprit 22 is among them.
    const repo = await generate(linearHistory(50), { culprit: 22, skip: [20, 21, 22, 23, 24] });
    const reference = await gitBisect(repo.dir, repo.shas[0]!, repo.shas[49]!, PREDICATE);
    expect(reference.culprit).toBeNull();
    expect(reference.candidates).toContain(repo.shas[22]);
    for (const parallel of [1, 3]) {
      const run = await runCli(
        local(repo.dir, repo.shas[0]!, "main", "--parallel", String(parallel)),
      );
      expect(run.code, run.stderr).toBe(1);
      expect(run.json?.outcome).toBe("ambiguous");
      expect(run.json?.culprit).toBeNull();
      expect([...run.json!.candidates].sort()).toEqual(reference.candidates);
      expect(
        run.json!.steps.filter((s) => s.verdict === "skip").every((s) => s.exitCode === 125),
      ).toBe(true);
      expect(run.stderr).toMatch(/^ambiguous: the first bad commit is one of these 6/m);
    }
  });
});

describe("usage errors", () => {
  it.each([
    [
      ["--good", "a", "--bad", "b", "--", "true"],
      "bisect: missing --repo (a repository path or git URL)",
    ],
    [
      ["--repo", ".", "--good", "a", "--bad", "b", "--parallel", "0", "--", "true"],
      "bisect: --parallel must be an integer from 1 to 64, got '0'",
    ],
    [
      ["--repo", ".", "--good", "a", "--bad", "b"],
      "bisect: missing the test command: put it after --, as in -- npm test",
    ],
    [
      ["--repo", ".", "--good", "a", "--bad", "b", "--frob", "--json", "--", "true"],
      "bisect: unknown option --frob",
    ],
  ])("exits 2 for %j", async (args, message) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(
      `${message}\nusage: npm run bisect -- --repo <path|git-url> --good <rev> --bad <rev>`,
    );
  });
});
