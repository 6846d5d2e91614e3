// After a job ends (finished, failed, cancelled): kill and remove its containers on every host —
// its runs, its checkout boxes and its sandboxes — give back its leases, close its running steps.
import { BisectJob, BisectStep, RunnerHost, RunnerLease } from "../../db/models";
import { removeLabelled } from "../../runner/executors/removal";
import { closeSandboxes } from "../../runner/executors/sandbox-slots";
import { dockerFor } from "./docker-clients";
import { probeHost, recordProbe } from "./hosts";
import { releaseLease } from "./leases";
import { liveWorkerIds } from "../heartbeat";
import type { WorkerContext } from "../worker-context";
import { jobLabels } from "./labels";
import { notifyJobChanged } from "./notify";

/**
 * Waits (bounded) until no run of the job is held by a live worker. Such a run notices the end of
 * its job within a second, stops and removes its own container; one whose container was still
 * being created when the sweep listed the host's containers would otherwise outlive the sweep.
 * Runs of dead workers, or that do not stop in time, are swept by cleanUpJob all the same.
 */
async function runsStopped(ctx: WorkerContext, jobId: number): Promise<void> {
  const { knex, config } = ctx;
  const deadline = Date.now() + config.RUNNER_LOST_HOST_SECONDS * 1000;
  const stepIds = BisectStep.query(knex).where({ bisectJobId: jobId }).select("id");
  while (Date.now() < deadline) {
    const open = await RunnerLease.query(knex)
      .whereIn("bisectStepId", stepIds)
      .whereNull("releasedAt")
      .where("expiresAt", ">", new Date());
    if (open.length === 0) return;
    const live = await liveWorkerIds(knex, config.WORKER_DEAD_AFTER_SECONDS * 1000);
    if (!open.some((l) => live.has(l.holder))) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The key a job's checkout boxes and sandboxes are shared under on a host (never another job's). */
export function jobWorkspaceKey(ctx: Pick<WorkerContext, "instanceId">, jobId: number): string {
  return `${ctx.instanceId}:${jobId}`;
}

/** `failed`: hosts that answer but did not remove the job's containers (worth another try soon). */
export async function cleanUpJob(
  ctx: WorkerContext,
  jobId: number,
): Promise<{ removed: number; failed: string[] }> {
  const { knex } = ctx;
  const job = await BisectJob.query(knex).findById(jobId);
  if (!job) return { removed: 0, failed: [] };
  let removed = 0;
  const failed: string[] = [];
  for (const host of await RunnerHost.query(knex).whereNot({ state: "down" })) {
    try {
      // The sandboxes this worker keeps idle, then whatever else carries the job's labels.
      await closeSandboxes(dockerFor(host), jobWorkspaceKey(ctx, jobId));
      removed += (await removeLabelled(dockerFor(host), jobLabels(ctx, jobId))).length;
    } catch (error) {
      // Unreachable now: record it (down), and the reaper sweeps the job's containers there once
      // the host answers again — retrying this task would only wait for the same thing. A host
      // that answers but failed a removal (a busy engine) is tried again by this task's retry.
      const probe = await probeHost(host, ctx.config.RUNNER_IMAGE);
      await recordProbe(knex, host, probe);
      if (probe.ok) failed.push(`${host.name}: ${(error as Error).message}`);
    }
  }
  const stepIds = BisectStep.query(knex).where({ bisectJobId: jobId }).select("id");
  for (const lease of await RunnerLease.query(knex)
    .whereIn("bisectStepId", stepIds)
    .whereNull("releasedAt")) {
    await releaseLease(knex, lease.id);
  }
  await BisectStep.query(knex)
    .patch({ status: "cancelled", finishedAt: new Date() })
    .where({ bisectJobId: jobId })
    .whereIn("status", ["queued", "running"]);
  return { removed, failed };
}

/** bisect__finish and bisect__cancel: the job ended (or was cancelled); stop what still runs, tell GitHub. */
export async function finishJob(ctx: WorkerContext, jobId: number): Promise<void> {
  await runsStopped(ctx, jobId);
  const { failed } = await cleanUpJob(ctx, jobId);
  const job = await BisectJob.query(ctx.knex).findById(jobId);
  if (job) await notifyJobChanged(ctx.knex, job);
  if (failed.length)
    throw new Error(
      `some of the job's containers were not removed (${failed.join("; ")}); trying again`,
    );
}
