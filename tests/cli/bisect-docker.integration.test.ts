// `npm run bisect` end to end with the Docker executor (hardened containers on a real engine).
// Without a reachable engine these tests are skipped locally and fail in CI (CI=true).
import { chmod } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureRunnerImage } from "../../runner/image";
import { gitBisect } from "../../scripts/bench/lib/git-bisect";
import {
  generateRepo,
  linearHistory,
  mergeHistory,
  PREDICATE,
  type GeneratedRepo,
} from "../../scripts/bench/lib/repo-gen";
import { dockerRequired, localEngine, runCli } from "./support";

const engine = await localEngine();

const repos: GeneratedRepo[] = [];

describe.skipIf(engine.unavailable !== undefined && !dockerRequired)(
  "with the Docker executor",
  () => {
    beforeAll(async () => {
      if (engine.unavailable)
        throw new Error(`a Docker engine is required (CI=true): ${engine.unavailable}`);
      await ensureRunnerImage(engine.docker!);
    }, 600_000);

    afterAll(async () => {
      await Promise.all(repos.map((r) => r.cleanup()));
    });

    const docker = (repo: string, good: string, bad: string, ...extra: string[]) => [
      "--repo",
      repo,
      "--good",
      good,
      "--bad",
      bad,
      "--json",
      ...extra,
      "--",
      PREDICATE,
    ];

    it("finds git bisect's culprit in a linear history (--parallel 3)", async () => {
      const repo = await generateRepo(linearHistory(60), { culprit: 44 });
      repos.push(repo);
      const reference = await gitBisect(repo.dir, repo.shas[0]!, repo.shas[59]!, PREDICATE);
      const run = await runCli(
        docker(repo.dir, repo.shas[0]!, "main", "--parallel", "3", "--timeout", "60"),
        {
          env: { DOCKER_HOST: engine.endpoint },
        },
      );
      expect(run.code, run.stderr).toBe(0);
      expect(run.json).toMatchObject({ outcome: "found", culprit: reference.culprit });
      expect(reference.culprit).toBe(repo.shas[44]);
      expect(run.stderr).toContain("(docker executor, parallel 3)");
    }, 90_000);

    it("hands every commit to the sandboxes its first runs made: no container per run, none left", async () => {
      const repo = await generateRepo(linearHistory(200), { culprit: 131 });
      repos.push(repo);
      // The engine's own record of the sandboxes made meanwhile, followed live (it keeps only its
      // last 256 events, which a busy engine overwrites within seconds).
      const events = (await engine.docker!.getEvents({
        filters: { type: ["container"], event: ["create"], label: ["bisect-bot.sandbox"] },
      })) as NodeJS.ReadableStream & { destroy(): void };
      let text = "";
      events.on("data", (chunk: Buffer) => (text += chunk.toString()));
      const run = await runCli(docker(repo.dir, repo.shas[0]!, "main", "--parallel", "2"), {
        env: { DOCKER_HOST: engine.endpoint },
      }).finally(() => events.destroy());
      expect(run.code, run.stderr).toBe(0);
      expect(run.json).toMatchObject({ outcome: "found", culprit: repo.shas[131] });
      // This process's (they carry its pid).
      const created = text
        .split("\n")
        .filter((line) => line.trim())
        .map((line) => JSON.parse(line) as { Actor: { Attributes: Record<string, string> } })
        .filter((e) => e.Actor.Attributes["bisect-bot.pid"] === String(run.pid)).length;
      // Two slots and one lane per endpoint serve every run: a container per run would make one
      // per step.
      expect(created).toBeGreaterThan(0);
      expect(
        created,
        `${created} sandboxes for ${run.json!.steps.length} runs`,
      ).toBeLessThanOrEqual(4);
      expect(run.json!.steps.length).toBeGreaterThan(4);
      const left = await engine.docker!.listContainers({
        all: true,
        filters: { label: [`bisect-bot.pid=${run.pid}`] },
      });
      expect(left).toEqual([]);
    }, 90_000);

    it("finds git bisect's culprit on a side branch (--parallel 1, engine given by --docker-host)", async () => {
      const history = mergeHistory(24, 17);
      const culprit = history.side[Math.floor(history.side.length / 2)]!;
      const repo = await generateRepo(history.commits, { culprit });
      repos.push(repo);
      const last = history.commits.length - 1;
      const reference = await gitBisect(repo.dir, repo.shas[0]!, repo.shas[last]!, PREDICATE);
      expect(reference.culprit).toBe(repo.shas[culprit]);
      // Over TLS with client certificates when the engine offers it (host 1's TLS port), else the socket.
      const tls = (process.env.BISECT_ENGINE_TLS_HOSTS ?? "").split(",").filter(Boolean)[0];
      const endpoint = tls && process.env.BISECT_ENGINE_CERTS ? tls : engine.endpoint;
      const run = await runCli(
        docker(repo.dir, repo.shas[0]!, "main", "--parallel", "1", "--docker-host", endpoint),
        {
          env: { DOCKER_HOST: "unix:///nonexistent.sock" },
        },
      );
      expect(run.code, run.stderr).toBe(0);
      expect(run.json).toMatchObject({ outcome: "found", culprit: reference.culprit });
    }, 90_000);

    it("stops on Ctrl-C: exit 130, no container left", async () => {
      const repo = await generateRepo(linearHistory(30), { culprit: 10 });
      repos.push(repo);
      const seen = new Set<string>();
      let interrupted = false;
      // The engine is shared with other runs of the command line: count only this run's
      // containers, labelled with the pid of its process (the spawned one: `npm run bisect` is one process).
      let cliPid: number | null = null;
      const listOurs = async () =>
        cliPid === null
          ? []
          : (
              await engine.docker!.listContainers({
                all: true,
                filters: { label: [`bisect-bot.source=cli`, `bisect-bot.pid=${cliPid}`] },
              })
            ).map((c) => c.Id);
      const run = await runCli(
        [
          "--repo",
          repo.dir,
          "--good",
          repo.shas[0]!,
          "--bad",
          "main",
          "--parallel",
          "2",
          "--json",
          "--",
          "sleep 60",
        ],
        {
          env: { DOCKER_HOST: engine.endpoint },
          onStderr: (text, child) => {
            if (interrupted || !text.includes("round 1:")) return;
            interrupted = true;
            cliPid = child.pid!;
            // Let the containers start (2 probes and one check per endpoint alongside them), note
            // them, then interrupt.
            void (async () => {
              for (let i = 0; i < 100 && seen.size < 4; i++) {
                for (const id of await listOurs()) seen.add(id);
                await new Promise((r) => setTimeout(r, 100));
              }
              child.kill("SIGINT");
            })();
          },
          timeoutMs: 60_000,
        },
      );
      expect(interrupted).toBe(true);
      // The runs in flight (two probes, one per endpoint), and possibly the warm pool's
      // replacements made meanwhile.
      expect(seen.size).toBeGreaterThanOrEqual(4);
      expect(run.code, run.stderr).toBe(130);
      expect(run.json).toMatchObject({ outcome: "error", aborted: true });
      expect(run.stderr).toContain("stopping the runs in flight");
      const left = new Set(await listOurs());
      expect([...seen].filter((id) => left.has(id))).toEqual([]);
    }, 90_000);
    it("replays a job: --setup's exports and --env reach the test; a 0700 repository is bisected from a copy", async () => {
      const repo = await generateRepo(linearHistory(12), { culprit: 7 });
      repos.push(repo);
      await chmod(repo.dir, 0o700); // uid 1000 cannot enter it
      // The test passes only when both the variable and the setup's export arrive.
      const run = await runCli(
        [
          "--repo",
          repo.dir,
          "--good",
          repo.shas[0]!,
          "--bad",
          "main",
          "--json",
          "--setup",
          'echo preparing\nexport VERDICT_FILE="$WHICH"',
          "--env",
          "WHICH=state.txt",
          "--",
          '[ "$VERDICT_FILE" = state.txt ] || exit 3; ! grep -q bad "$VERDICT_FILE"',
        ],
        { env: { DOCKER_HOST: engine.endpoint } },
      );
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toContain("is not readable by uid 1000");
      expect(run.json).toMatchObject({ outcome: "found", culprit: repo.shas[7] });
    }, 90_000);

    it("gives one bisection a cache with its --cache paths, and removes it at the end", async () => {
      const repo = await generateRepo(linearHistory(12), { culprit: 5 });
      repos.push(repo);
      // Other files' command lines share the engine: only this one's volume (named with its pid).
      let cliPid = 0;
      let listing: Promise<string[]> | undefined;
      const cacheVolumes = async () =>
        (await engine.docker!.listVolumes()).Volumes.map((v) => v.Name).filter((n) =>
          n.startsWith(`bisect-cache-cli-${cliPid}-`),
        );
      // The setup notes in the cache whether it built or found the build restored; the test
      // needs the cache there (an exit 3 would make a wrong culprit).
      const run = await runCli(
        [
          "--repo",
          repo.dir,
          "--good",
          repo.shas[0]!,
          "--bad",
          "main",
          "--json",
          "--parallel",
          "1",
          "--cache",
          "build",
          "--setup",
          "if [ -f build/out ]; then echo reused >>/cache/log; else mkdir build; echo x >build/out; echo built >>/cache/log; fi",
          "--",
          `[ -f build/out ] && grep -q built /cache/log || exit 3; ${PREDICATE}`,
        ],
        {
          env: { DOCKER_HOST: engine.endpoint },
          // By round 2 the first runs have used the cache: it exists.
          onStderr: (text, child) => {
            cliPid = child.pid!;
            if (text.includes("round 2:") && !listing) listing = cacheVolumes();
          },
        },
      );
      expect(run.code, run.stderr).toBe(0);
      expect(run.json).toMatchObject({ outcome: "found", culprit: repo.shas[5] });
      expect(await listing).toHaveLength(1);
      expect(await cacheVolumes()).toEqual([]);
    }, 90_000);
  },
);
