// After a job ends (finished, failed, cancelled): kill and remove its containers on every host,
// give back its leases, close its running steps.
import { BisectJob, BisectStep, RunnerHost, RunnerLease } from "../../db/models";
import { removeLabelled } from "../../runner/executors/docker-executor";
import { dockerFor } from "../../runner/farm/docker-clients";
import { probeHost, recordProbe } from "../../runner/farm/hosts";
import { releaseLease } from "../../runner/farm/leases";
import type { WorkerContext } from "../worker-context";
import { jobLabels } from "./labels";
import { notifyJobChanged } from "./notify";

export async function cleanUpJob(ctx: WorkerContext, jobId: number): Promise<{ removed: number }> {
  const { knex } = ctx;
  const job = await BisectJob.query(knex).findById(jobId);
  if (!job) return { removed: 0 };
  let removed = 0;
  for (const host of await RunnerHost.query(knex).whereNot({ state: "down" })) {
    try {
      removed += (await removeLabelled(dockerFor(host), jobLabels(ctx, jobId))).length;
    } catch {
      // Unreachable now: record it (down), and the reaper sweeps the job's containers there once
      // the host answers again — retrying this task would only wait for the same thing.
      await recordProbe(knex, host, await probeHost(host, ctx.config.RUNNER_IMAGE));
    }
  }
  const stepIds = BisectStep.query(knex).where({ bisectJobId: jobId }).select("id");
  for (const lease of await RunnerLease.query(knex).whereIn("bisectStepId", stepIds).whereNull("releasedAt")) {
    await releaseLease(knex, lease.id);
  }
  await BisectStep.query(knex).patch({ status: "cancelled", finishedAt: new Date() }).where({ bisectJobId: jobId }).whereIn("status", ["queued", "running"]);
  return { removed };
}

/** bisect__finish and bisect__cancel: the job ended (or was cancelled); stop what still runs, tell GitHub. */
export async function finishJob(ctx: WorkerContext, jobId: number): Promise<void> {
  await cleanUpJob(ctx, jobId);
  const job = await BisectJob.query(ctx.knex).findById(jobId);
  if (job) await notifyJobChanged(ctx.knex, job);
}
