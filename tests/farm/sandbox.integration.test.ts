// The farm's sandboxes on two real engines: a job's steps reuse its sandboxes (each run names the
// container it sees, in its log), and they are gone once the job has ended — found or cancelled.
import { Model } from "objection";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { instanceId } from "../../db/instance";
import { BisectStep, RunnerLease } from "../../db/models";
import { createJob } from "../../jobs/bisection/intake";
import { cancelJob } from "../../jobs/bisection/control";
import { startWorker, type StartedWorker } from "../../jobs/worker";
import { registerHost } from "../../jobs/farm/hosts";
import { makeRepo } from "../../runner/executors/test-support";
import { SANDBOX_LABEL } from "../../runner/labels";
import { useTestDatabase } from "../helpers/database";
import { finalJob, waitFor } from "../helpers/farm-worker";
import {
  containersOfJob,
  dockerRequired,
  ensureImageEverywhere,
  tlsEngines,
  type TestEngine,
} from "../helpers/engines";

const { engines, problem } = await tlsEngines();
if (problem && dockerRequired) throw new Error(`Docker engines are required in CI: ${problem}`);
const suite = problem ? describe.skip : describe;

// The container a run is in, from its own mount table (its hostname file lives in the engine's
// directory of that container).
const NAME_CONTAINER = "grep -o 'containers/[0-9a-f]\\{64\\}' /proc/self/mountinfo | head -n 1";

suite("the farm's sandboxes", () => {
  const db = useTestDatabase();
  let worker: StartedWorker;
  let instance: string;
  const slots = 2 * 2;

  const sandboxesOfJob = async (jobId: number) => {
    const ids: string[] = [];
    for (const e of engines) {
      const filters = {
        label: [`bisect-bot.instance=${instance}`, `bisect-bot.job=${jobId}`, SANDBOX_LABEL],
      };
      const list = await e.docker.listContainers({ all: true, filters: JSON.stringify(filters) });
      ids.push(...list.map((c) => c.Id));
    }
    return ids;
  };

  beforeAll(async () => {
    Model.knex(db.current.knex);
    instance = await instanceId(db.current.knex);
    await ensureImageEverywhere(engines as TestEngine[]);
    for (const e of engines)
      await registerHost(db.current.knex, {
        name: e.name,
        dockerEndpoint: e.endpoint,
        tlsPath: e.tlsPath,
        capacity: 2,
        source: "admin",
      });
    const config = loadConfig({
      DATABASE_URL: db.current.url,
      LOG_LEVEL: "error",
      WORKER_CONCURRENCY: "8",
      RUNNER_FETCH_NETWORK: "none",
    });
    worker = await startWorker(config, { registerEnvHost: false });
  }, 600_000);
  afterAll(async () => {
    await worker?.stop();
  });

  it("runs a job's steps in a few sandboxes, one per slot, and removes them when the culprit is found", async () => {
    const repo = makeRepo(60, 41);
    const { job } = await createJob(db.current.knex, {
      source: "cli",
      repoUrl: repo.dir,
      goodRef: repo.shas[0]!,
      badRef: "main",
      command: `${NAME_CONTAINER}; sh check.sh`,
      options: { parallel: slots },
    });
    const done = await finalJob(job.id);
    expect(done).toMatchObject({ status: "finished", culpritSha: repo.shas[41] });
    const steps = await BisectStep.query().where({ bisectJobId: job.id, status: "done" });
    const containers = new Set(
      steps.map((s) => /containers\/([0-9a-f]{64})/.exec(s.logExcerpt ?? "")?.[1]),
    );
    // Every recorded run names its container (a step without one did not run its command).
    expect(
      steps
        .filter((s) => !/containers\/[0-9a-f]{64}/.test(s.logExcerpt ?? ""))
        .map((s) => ({ verdict: s.verdict, reason: s.reason, log: s.logExcerpt })),
    ).toEqual([]);
    // One sandbox per slot, and another only where a run was stopped half-way (a run made useless
    // by another verdict): its sandbox is not trusted again. Far fewer than runs.
    const stopped = await BisectStep.query().where({ bisectJobId: job.id, status: "cancelled" });
    expect(steps.length).toBeGreaterThan(slots);
    expect(containers.size).toBeLessThanOrEqual(slots + stopped.length);
    expect(containers.size).toBeLessThan(steps.length);
    await expect
      .poll(() => containersOfJob(engines as TestEngine[], instance, job.id), {
        timeout: 30_000,
        interval: 250,
      })
      .toEqual([]);
  }, 300_000);

  it("removes a cancelled job's sandboxes", async () => {
    const repo = makeRepo(30, 20);
    const { job } = await createJob(db.current.knex, {
      source: "cli",
      repoUrl: repo.dir,
      goodRef: repo.shas[0]!,
      badRef: "main",
      command: "sleep 600; sh check.sh",
      options: { parallel: 3 },
    });
    await expect
      .poll(async () => (await sandboxesOfJob(job.id)).length, { timeout: 60_000, interval: 250 })
      .toBeGreaterThan(0);
    expect(await cancelJob(db.current.knex, job.id, { login: "tester" })).toBe(true);
    // Sooner than the job's end waits for runs that do not stop (RUNNER_LOST_HOST_SECONDS, 60 s):
    // the runs were stopped, not waited for. What still held on is told when they were not.
    const left = await waitFor(
      "the job's containers to go",
      async () => (await containersOfJob(engines as TestEngine[], instance, job.id)).length === 0,
      45_000,
    ).catch(async (error: Error) => {
      const [steps, leases] = await Promise.all([
        BisectStep.query().where({ bisectJobId: job.id }).select("id", "status", "reason"),
        RunnerLease.query().whereNull("releasedAt").select("holder", "bisectStepId"),
      ]);
      const containers = await containersOfJob(engines as TestEngine[], instance, job.id);
      return `${error.message}: ${JSON.stringify({ containers, steps, leases })}`;
    });
    expect(left).toBe(true);
  }, 300_000);
});
