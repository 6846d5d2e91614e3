// npm run bench:mirror [-- --commits 5000 --runs 3]
//
// The farm's mirror cache (jobs/farm/mirrors.ts) as a job meets it, on a repository of --commits
// commits served over HTTP with an installation token (the GitHub stand-in's git server), on one
// Docker engine over TLS. Each run, on a fresh repository:
//   - cold: the first job on an empty cache (a fetch container clones it);
//   - up to date: a later job, nothing pushed since (the remote's refs are asked for; no container);
//   - +10 commits: a later job after a push (a fetch container fetches what is new);
//   - the same up-to-date refresh through a fetch container, as every refresh was before (reference).
// Printed: each run's times and ratios to cold, the medians, and the load average at each run.
// Needs two Docker engines over TLS (shared/docker/engines.sh up 2; the first is used) and
// PostgreSQL (DATABASE_URL, or an embedded one in a temporary directory).
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Model } from "objection";
import { loadConfig } from "../../config/env";
import { BisectJob, RunnerMirror } from "../../db/models";
import { registerHost } from "../../jobs/farm/hosts";
import { ensureMirror, mirrorSourceOf } from "../../jobs/farm/mirrors";
import type { WorkerContext } from "../../jobs/worker-context";
import { StatusCommentCache } from "../../jobs/github/status-cache";
import { refreshMirror, removeMirror } from "../../runner/mirror/mirror";
import { startGitHubStandIn } from "../../tests/github-stand-in/server";
import { ensureImageEverywhere, tlsEngines } from "../../tests/helpers/engines";
import { benchDatabase } from "./lib/bench-db";
import { appendCommits, makeContentRepo } from "./lib/content-repo";
import { median } from "./lib/timing-executor";

const { values } = parseArgs({
  options: {
    commits: { type: "string", default: "5000" },
    runs: { type: "string", default: "3" },
  },
});
const commits = Number(values.commits);
const runs = Math.max(1, Number(values.runs));
const ms = (n: number) => `${Math.round(n)} ms`.padStart(8);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

const { engines, problem } = await tlsEngines();
if (problem) throw new Error(problem);
const engine = engines[0]!;
process.stderr.write("runner image…\n");
await ensureImageEverywhere([engine]);

const db = await benchDatabase("bisect_bench_mirror");
const { knex } = db;
Model.knex(knex);
const standIn = await startGitHubStandIn();
standIn.addInstallation({
  id: 1,
  account: { login: "bench", type: "Organization" },
  repositories: [],
});
await knex("installations").insert({
  id: 1,
  accountId: 1,
  accountLogin: "bench",
  accountType: "Organization",
});
const host = await registerHost(knex, {
  name: engine.name,
  dockerEndpoint: engine.endpoint,
  tlsPath: engine.tlsPath,
  capacity: 1,
  source: "admin",
});
/** Each run's repository, by id: its URL, and the installation that may read it. */
const repos = new Map<number, { url: string; installation: number }>();
const ctx: WorkerContext = {
  // The stand-in listens on the loopback address: the fetch container shares the host's network.
  config: loadConfig({ DATABASE_URL: db.url, LOG_LEVEL: "error", RUNNER_FETCH_NETWORK: "host" }),
  knex,
  workerDatabaseUrl: db.url,
  statusComments: new StatusCommentCache(),
  instanceId: "bench-mirror",
  cloneSource: async (id) => ({
    url: repos.get(id)!.url,
    username: "x-access-token",
    password: standIn.issueInstallationToken(repos.get(id)!.installation, {
      permissions: { contents: "read" },
    }),
  }),
};

const jobOf = (repositoryId: number) =>
  BisectJob.query(knex).insertAndFetch({
    source: "github",
    repositoryId,
    goodRef: "main~1",
    badRef: "main",
    command: "true",
    status: "running",
    startedAt: new Date(),
  } as Partial<BisectJob>);

async function timed(fn: () => Promise<unknown>): Promise<{ ms: number; container: boolean }> {
  const started = performance.now();
  const result = await fn();
  return { ms: performance.now() - started, container: result !== null };
}

console.log(
  `mirror refresh, ${commits} commits over HTTP with a token, engine ${engine.endpoint}, ${runs} runs`,
);
console.log(
  "run  load (1/5/15 min)      cold   up to date  ratio   +10 commits  ratio   in a container  ratio",
);
const rows: { cold: number; upToDate: number; pushed: number; container: number }[] = [];
for (let run = 1; run <= runs; run++) {
  const loadNow = load();
  const dir = mkdtempSync(path.join(tmpdir(), "bisect-bench-mirror-"));
  chmodSync(dir, 0o755);
  makeContentRepo(dir, commits);
  const name = `repo-${run}-${Date.now()}`;
  const installation = 1000 + run;
  const { id } = standIn.addRepository({ owner: "bench", name, path: dir });
  standIn.addInstallation({
    id: installation,
    account: { login: "bench", type: "Organization" },
    repositories: [`bench/${name}`],
  });
  repos.set(id, { url: `${standIn.urls.web}/bench/${name}.git`, installation });
  await knex("installations").insert({
    id: installation,
    accountId: 1,
    accountLogin: "bench",
    accountType: "Organization",
  });
  await knex("repositories").insert({ id, installationId: installation, owner: "bench", name });

  const cold = await timed(async () => ensureMirror(ctx, host, await jobOf(id), { holder: "b" }));
  const job = await jobOf(id);
  const upToDate = await timed(() => ensureMirror(ctx, host, job, { holder: "b" }));
  // Before: every refresh started a fetch container, even with nothing new.
  const [row] = await RunnerMirror.query(knex).where({ repoKey: `github:${id}` });
  const source = await mirrorSourceOf(ctx, job);
  const container = await timed(() =>
    refreshMirror(engine.docker, {
      volume: row!.volume,
      source,
      image: ctx.config.RUNNER_IMAGE,
      network: "host",
    }),
  );
  appendCommits(dir, commits, 10);
  const pushedJob = await jobOf(id);
  const pushed = await timed(() => ensureMirror(ctx, host, pushedJob, { holder: "b" }));
  if (!cold.container || upToDate.container || !pushed.container)
    throw new Error("the refreshes did not take the expected paths");
  await removeMirror(engine.docker, row!.volume);
  rmSync(dir, { recursive: true, force: true });
  rows.push({ cold: cold.ms, upToDate: upToDate.ms, pushed: pushed.ms, container: container.ms });
  console.log(
    `${String(run).padStart(3)}  ${loadNow.padEnd(18)} ${ms(cold.ms)}  ${ms(upToDate.ms)}  ${(upToDate.ms / cold.ms).toFixed(3)}  ${ms(pushed.ms)}     ${(pushed.ms / cold.ms).toFixed(3)}  ${ms(container.ms)}        ${(container.ms / cold.ms).toFixed(3)}`,
  );
}
const med = (pick: (r: (typeof rows)[number]) => number) => median(rows.map(pick));
const ratio = (pick: (r: (typeof rows)[number]) => number) =>
  median(rows.map((r) => pick(r) / r.cold)).toFixed(3);
console.log(
  `median: cold ${ms(med((r) => r.cold))}, up to date ${ms(med((r) => r.upToDate))} (ratio ${ratio((r) => r.upToDate)}, target ≤ 0.1), +10 commits ${ms(med((r) => r.pushed))} (ratio ${ratio((r) => r.pushed)}), up to date in a container ${ms(med((r) => r.container))} (ratio ${ratio((r) => r.container)})`,
);
console.log(`load average at the end: ${load()}`);

await standIn.close();
await db.drop();
process.exit(0);
