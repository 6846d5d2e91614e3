// runners__reap: what crashes leave behind — expired leases, labelled containers that no live
// step or job owns (a killed worker's run, a fetch container whose worker died, a checkout box of a
// job that has ended, a sandbox of an ended job, of a dead worker or idle too long), with their
// anonymous volumes, and our volumes no container uses any more.
import { BisectJob, BisectStep, RunnerHost, RunnerLease, RunnerMirror } from "../../db/models";
import { JOB_LABEL, SANDBOX_LABEL, STEP_LABEL, WORKSPACE_LABEL } from "../../runner/labels";
import { SANDBOX_IDLE_MS } from "../../runner/executors/sandbox-slots";
import { liveWorkerIds } from "../heartbeat";
import { dockerFor } from "./docker-clients";
import { releaseExpiredLeases } from "./leases";
import { MIRROR_LABEL } from "../../runner/mirror/mirror";
import type { WorkerContext } from "../worker-context";
import { INSTANCE_LABEL } from "./labels";

/** A container younger than this may belong to a step that is only starting. */
const GRACE_MS = 60_000;
/**
 * A sandbox whose job has had no step running for this long goes, even if its worker lives (that
 * worker removes its idle sandboxes after SANDBOX_IDLE_MS by itself).
 */
export const SANDBOX_REAP_IDLE_MS = 2 * SANDBOX_IDLE_MS;

export interface ReapReport {
  leasesReleased: number;
  containersRemoved: number;
  volumesRemoved: number;
}

export async function reap(
  ctx: WorkerContext,
  options: { graceMs?: number; sandboxIdleMs?: number } = {},
): Promise<ReapReport> {
  const graceMs = options.graceMs ?? GRACE_MS;
  const { knex } = ctx;
  let live: Set<string> | undefined;
  const liveWorkers = async () =>
    (live ??= await liveWorkerIds(knex, ctx.config.WORKER_DEAD_AFTER_SECONDS * 1000));
  const leasesReleased = await releaseExpiredLeases(knex);
  let containersRemoved = 0;
  let volumesRemoved = 0;
  for (const host of await RunnerHost.query(knex).whereNot({ state: "down" })) {
    const docker = dockerFor(host);
    let containers;
    try {
      containers = await docker.listContainers({
        all: true,
        filters: JSON.stringify({
          label: ["app=bisect-bot", `${INSTANCE_LABEL}=${ctx.instanceId}`],
        }),
      });
    } catch {
      continue; // unreachable: the health check will mark it down
    }
    for (const c of containers) {
      const age = Date.now() - c.Created * 1000;
      if (age < graceMs) continue;
      const stepId = Number(c.Labels[STEP_LABEL]);
      let orphan = false;
      if (c.Labels[MIRROR_LABEL] && !stepId) {
        // A fetch is alive only while running under a held fetch lock for its mirror on this host.
        const locked = await RunnerMirror.isFetching(knex, host.id, c.Labels[MIRROR_LABEL]);
        orphan = c.State !== "running" || !locked;
      } else if (c.Labels[SANDBOX_LABEL] && !stepId) {
        orphan = await sandboxOrphaned(
          ctx,
          Number(c.Labels[JOB_LABEL]),
          c.Labels[SANDBOX_LABEL],
          await liveWorkers(),
          options.sandboxIdleMs ?? SANDBOX_REAP_IDLE_MS,
        );
      } else if (c.Labels[WORKSPACE_LABEL] && !stepId) {
        // A job's checkout box lives as long as its job.
        const job = await BisectJob.query(knex).findById(Number(c.Labels[JOB_LABEL]));
        orphan = !job || job.isFinal;
      } else if (stepId) {
        const step = await BisectStep.query(knex).findById(stepId);
        const lease =
          step &&
          (await RunnerLease.query(knex)
            .where({ bisectStepId: stepId })
            .whereNull("releasedAt")
            .first());
        orphan = !step || step.status !== "running" || !lease;
      }
      if (orphan) {
        // With its anonymous volumes (a checkout box's work directory).
        await docker
          .getContainer(c.Id)
          .remove({ force: true, v: true })
          .catch(() => {});
        containersRemoved++;
      }
    }
    // Volumes of this deployment that no container uses any more (mirrors carry no instance
    // label and are evicted by their own rules).
    try {
      const { Volumes } = await docker.listVolumes({
        filters: JSON.stringify({
          label: [`${INSTANCE_LABEL}=${ctx.instanceId}`],
          dangling: ["true"],
        }),
      });
      for (const v of Volumes ?? []) {
        if (
          await docker
            .getVolume(v.Name)
            .remove()
            .then(
              () => true,
              () => false,
            )
        )
          volumesRemoved++;
      }
    } catch {
      // unreachable: the health check will mark it down
    }
  }
  return { leasesReleased, containersRemoved, volumesRemoved };
}

/**
 * A sandbox is kept only while its job goes on, its worker lives, and the job has run a step
 * within `idleMs` (a job waiting that long for anything gets a new sandbox when it runs again).
 */
async function sandboxOrphaned(
  ctx: WorkerContext,
  jobId: number,
  owner: string,
  live: Set<string>,
  idleMs: number,
): Promise<boolean> {
  const job = await BisectJob.query(ctx.knex).findById(jobId);
  if (!job || job.isFinal || !live.has(owner)) return true;
  const row: { running: boolean | null; last: Date | null } | undefined = await ctx
    .knex("bisect_steps")
    .where({ bisectJobId: jobId })
    .first(
      ctx.knex.raw("bool_or(status = 'running') as running"),
      ctx.knex.raw("max(greatest(created_at, started_at, finished_at)) as last"),
    );
  if (row?.running) return false;
  const last = row?.last ? new Date(row.last).getTime() : 0;
  return Date.now() - last > idleMs;
}
