// One bisection through every fault at once: its worker killed with -9, PostgreSQL restarted,
// and a runner host lost — right culprit, no stuck job, no container or lease left behind.
// PostgreSQL is this test's own, so restarting it disturbs no other test file.
import type { ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Knex } from "knex";
import { Model } from "objection";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { createKnex, withDatabase } from "../../db/connection";
import { freePort } from "../../db/embedded";
import { spawnEmbeddedPostgres, type EmbeddedProcess } from "../../db/embedded-process";
import { instanceId } from "../../db/instance";
import { migrateLatest } from "../../db/migrate";
import { BisectJob, BisectStep, RunnerLease } from "../../db/models";
import { createJob } from "../../jobs/bisection/intake";
import { checkHosts } from "../../jobs/farm/health";
import { reap } from "../../jobs/farm/reaper";
import type { WorkerContext } from "../../jobs/worker-context";
import { StatusCommentCache } from "../../jobs/github/status-cache";
import { makeRepo } from "../../runner/executors/test-support";
import { registerHost } from "../../jobs/farm/hosts";
import {
  containersOfJob,
  dockerRequired,
  ensureImageEverywhere,
  tlsEngines,
  type TestEngine,
} from "../helpers/engines";
import { queuedJobs } from "../helpers/queue";
import { farmWorkerEnv, finalJob, spawnFarmWorker, waitFor } from "../helpers/farm-worker";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy";

const { engines, problem } = await tlsEngines();
if (problem && dockerRequired) throw new Error(`Docker engines are required in CI: ${problem}`);
const suite = problem ? describe.skip : describe;

suite("a bisection through every fault", () => {
  let pg: EmbeddedProcess;
  let dataDir: string;
  let port: number;
  let url: string;
  let knex: Knex;
  let proxy: TcpProxy;
  const workers: ChildProcess[] = [];
  let finished = false;

  // Like the deployment's supervisor (compose restart policy, npm start): a worker that exits
  // (it does when it loses the database for good) is started again, unless it was killed on purpose.
  const spawnWorker = (): ChildProcess => {
    const child = spawnFarmWorker(farmWorkerEnv(url, engines[0]));
    workers.push(child);
    child.once("exit", (_code, signal) => {
      if (signal !== "SIGKILL" && !finished) setTimeout(() => !finished && spawnWorker(), 1_000);
    });
    return child;
  };

  beforeAll(async () => {
    await ensureImageEverywhere(engines as TestEngine[]);
    dataDir = mkdtempSync(path.join(tmpdir(), "bisect-survival-pg-"));
    port = await freePort();
    pg = await spawnEmbeddedPostgres(dataDir, { port, persistent: true });
    const admin = createKnex(pg.url, { poolMax: 1 });
    await admin.raw("create database survival");
    await admin.destroy();
    url = withDatabase(pg.url, "survival");
    knex = createKnex(url, { poolMax: 4 });
    await migrateLatest(knex, url);
    Model.knex(knex);
    proxy = await startTcpProxy("127.0.0.1", Number(new URL(engines[1]!.endpoint).port));
  }, 600_000);
  afterAll(async () => {
    finished = true;
    for (const w of workers) if (w.exitCode === null) w.kill("SIGKILL");
    await proxy?.close();
    await knex?.destroy();
    await pg?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("survives kill -9, a PostgreSQL restart and a lost host, and leaves nothing behind", async () => {
    const [h1, h2] = engines as TestEngine[];
    await registerHost(knex, {
      name: "h1",
      dockerEndpoint: h1!.endpoint,
      tlsPath: h1!.tlsPath,
      capacity: 2,
      source: "admin",
    });
    await registerHost(knex, {
      name: "h2-via-proxy",
      dockerEndpoint: `tcp://127.0.0.1:${proxy.port}`,
      tlsPath: h2!.tlsPath,
      capacity: 2,
      source: "admin",
    });
    const repo = makeRepo(64, 41);
    chmodSync(repo.dir, 0o755);
    const { job } = await createJob(knex, {
      source: "cli",
      repoUrl: repo.dir,
      goodRef: repo.shas[0]!,
      badRef: "main",
      command: "sleep 2; sh check.sh",
      options: { parallel: 4 },
    });
    const doneCount = async () =>
      (await BisectStep.query().where({ bisectJobId: job.id, status: "done" })).length;

    // 1. kill -9 the worker mid-job; a new one takes over.
    const first = spawnWorker();
    await waitFor("two verdicts", async () => (await doneCount()) >= 2);
    first.kill("SIGKILL");
    spawnWorker();

    // 2. restart PostgreSQL under the running worker.
    const before = await doneCount();
    await waitFor("another verdict", async () => (await doneCount()) > before);
    await pg.stop();
    await new Promise((r) => setTimeout(r, 1_000));
    pg = await spawnEmbeddedPostgres(dataDir, { port, persistent: true });

    // 3. lose a runner host while it runs a step.
    const proxyHost = await waitFor(
      "the proxied host",
      async () =>
        (await knex("runner_hosts").where({ name: "h2-via-proxy" }).first()) as { id: number },
    );
    await waitFor("a run on h2", async () => {
      const final = await BisectJob.query().findById(job.id);
      if (final?.isFinal) return true;
      return (
        (
          await BisectStep.query().where({
            bisectJobId: job.id,
            status: "running",
            runnerHostId: proxyHost.id,
          })
        ).length > 0
      );
    });
    await proxy.cut();

    const done = await finalJob(job.id, 300_000);
    expect(done).toMatchObject({ status: "finished", outcome: "found", culpritSha: repo.shas[41] });

    // Nothing stuck: no step in flight, nothing of the job left in the queue, no open lease.
    await waitFor(
      "steps to settle",
      async () =>
        (await BisectStep.query().where({ bisectJobId: job.id }).modify("inFlight")).length === 0,
      30_000,
    );
    // Work that can still run: not failed, and attempts left (a crash uses one up).
    const ofTheJob = async () =>
      (await queuedJobs(knex)).filter(
        (q) =>
          [q.payload.jobId, q.payload.stepId].some(Boolean) &&
          !q.lastError &&
          q.attempts < q.maxAttempts,
      );
    await waitFor("the queue to drain", async () => (await ofTheJob()).length === 0, 90_000).catch(
      async (error: Error) => {
        throw new Error(`${error.message}: ${JSON.stringify(await ofTheJob())}`);
      },
    );
    expect(
      await RunnerLease.query().whereNull("releasedAt").where("expiresAt", ">", new Date()),
    ).toEqual([]);

    // The lost host comes back; the reaper removes whatever runs were cut off there.
    await proxy.restore();
    const ctx: WorkerContext = {
      config: loadConfig({ DATABASE_URL: url, RUNNER_FETCH_NETWORK: "none" }),
      knex,
      workerDatabaseUrl: url,
      statusComments: new StatusCommentCache(),
      instanceId: await instanceId(knex),
    };
    await checkHosts(ctx);
    await waitFor(
      "no container of the job",
      async () => {
        await reap(ctx);
        return (
          (await containersOfJob(engines as TestEngine[], ctx.instanceId, job.id)).length === 0
        );
      },
      120_000,
    );
  }, 600_000);
});
