// npm run bench:chaos [-- --bisections 20 --seed 1 --engine-restart proxy|real]
//
// Bisections from `/bisect` comments (signed deliveries, the GitHub stand-in, two runner hosts,
// two worker processes under a supervisor) while, at random, a worker is killed with -9,
// PostgreSQL is restarted and the second runner engine is restarted. Then it checks what a user
// and an operator would: every culprit right, no job left non-final, no container, lease or
// volume left, and exactly one final comment in every thread. Prints its figures; exits 1 when
// a check fails.
//
// `--engine-restart proxy` (the default) restarts the second host's connection: every request
// and stream to it is dropped for a few seconds (the host is reached through a loopback proxy),
// which is what the workers see of a restarting engine, without stopping an engine other
// processes on this machine share. `--engine-restart real` stops that engine's dockerd (its pid
// file, tests/helpers/engines.ts) and starts it again with BISECT_ENGINES_SCRIPT (default
// ../shared/docker/engines.sh) `up 2`: use it only where nothing else uses the engines.
import type { ChildProcess } from "node:child_process";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Knex } from "knex";
import { Model } from "objection";
import { receiveWebhook } from "../../app/webhook.server";
import { loadConfig } from "../../config/env";
import { createKnex, withDatabase } from "../../db/connection";
import { freePort } from "../../db/embedded";
import { spawnEmbeddedPostgres, type EmbeddedProcess } from "../../db/embedded-process";
import { instanceId } from "../../db/instance";
import { migrateLatest } from "../../db/migrate";
import { BisectJob, BisectStep, RunnerLease } from "../../db/models";
import { checkHosts } from "../../jobs/farm/health";
import { INSTANCE_LABEL } from "../../jobs/farm/labels";
import { reap } from "../../jobs/farm/reaper";
import type { WorkerContext } from "../../jobs/worker-context";
import { StatusCommentCache } from "../../jobs/github/status-cache";
import { makeRepo, type TestRepo } from "../../runner/executors/test-support";
import { registerHost } from "../../jobs/farm/hosts";
import { makeAppKey, startGitHubStandIn } from "../../tests/github-stand-in/server";
import {
  installationPayload,
  issueCommentPayload,
  webhookHeaders,
} from "../../tests/github-stand-in/webhook";
import { dockerdPid, ensureImageEverywhere, tlsEngines } from "../../tests/helpers/engines";
import { farmWorkerEnv, waitFor } from "../../tests/helpers/farm-worker";
import { queuedJobs } from "../../tests/helpers/queue";
import { startTcpProxy, type TcpProxy } from "../../tests/helpers/tcp-proxy";

const { values } = parseArgs({
  options: {
    bisections: { type: "string", default: "20" },
    seed: { type: "string", default: String(Date.now() % 100_000) },
    "engine-restart": { type: "string", default: "proxy" },
    commits: { type: "string", default: "40" },
  },
});
const bisections = Number(values.bisections);
const commits = Number(values.commits);
const engineRestart = values["engine-restart"];
if (!["proxy", "real"].includes(engineRestart!)) throw new Error("--engine-restart: proxy or real");
const log = (message: string) =>
  console.error(`[bench:chaos ${new Date().toISOString().slice(11, 19)}] ${message}`);

// A seeded generator (mulberry32): a run can be repeated with its --seed.
let state = Number(values.seed) >>> 0;
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const between = (lo: number, hi: number) => lo + random() * (hi - lo);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const { engines, problem } = await tlsEngines();
if (problem) throw new Error(problem);
const [h1, h2] = engines;
log("runner image on both engines…");
await ensureImageEverywhere(engines);

// ---- PostgreSQL of its own (it is restarted) ----
const work = mkdtempSync(path.join(tmpdir(), "bisect-chaos-"));
chmodSync(work, 0o755);
const dataDir = mkdtempSync(path.join(tmpdir(), "bisect-chaos-pg-"));
const pgPort = await freePort();
let pg: EmbeddedProcess = await spawnEmbeddedPostgres(dataDir, { port: pgPort, persistent: true });
{
  const admin = createKnex(pg.url, { poolMax: 1 });
  await admin.raw("create database chaos");
  await admin.destroy();
}
const url = withDatabase(pg.url, "chaos");
const knex: Knex = createKnex(url, { poolMax: 4 });
await migrateLatest(knex, url);
Model.knex(knex);

// ---- GitHub: four organisations, one repository each, with a different culprit ----
const APP_ID = 1001;
const SECRET = "chaos-webhook-secret-0123456789";
const privateKey = makeAppKey();
const orgs = [0, 1, 2, 3].map((i) => {
  const culprit = 5 + Math.floor(random() * (commits - 6));
  const repo: TestRepo = makeRepo(commits, culprit);
  chmodSync(repo.dir, 0o755);
  return {
    installationId: 5100 + i,
    account: { login: `org${i}`, id: 8100 + i },
    repo: { owner: `org${i}`, name: "app", id: 710000 + i, ownerId: 8100 + i },
    dir: repo.dir,
    shas: repo.shas,
    culprit,
  };
});
const alice = { login: "alice", id: 9101 };
const standIn = await startGitHubStandIn({
  app: { id: APP_ID, slug: "bisect-bot", privateKey },
  users: [{ login: "alice", id: alice.id, emails: [] }],
  repositories: orgs.map((o) => ({ owner: o.repo.owner, name: "app", id: o.repo.id, path: o.dir })),
  installations: orgs.map((o) => ({
    id: o.installationId,
    account: { login: o.account.login, type: "Organization" as const, id: o.account.id },
    repositories: [`${o.repo.owner}/app`],
  })),
});
for (const o of orgs) standIn.setPermission(o.repo.owner, "app", "alice", "write");

const githubEnv = {
  PUBLIC_URL: "https://bisect.example.com",
  GITHUB_APP_ID: String(APP_ID),
  GITHUB_APP_SLUG: "bisect-bot",
  GITHUB_APP_PRIVATE_KEY: privateKey,
  GITHUB_WEBHOOK_SECRET: SECRET,
  GITHUB_CLIENT_ID: "Iv23liChaosClient",
  GITHUB_CLIENT_SECRET: "client-secret",
  GITHUB_API_URL: standIn.urls.api,
  GITHUB_URL: standIn.urls.web,
};
const config = loadConfig({ DATABASE_URL: url, LOG_LEVEL: "error", ...githubEnv });
let deliveries = 0;
async function deliver(event: string, payload: unknown): Promise<void> {
  const body = JSON.stringify(payload);
  const id = `c4a05000-0000-4000-8000-${String(++deliveries).padStart(12, "0")}`;
  const request = new Request("http://localhost/webhook", {
    method: "POST",
    headers: webhookHeaders(event, id, body, SECRET),
    body,
  });
  const response = await receiveWebhook(request, { config, db: () => knex });
  if (response.status !== 202) throw new Error(`delivery ${event}: ${response.status}`);
}

// ---- runner hosts: h1 directly; h2 through a proxy (cut to restart it) or directly ----
const proxy: TcpProxy | null =
  engineRestart === "proxy"
    ? await startTcpProxy("127.0.0.1", Number(new URL(h2!.endpoint).port))
    : null;
await registerHost(knex, {
  name: "h1",
  dockerEndpoint: h1!.endpoint,
  tlsPath: h1!.tlsPath,
  capacity: 2,
  source: "admin",
});
await registerHost(knex, {
  name: "h2",
  dockerEndpoint: proxy ? `tcp://127.0.0.1:${proxy.port}` : h2!.endpoint,
  tlsPath: h2!.tlsPath,
  capacity: 2,
  source: "admin",
});

// ---- two workers under a supervisor: one that exits is started again after a second ----
const workerLog = openSync(path.join(work, "workers.log"), "a");
const workers = new Set<ChildProcess>();
let stopping = false;
let restarts = 0;
const workerEnv = {
  ...farmWorkerEnv(url, h1),
  ...githubEnv,
  // The fetch container reaches the stand-in's git endpoint on 127.0.0.1.
  RUNNER_FETCH_NETWORK: "host",
  WORKER_CONCURRENCY: "8",
  // Warnings too: the watchdog's resumptions are part of what a failed check needs.
  LOG_LEVEL: "warn",
};
function spawnWorker(): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "jobs/worker.ts"], {
    env: workerEnv,
    stdio: ["ignore", workerLog, workerLog],
  });
  workers.add(child);
  child.once("exit", () => {
    workers.delete(child);
    if (!stopping)
      setTimeout(() => {
        if (!stopping) {
          restarts++;
          spawnWorker();
        }
      }, 1_000);
  });
  return child;
}
spawnWorker();
spawnWorker();

// ---- installations (handled by the workers), on a plan that runs ten jobs at once ----
for (const o of orgs)
  await deliver(
    "installation",
    installationPayload("created", {
      installationId: o.installationId,
      account: o.account,
      appId: APP_ID,
      repositories: [{ id: o.repo.id, name: "app" }],
      urls: standIn.urls,
    }),
  );
await waitFor("the installations", async () => {
  const row = await knex("repositories").count({ n: "*" }).first();
  return Number(row?.n) === orgs.length;
});
await knex("installations").update({ tier: "enterprise" });

// ---- the bisections: /bisect comments, one thread each ----
interface Thread {
  org: (typeof orgs)[number];
  issue: number;
  commentId: number;
}
const threads: Thread[] = [];
const started = Date.now();
for (let i = 0; i < bisections; i++) {
  const org = orgs[i % orgs.length]!;
  const issue = 100 + i;
  const body = `/bisect ${org.shas[0]} main --parallel 2 -- sh check.sh`;
  const seeded = standIn.seedComment(org.repo.owner, "app", issue, { body, user: "alice" });
  await deliver(
    "issue_comment",
    issueCommentPayload({
      action: "created",
      installationId: org.installationId,
      repo: org.repo,
      issue: { number: issue, title: `Regression ${i}` },
      comment: { id: seeded.id, body, user: alice, author_association: "MEMBER" },
      urls: standIn.urls,
    }),
  );
  threads.push({ org, issue, commentId: seeded.id });
}
log(`${bisections} /bisect comments delivered (seed ${values.seed})`);

// ---- chaos until every job has ended ----
const jobsOf = () =>
  BisectJob.query(knex).whereIn(
    "triggerCommentId",
    threads.map((t) => t.commentId),
  );
const allFinal = async () => {
  const jobs = await jobsOf();
  return jobs.length === bisections && jobs.every((j) => j.isFinal);
};
const faults = { kill: 0, postgres: 0, engine: 0 };
async function killWorker(): Promise<void> {
  const alive = [...workers].filter((w) => w.exitCode === null && w.signalCode === null);
  const victim = alive[Math.floor(random() * alive.length)];
  if (!victim) return;
  victim.kill("SIGKILL");
  faults.kill++;
  log(`killed worker ${victim.pid} with -9`);
}
async function restartPostgres(): Promise<void> {
  await pg.stop();
  await sleep(between(500, 3_000));
  pg = await spawnEmbeddedPostgres(dataDir, { port: pgPort, persistent: true });
  faults.postgres++;
  log("restarted PostgreSQL");
}
async function restartEngine(): Promise<void> {
  if (proxy) {
    await proxy.cut();
    await sleep(between(2_000, 8_000));
    await proxy.restore();
  } else {
    const pid = dockerdPid(h2!);
    process.kill(pid, "SIGTERM");
    await waitFor("dockerd to stop", async () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    const script =
      process.env.BISECT_ENGINES_SCRIPT ?? path.resolve("..", "shared", "docker", "engines.sh");
    execFileSync("bash", [script, "up", "2"], { stdio: "ignore" });
  }
  faults.engine++;
  log(`restarted the second engine (${engineRestart})`);
}
// Each kind of fault once early on (in a random order), then at random until the end. After a
// fault the next waits until the farm has made progress again (two more verdicts, or the end):
// faults faster than a worker can start on this machine would measure the machine, not recovery.
const kinds = [killWorker, restartPostgres, restartEngine].sort(() => random() - 0.5);
const deadline = Date.now() + 45 * 60_000;
const verdicts = async () =>
  (
    await BisectStep.query(knex)
      .whereIn(
        "bisectJobId",
        (await jobsOf()).map((j) => j.id),
      )
      .where({ status: "done" })
  ).length;
while (!(await allFinal().catch(() => false))) {
  if (Date.now() > deadline) break;
  await sleep(between(5_000, 20_000));
  if (await allFinal().catch(() => false)) break;
  const roll = random();
  const fault =
    kinds.shift() ?? (roll < 0.5 ? killWorker : roll < 0.75 ? restartPostgres : restartEngine);
  await fault().catch((error) => log(`fault failed: ${(error as Error).message}`));
  const before = await waitFor("the verdicts so far", () => verdicts().then((n) => n + 1)).then(
    (n) => n - 1,
  );
  await waitFor(
    "progress after the fault",
    async () => (await allFinal()) || (await verdicts()) >= before + 2,
    15 * 60_000,
  ).catch(() => {});
}
const wallMs = Date.now() - started;
log("every job has ended; waiting for their clean-up…");

// ---- the checks ----
const ctx: WorkerContext = {
  config: loadConfig({ DATABASE_URL: url, RUNNER_FETCH_NETWORK: "none" }),
  knex,
  workerDatabaseUrl: url,
  statusComments: new StatusCommentCache(),
  instanceId: await instanceId(knex),
};
const jobs = await jobsOf();
const nonFinal = jobs.filter((j) => !j.isFinal).length + (bisections - jobs.length);
const wrong = jobs.filter((j) => {
  const org = threads.find((t) => t.commentId === j.triggerCommentId)!.org;
  return !(
    j.status === "finished" &&
    j.outcome === "found" &&
    j.culpritSha === org.shas[org.culprit]
  );
});

// Each job's clean-up task (bisect__finish) runs after its end is recorded.
const jobIds = new Set(jobs.map((j) => j.id));
const cleanupPending = async () =>
  (await queuedJobs(knex, "bisect__finish")).filter(
    (q) => jobIds.has(Number(q.payload.jobId)) && q.attempts < q.maxAttempts,
  ).length;
await waitFor("the clean-up tasks", async () => (await cleanupPending()) === 0, 180_000).catch(
  () => {},
);

async function leftovers() {
  let containers = 0;
  let volumes = 0;
  for (const e of engines) {
    const label = JSON.stringify({ label: [`${INSTANCE_LABEL}=${ctx.instanceId}`] });
    containers += (await e.docker.listContainers({ all: true, filters: label })).length;
    volumes += (await e.docker.listVolumes({ filters: label })).Volumes?.length ?? 0;
  }
  const leases = (await RunnerLease.query(knex).whereNull("releasedAt")).length;
  return { containers, volumes, leases };
}
const afterCleanup = await leftovers();
// Then what the reaper (a minute's cron on the workers) removes: runs cut off by a fault.
if (proxy) await checkHosts(ctx);
let afterReaper = afterCleanup;
await waitFor(
  "the reaper",
  async () => {
    await reap(ctx, { graceMs: 0 });
    afterReaper = await leftovers();
    return afterReaper.containers + afterReaper.volumes + afterReaper.leases === 0;
  },
  120_000,
).catch(() => {});

const finalText = /found the first bad commit|failed|could not finish|cancelled|was stopped/i;
const threadFindings = threads.map((t) => {
  const bot = standIn
    .comments(t.org.repo.owner, "app", t.issue)
    .filter((c) => c.user === "bisect-bot[bot]" && !c.deleted);
  return { bot: bot.length, final: bot.filter((c) => finalText.test(c.body)).length };
});
const oneFinal = threadFindings.filter((f) => f.final === 1 && f.bot === 1).length;
const steps = await BisectStep.query(knex).whereIn("bisectJobId", [...jobIds]);
const errored = steps.filter((s) => s.verdict === "error").length;
// What a failed check needs to be understood: the wrong jobs' rows, steps and audit trail.
for (const j of wrong) {
  log(
    `job ${j.id}: ${JSON.stringify({ status: j.status, outcome: j.outcome, explanation: j.explanation, createdAt: j.createdAt, updatedAt: j.updatedAt, startedAt: j.startedAt })}`,
  );
  for (const s of steps.filter((s) => s.bisectJobId === j.id))
    log(
      `  step ${s.id} ${s.sha.slice(0, 7)} ${s.status} ${s.verdict ?? ""} ${s.reason ?? ""} ${s.createdAt.toISOString()} → ${s.updatedAt.toISOString()}`,
    );
}

stopping = true;
for (const w of workers) w.kill("SIGKILL");
await proxy?.close();
await standIn.close();
await knex.destroy();
await pg.stop();

const ok =
  nonFinal === 0 &&
  wrong.length === 0 &&
  oneFinal === bisections &&
  afterReaper.containers + afterReaper.volumes + afterReaper.leases === 0;
const [l1, l5] = loadavg();
console.log(
  `bench:chaos — ${bisections} bisections of ${commits} commits (4 installations, --parallel 2), 2 hosts × 2 slots, 2 workers; seed ${values.seed}; engine restart: ${engineRestart}`,
);
console.log(`load average at the end: ${l1!.toFixed(2)} (1 min), ${l5!.toFixed(2)} (5 min)`);
console.log(
  `faults: ${faults.kill} workers killed with -9, ${faults.postgres} PostgreSQL restarts, ${faults.engine} engine restarts; workers started again by the supervisor: ${restarts}`,
);
console.log(
  `wall time: ${(wallMs / 1000).toFixed(0)} s; steps: ${steps.length} (${errored} errored and retried)`,
);
console.log(
  `culprits right: ${jobs.length - wrong.length}/${bisections}${wrong.length ? `  WRONG: ${wrong.map((j) => `job ${j.id} ${j.status}/${j.outcome} ${j.explanation ?? ""}`).join("; ")}` : ""}`,
);
console.log(`jobs left non-final: ${nonFinal}`);
console.log(
  `left after the jobs' own clean-up: ${afterCleanup.containers} containers, ${afterCleanup.volumes} volumes, ${afterCleanup.leases} open leases`,
);
console.log(
  `left after the reaper: ${afterReaper.containers} containers, ${afterReaper.volumes} volumes, ${afterReaper.leases} open leases`,
);
console.log(
  `threads with exactly one final comment (and no other bot comment): ${oneFinal}/${bisections}${oneFinal < bisections ? `  ${JSON.stringify(threadFindings)}` : ""}`,
);
console.log(
  ok ? "all checks passed" : `CHECKS FAILED (worker logs: ${path.join(work, "workers.log")})`,
);
if (ok) {
  rmSync(work, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
} else console.log(`PostgreSQL data kept in ${dataDir}`);
for (const o of orgs) rmSync(o.dir, { recursive: true, force: true });
process.exit(ok ? 0 : 1);
