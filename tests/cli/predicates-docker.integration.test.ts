// What counts as bad, end to end: `npm run bisect` with the Docker executor on real repositories
// whose commits crash, hang, print a panic or get fixed from a known commit on. Each commit of a
// generated repository holds state.txt ("good" before the culprit, "bad" from it on).
// Without a reachable engine these tests are skipped locally and fail in CI (CI=true).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureRunnerImage } from "../../runner/image";
import { generateRepo, linearHistory, type GeneratedRepo } from "../../scripts/bench/lib/repo-gen";
import { dockerRequired, localEngine, runCli } from "./support";

const engine = await localEngine();
const repos: GeneratedRepo[] = [];

/** A child shell kills itself with SIGSEGV (sh as the container's first process ignores signals sent to itself). */
const SEGFAULT_FROM_CULPRIT =
  "if grep -q bad state.txt; then sh -c 'kill -SEGV $$'; exit $?; fi; exit 0";
const HANG_FROM_CULPRIT = "if grep -q bad state.txt; then sleep 60; fi; exit 0";
const PANIC_FROM_CULPRIT =
  "echo running tests; if grep -q bad state.txt; then echo 'thread main panicked at src/lib.rs:10'; fi; exit 0";
/** Fails until the culprit, passes from it on: the culprit is a fix. */
const FIXED_FROM_CULPRIT = "grep -q bad state.txt";

describe.skipIf(engine.unavailable !== undefined && !dockerRequired)(
  "predicates with the Docker executor",
  () => {
    beforeAll(async () => {
      if (engine.unavailable)
        throw new Error(`a Docker engine is required (CI=true): ${engine.unavailable}`);
      await ensureRunnerImage(engine.docker!);
    }, 600_000);

    afterAll(async () => {
      await Promise.all(repos.map((r) => r.cleanup()));
    });

    const repoWithCulprit = async (n: number, culprit: number) => {
      const repo = await generateRepo(linearHistory(n), { culprit });
      repos.push(repo);
      return repo;
    };
    const bisect = (repo: GeneratedRepo, command: string, ...extra: string[]) =>
      runCli(
        [
          "--repo",
          repo.dir,
          "--good",
          repo.shas[0]!,
          "--bad",
          "main",
          "--json",
          "--parallel",
          "2",
          ...extra,
          "--",
          command,
        ],
        {
          env: { DOCKER_HOST: engine.endpoint },
          timeoutMs: 150_000,
        },
      );

    it("a segfault regression: ambiguous by default, found with --crash bad", async () => {
      const repo = await repoWithCulprit(16, 9);
      const plain = await bisect(repo, SEGFAULT_FROM_CULPRIT);
      expect(plain.code, plain.stderr).toBe(1);
      expect(plain.json?.outcome).toBe("ambiguous");
      expect(plain.json?.candidates).toContain(repo.shas[9]);
      expect(plain.stderr).toContain("killed by SIGSEGV");
      expect(plain.stderr).toContain("hint: exit 139 is a segmentation fault");
      expect(plain.stderr).toContain("--crash bad");

      const crash = await bisect(repo, SEGFAULT_FROM_CULPRIT, "--crash", "bad");
      expect(crash.code, crash.stderr).toBe(0);
      expect(crash.json).toMatchObject({ outcome: "found", culprit: repo.shas[9] });
      expect(crash.stderr).toContain(
        "A crash (exit code ≥ 128 or a signal) counts as a failure (bad).",
      );
      expect(crash.stderr).toContain("found: the first bad commit is");
    }, 240_000);

    it("a hang: found with --timeout-is bad", async () => {
      const repo = await repoWithCulprit(10, 6);
      const run = await bisect(repo, HANG_FROM_CULPRIT, "--timeout", "3", "--timeout-is", "bad");
      expect(run.code, run.stderr).toBe(0);
      expect(run.json).toMatchObject({ outcome: "found", culprit: repo.shas[6] });
      expect(run.json?.steps.some((s) => s.verdict === "bad" && s.reason === "timeout")).toBe(true);
    }, 180_000);

    it("a fix: found with --find fix, and called the first fixed commit", async () => {
      const repo = await repoWithCulprit(20, 13);
      const run = await bisect(repo, FIXED_FROM_CULPRIT, "--find", "fix");
      expect(run.code, run.stderr).toBe(0);
      expect(run.json).toMatchObject({ outcome: "found", culprit: repo.shas[13] });
      expect(run.stderr).toContain("found: the first fixed commit is");
      expect(run.json?.explanation).toContain("is the first fixed commit: it passes");
      expect(run.stderr).not.toContain("first bad commit");
    }, 180_000);

    it("an output-match regression: found with --bad-if-output although every run exits 0", async () => {
      const repo = await repoWithCulprit(20, 5);
      const run = await bisect(
        repo,
        PANIC_FROM_CULPRIT,
        "--bad-if-output",
        "panicked at|Segmentation fault",
      );
      expect(run.code, run.stderr).toBe(0);
      expect(run.json).toMatchObject({ outcome: "found", culprit: repo.shas[5] });
      expect(run.json?.steps.every((s) => s.exitCode === 0)).toBe(true);

      // Without the option the same runs all pass: the bad revision is good, nothing to bisect.
      const plain = await bisect(repo, PANIC_FROM_CULPRIT);
      expect(plain.json?.outcome).toBe("bad-is-good");
    }, 180_000);

    it("exit 127 at the good revision: says the image lacks the command, not to choose an older revision", async () => {
      const repo = await repoWithCulprit(8, 4);
      const run = await bisect(repo, "no-such-test-tool --run");
      expect(run.json?.outcome).toBe("good-is-bad");
      expect(run.stderr).toContain("exit 127 (command not found)");
      expect(run.stderr).toContain("hint: exit 127 means command not found");
      expect(run.stderr).toContain("--image");
      expect(run.stderr).not.toContain("older good revision");
    }, 120_000);
  },
);
