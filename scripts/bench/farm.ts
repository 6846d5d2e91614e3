// npm run bench:farm [-- --commits 1024 --sleep 1 --mirror-commits 5000,40000]
//
// The farm under the bisect benchmark's workload (a linear repository, the command sleeps then
// checks a file), measured in one run against local `git bisect run`:
//   - 1 host × 2 slots versus 2 hosts × 2 slots (parallel = all slots): wall time, ratio to the
//     baseline, rounds, runs, slot utilisation (time runs held a lease ÷ slots × wall time);
//   - latency from queueing a step to its command starting (median, p95; target median ≤ 0.2 s),
//     and where the time from a verdict to the next command goes (verdict → queued → leased →
//     command), with the runs stopped because another verdict made them useless;
//   - the mirror cache on repositories of --mirror-commits commits: a cold clone into an empty
//     cache versus a warm refresh after 10 new commits (target ratio ≤ 0.1), and an empty refresh.
// Needs two Docker engines over TLS (shared/docker/engines.sh up 2) and PostgreSQL (DATABASE_URL,
// or an embedded one in a temporary directory).
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Model } from "objection";
import { loadConfig } from "../../config/env";
import { BisectJob, BisectStep, RunnerLease } from "../../db/models";
import { createJob } from "../../jobs/bisection/intake";
import { startWorker } from "../../jobs/worker";
import { registerHost } from "../../jobs/farm/hosts";
import { mirrorVolumeName, refreshMirror, removeMirror } from "../../runner/mirror/mirror";
import { ensureImageEverywhere, tlsEngines } from "../../tests/helpers/engines";
import { gitBisect } from "./lib/git-bisect";
import { generateRepo, linearHistory, seededRandom } from "./lib/repo-gen";
import { median, percentile } from "./lib/timing-executor";
import { benchDatabase } from "./lib/bench-db";
import { appendCommits, makeContentRepo } from "./lib/content-repo";

const { values } = parseArgs({
  options: {
    commits: { type: "string", default: "1024" },
    sleep: { type: "string", default: "1" },
    seed: { type: "string", default: "42" },
    "mirror-commits": { type: "string", default: "5000,40000" },
  },
});
const commits = Number(values.commits);
const command = `sleep ${Number(values.sleep)}; ! grep -q bad state.txt`;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

const { engines, problem } = await tlsEngines();
if (problem) throw new Error(problem);
process.stderr.write("runner image on both engines…\n");
await ensureImageEverywhere(engines);

const db = await benchDatabase("bisect_bench");
const { url, knex } = db;
Model.knex(knex);

const culprit =
  1 + Math.floor(commits * 0.05 + seededRandom(Number(values.seed))() * commits * 0.9);
const repo = await generateRepo(linearHistory(commits), { culprit });
chmodSync(repo.dir, 0o755);
const good = repo.shas[0]!;
const bad = repo.shas[commits - 1]!;
console.log(`repository: ${commits} commits (linear), culprit #${culprit}; command: ${command}`);

const baseline = await gitBisect(repo.dir, good, bad, command);
console.log(`baseline  git bisect run: ${secs(baseline.wallMs)}, ${baseline.steps} steps`);

const config = loadConfig({
  DATABASE_URL: url,
  LOG_LEVEL: "error",
  WORKER_CONCURRENCY: "10",
  RUNNER_FETCH_NETWORK: "none",
});
const worker = await startWorker(config, { registerEnvHost: false });

interface FarmRun {
  label: string;
  wallMs: number;
  rounds: number;
  runs: number;
  utilisation: number;
  queueToStart: number[];
  /** Where the time between a verdict and the next command goes, per run (ms). */
  phases: { verdictToQueued: number[]; queuedToLeased: number[]; leasedToCommand: number[] };
  cancelled: number;
  correct: boolean;
}

async function farmRun(label: string, hostCount: number, slotsPerHost: number): Promise<FarmRun> {
  await knex("runner_hosts").update({ state: "draining" });
  for (const e of engines.slice(0, hostCount)) {
    await registerHost(knex, {
      name: e.name,
      dockerEndpoint: e.endpoint,
      tlsPath: e.tlsPath,
      capacity: slotsPerHost,
      source: "admin",
    });
    await knex("runner_hosts")
      .where({ name: e.name })
      .update({ state: "active", capacity: slotsPerHost });
  }
  // Warm the mirrors first so both set-ups measure bisection, not the first clone.
  const warm = await createJob(knex, {
    source: "cli",
    repoUrl: repo.dir,
    goodRef: repo.shas[commits - 3]!,
    badRef: bad,
    command: "true",
    options: { parallel: 4 },
  });
  await waitFinal(warm.job.id);

  const slots = hostCount * slotsPerHost;
  const started = Date.now();
  const { job } = await createJob(knex, {
    source: "cli",
    repoUrl: repo.dir,
    goodRef: good,
    badRef: bad,
    command,
    options: { parallel: slots },
  });
  const done = await waitFinal(job.id);
  const wallMs = Date.now() - started;
  const all = await BisectStep.query(knex).where({ bisectJobId: job.id });
  const steps = all.filter((s) => s.status === "done");
  const leases = await RunnerLease.query(knex).whereIn(
    "bisectStepId",
    steps.map((s) => s.id),
  );
  const held = leases.reduce(
    (sum, l) => sum + ((l.releasedAt ?? l.expiresAt).getTime() - l.acquiredAt.getTime()),
    0,
  );
  return {
    label,
    wallMs,
    rounds: done.rounds,
    runs: steps.length,
    utilisation: held / (slots * wallMs),
    // From the step row's creation (queued) to its command starting (end minus its own duration).
    queueToStart: steps.map(
      (s) => s.finishedAt!.getTime() - (s.durationMs ?? 0) - s.createdAt.getTime(),
    ),
    phases: phasesOf(steps),
    cancelled: all.filter((s) => s.status === "cancelled").length,
    correct: done.culpritSha === repo.shas[culprit],
  };
}

/**
 * The path from a recorded verdict to the next command, split at the rows' own timestamps: the
 * verdict that queued a run (the latest one recorded before the run's row was made) → its row
 * queued → a slot leased and the run started on a host → its command starting (end minus the
 * command's own duration). Runs of the first round have no verdict before them.
 */
function phasesOf(steps: BisectStep[]): FarmRun["phases"] {
  const verdicts = steps.map((s) => s.finishedAt!.getTime()).sort((a, b) => a - b);
  const phases: FarmRun["phases"] = {
    verdictToQueued: [],
    queuedToLeased: [],
    leasedToCommand: [],
  };
  for (const s of steps) {
    const queued = s.createdAt.getTime();
    const trigger = verdicts.filter((t) => t <= queued + 5).pop();
    if (trigger !== undefined) phases.verdictToQueued.push(Math.max(0, queued - trigger));
    if (s.startedAt) {
      phases.queuedToLeased.push(s.startedAt.getTime() - queued);
      phases.leasedToCommand.push(
        s.finishedAt!.getTime() - (s.durationMs ?? 0) - s.startedAt.getTime(),
      );
    }
  }
  return phases;
}

async function waitFinal(jobId: number): Promise<BisectJob> {
  for (;;) {
    const job = await BisectJob.query(knex).findById(jobId);
    if (job?.isFinal) return job;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const runs = [await farmRun("1 host × 2 slots", 1, 2), await farmRun("2 hosts × 2 slots", 2, 2)];
await worker.stop();

console.log(
  "\nfarm                 wall      ratio  rounds  runs  slot use  queue→start p50 / p95  culprit",
);
for (const r of runs) {
  console.log(
    `${r.label.padEnd(20)} ${secs(r.wallMs).padStart(8)}  ${(r.wallMs / baseline.wallMs).toFixed(2).padStart(5)}  ${String(r.rounds).padStart(6)}  ${String(r.runs).padStart(4)}  ${(r.utilisation * 100).toFixed(0).padStart(7)}%  ${secs(median(r.queueToStart)).padStart(10)} / ${secs(percentile(r.queueToStart, 95))}  ${r.correct ? "right" : "WRONG"}`,
  );
}
const allLatencies = runs.flatMap((r) => r.queueToStart);
console.log(
  `queue → command start over ${allLatencies.length} runs: median ${secs(median(allLatencies))}, p95 ${secs(percentile(allLatencies, 95))} (target median ≤ 0.2 s)`,
);
const ms = (values: number[]) =>
  values.length ? `${Math.round(median(values))} / ${Math.round(percentile(values, 95))} ms` : "–";
console.log(
  "\nverdict → next command, p50 / p95  verdict→queued     queued→leased      leased→command   useless runs stopped",
);
for (const r of runs) {
  console.log(
    `${r.label.padEnd(33)} ${ms(r.phases.verdictToQueued).padStart(15)}  ${ms(r.phases.queuedToLeased).padStart(17)}  ${ms(r.phases.leasedToCommand).padStart(17)}  ${String(r.cancelled).padStart(8)}`,
  );
}
console.log(
  `load average: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);

// Mirror cache: cold clone versus warm refresh after 10 new commits, at each size; an empty
// refresh (nothing new) shows the fixed cost of a fetch container, which bounds the ratio.
const docker = engines[0]!.docker;
console.log(
  "\nmirror cache        size     cold clone  warm (+10 commits)  empty refresh  ratio warm/cold",
);
for (const size of values["mirror-commits"].split(",").map(Number)) {
  const big = mkdtempSync(path.join(tmpdir(), "bisect-bench-mirror-"));
  chmodSync(big, 0o755);
  makeContentRepo(big, size);
  const volume = mirrorVolumeName(`bench:${randomBytes(6).toString("hex")}`);
  const source = { kind: "host-path" as const, path: big };
  const cold = await refreshMirror(docker, {
    volume,
    source,
    image: config.RUNNER_IMAGE,
    network: "none",
  });
  appendCommits(big, size, 10);
  const warmRefresh = await refreshMirror(docker, {
    volume,
    source,
    image: config.RUNNER_IMAGE,
    network: "none",
  });
  const empty = await refreshMirror(docker, {
    volume,
    source,
    image: config.RUNNER_IMAGE,
    network: "none",
  });
  await removeMirror(docker, volume);
  rmSync(big, { recursive: true, force: true });
  console.log(
    `${`${size} commits`.padEnd(16)} ${`${(cold.sizeBytes / 1e6).toFixed(1)} MB`.padStart(8)}  ${secs(cold.durationMs).padStart(10)}  ${secs(warmRefresh.durationMs).padStart(18)}  ${secs(empty.durationMs).padStart(13)}  ${(warmRefresh.durationMs / cold.durationMs).toFixed(3).padStart(8)} (target ≤ 0.1)`,
  );
}

await repo.cleanup();
await db.drop();
process.exit(0);
