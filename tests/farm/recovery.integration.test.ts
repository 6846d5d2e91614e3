// The farm survives a killed worker (kill -9) and a lost runner host: right culprit, nothing
// recorded is run again, no container or lease left behind.
import type { ChildProcess } from "node:child_process";
import { Model } from "objection";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { instanceId } from "../../db/instance";
import { BisectStep, RunnerHost, RunnerLease } from "../../db/models";
import { createJob } from "../../jobs/bisection/intake";
import { checkHosts } from "../../jobs/farm/health";
import { reap } from "../../jobs/farm/reaper";
import type { WorkerContext } from "../../jobs/worker-context";
import { StatusCommentCache } from "../../jobs/github/status-cache";
import { makeRepo } from "../../runner/executors/test-support";
import { registerHost } from "../../jobs/farm/hosts";
import { useTestDatabase } from "../helpers/database";
import {
  containersOfJob,
  dockerRequired,
  ensureImageEverywhere,
  tlsEngines,
  type TestEngine,
} from "../helpers/engines";
import { farmWorkerEnv, finalJob, spawnFarmWorker, waitFor } from "../helpers/farm-worker";
import { queuedJobs } from "../helpers/queue";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy";

const { engines, problem } = await tlsEngines();
if (problem && dockerRequired) throw new Error(`Docker engines are required in CI: ${problem}`);
const suite = problem ? describe.skip : describe;

const workerEnv = (url: string) => farmWorkerEnv(url, engines[0]);
const spawnWorker = (url: string) => spawnFarmWorker(workerEnv(url));

/**
 * Waits for the job's bisect__finish to have run (it waits up to RUNNER_LOST_HOST_SECONDS for the
 * job's runs to stop, then sweeps); a failed one stays queued with its error, which is reported.
 */
async function cleanUpDone(jobId: number): Promise<void> {
  const limitMs = (Number(farmWorkerEnv("", undefined).RUNNER_LOST_HOST_SECONDS) + 45) * 1000;
  const pending = await waitFor(
    `bisect__finish of job ${jobId}`,
    async () => {
      const left = (await queuedJobs(Model.knex(), "bisect__finish")).filter(
        (t) => t.payload.jobId === jobId,
      );
      if (left.some((t) => t.lastError))
        throw new Error(`bisect__finish failed: ${left.find((t) => t.lastError)!.lastError}`);
      return left.length === 0 ? "done" : null;
    },
    limitMs,
  ).catch(async (error) => {
    const left = (await queuedJobs(Model.knex(), "bisect__finish")).filter(
      (t) => t.payload.jobId === jobId,
    );
    throw new Error(
      `${(error as Error).message}${left[0]?.lastError ? `: ${left[0].lastError}` : ""}`,
    );
  });
  expect(pending).toBe("done");
}

suite("farm recovery", () => {
  const db = useTestDatabase();
  const children: ChildProcess[] = [];
  let proxy: TcpProxy;
  let ctx: WorkerContext;

  beforeAll(async () => {
    Model.knex(db.current.knex);
    await ensureImageEverywhere(engines as TestEngine[]);
    proxy = await startTcpProxy("127.0.0.1", Number(new URL(engines[1]!.endpoint).port));
    ctx = {
      config: loadConfig(workerEnv(db.current.url)),
      knex: db.current.knex,
      workerDatabaseUrl: db.current.url,
      statusComments: new StatusCommentCache(),
      instanceId: await instanceId(db.current.knex),
    };
  }, 600_000);
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it("finishes a bisection after its worker is killed with -9, without re-running recorded steps", async () => {
    await RunnerHost.query().delete();
    for (const e of engines) {
      await registerHost(db.current.knex, {
        name: e.name,
        dockerEndpoint: e.endpoint,
        tlsPath: e.tlsPath,
        capacity: 2,
        source: "admin",
      });
    }
    const repo = makeRepo(48, 31);
    const { job } = await createJob(db.current.knex, {
      source: "cli",
      repoUrl: repo.dir,
      goodRef: repo.shas[0]!,
      badRef: "main",
      command: "sleep 1; sh check.sh",
      options: { parallel: 4 },
    });
    const first = spawnWorker(db.current.url);
    children.push(first);
    // Kill it once some verdicts are recorded and runs are in flight.
    await waitFor("steps done and running", async () => {
      const steps = await BisectStep.query().where({ bisectJobId: job.id });
      return (
        steps.filter((s) => s.status === "done").length >= 3 &&
        steps.some((s) => s.status === "running")
      );
    });
    first.kill("SIGKILL");
    const recorded = await BisectStep.query().where({ bisectJobId: job.id, status: "done" });

    children.push(spawnWorker(db.current.url));
    const done = await finalJob(job.id);
    const steps = await BisectStep.query().where({ bisectJobId: job.id }).orderBy("id");
    // On a wrong answer, the steps say why (which commit, which verdict, what the run said).
    const story = steps.map(
      (s) => `#${repo.shas.indexOf(s.sha)} ${s.status} ${s.verdict ?? ""} ${s.reason ?? ""}`,
    );
    expect({ ...done.toJSON(), story }).toMatchObject({
      status: "finished",
      outcome: "found",
      culpritSha: repo.shas[31],
    });

    for (const r of recorded)
      expect(steps.find((s) => s.id === r.id)).toMatchObject({
        status: "done",
        verdict: r.verdict,
        finishedAt: r.finishedAt,
      });
    // Each commit has one recorded verdict: nothing already decided was run again.
    const decided = steps.filter((s) => s.status === "done" && s.verdict !== "error");
    expect(new Set(decided.map((s) => s.sha)).size).toBe(decided.length);
    // The job's end is recorded first; its clean-up (bisect__finish, queued in the same
    // transaction) follows. Once that task is done, nothing of the job may be left.
    await cleanUpDone(job.id);
    expect(await containersOfJob(engines as TestEngine[], ctx.instanceId, job.id)).toEqual([]);
    expect(
      await RunnerLease.query()
        .whereIn(
          "bisectStepId",
          steps.map((s) => s.id),
        )
        .whereNull("releasedAt"),
    ).toEqual([]);
  }, 300_000);

  it("finishes on the other host when one is lost mid-job, marks it down, and back up when it returns", async () => {
    await RunnerHost.query().delete();
    const [h1, h2] = engines as TestEngine[];
    await registerHost(db.current.knex, {
      name: "h1",
      dockerEndpoint: h1!.endpoint,
      tlsPath: h1!.tlsPath,
      capacity: 2,
      source: "admin",
    });
    const lost = await registerHost(db.current.knex, {
      name: "h2-via-proxy",
      dockerEndpoint: `tcp://127.0.0.1:${proxy.port}`,
      tlsPath: h2!.tlsPath,
      capacity: 2,
      source: "admin",
    });
    const repo = makeRepo(48, 17);
    const { job } = await createJob(db.current.knex, {
      source: "cli",
      repoUrl: repo.dir,
      goodRef: repo.shas[0]!,
      badRef: "main",
      command: "sleep 2; sh check.sh",
      options: { parallel: 4 },
    });
    children.push(spawnWorker(db.current.url));
    await waitFor(
      "a run on the host about to be lost",
      async () =>
        (
          await BisectStep.query().where({
            bisectJobId: job.id,
            status: "running",
            runnerHostId: lost.id,
          })
        ).length > 0,
    );
    await proxy.cut();

    const done = await finalJob(job.id);
    expect(done).toMatchObject({ status: "finished", outcome: "found", culpritSha: repo.shas[17] });
    expect((await RunnerHost.query().findById(lost.id))?.state).toBe("down");
    const errored = await BisectStep.query().where({
      bisectJobId: job.id,
      verdict: "error",
      runnerHostId: lost.id,
    });
    expect(errored.length).toBeGreaterThan(0);
    expect(errored.every((s) => s.reason?.startsWith("infrastructure"))).toBe(true);

    await proxy.restore();
    await checkHosts(ctx);
    expect((await RunnerHost.query().findById(lost.id))?.state).toBe("active");
    // Runs cut off on the lost host may still be there; the reaper removes them once it is back.
    await waitFor(
      "the reaper to clear the job's containers",
      async () => {
        await reap(ctx);
        return (
          (await containersOfJob(engines as TestEngine[], ctx.instanceId, job.id)).length === 0
        );
      },
      120_000,
    );
    expect(
      await RunnerLease.query().whereNull("releasedAt").where("expiresAt", ">", new Date()),
    ).toEqual([]);
  }, 300_000);
});
