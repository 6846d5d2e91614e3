// bisect__prepare: wait for the installation's concurrency to allow the job, refresh a host's
// mirror, resolve the refs, store the commit graph once, and hand over to bisect__advance.
import type { JobHelpers } from "graphile-worker";
import { BisectJob, Installation, RateLimit, RunnerHost } from "../../db/models";
import { InfrastructureError } from "../../runner/errors";
import { ImageRefusedError } from "../../runner/images/pull";
import { acquireLease, releaseLease } from "./leases";
import { probeHost, recordProbe } from "./hosts";
import { RangeRefusedError, UnknownRefError } from "../../runner/mirror/mirror";
import { enqueue } from "../catalog";
import type { WorkerContext } from "../worker-context";
import { requestAdvance } from "./advance";
import { concludeJob } from "./conclude";
import { ExplainedError } from "./give-up";
import { resolveJobImage } from "./images";
import { ensureMirror, hostsWithFreshMirror } from "./mirrors";
import { notifyJobChanged } from "./notify";

const RETRY_SOON_MS = 2_000;

export async function prepareJob(
  ctx: WorkerContext,
  jobId: number,
  helpers: JobHelpers,
): Promise<void> {
  const { knex, config } = ctx;
  let job = await BisectJob.query(knex).findById(jobId);
  if (!job || job.isFinal) return;

  if (job.status === "queued") {
    const started = await startWithinConcurrency(ctx, job);
    if (!started) {
      await enqueue(knex, "bisect__prepare", { jobId }, { runAt: new Date(Date.now() + 5_000) });
      return;
    }
    job = started;
    await notifyJobChanged(knex, job);
  }

  const holder = helpers.job.locked_by ?? "worker";
  const lease = await acquireLease(knex, {
    holder,
    ttlSeconds: 15 * 60,
    prefer: await hostsWithFreshMirror(knex, job),
  });
  if (!lease) {
    await enqueue(
      knex,
      "bisect__prepare",
      { jobId },
      { runAt: new Date(Date.now() + RETRY_SOON_MS) },
    );
    return;
  }
  let graph;
  try {
    graph = (
      await ensureMirror(ctx, lease.host, job, {
        holder,
        withGraph: true,
        signal: helpers.abortSignal,
      })
    )?.graph;
  } catch (error) {
    // The requester's range or repository, not the infrastructure: answered at once, not retried.
    if (error instanceof UnknownRefError || error instanceof RangeRefusedError) {
      await knex.transaction((trx) =>
        concludeJob(trx, job, {
          status: "failed",
          outcome: "error",
          error: error.message,
          explanation: error.message,
        }),
      );
      return;
    }
    if (error instanceof InfrastructureError) {
      // Check the host now rather than at the next health round; the retry picks another one.
      const host = await RunnerHost.query(knex).findById(lease.host.id);
      if (host) await recordProbe(knex, host, await probeHost(host, config.RUNNER_IMAGE));
      // Retried (on another host if this one is down); if every attempt fails, this is the answer.
      throw new ExplainedError(
        `the repository could not be fetched: ${error.message.replace(/^mirror refresh failed\s*(?:\(exit \d+\))?:?\s*/, "")}`,
      );
    }
    throw error;
  } finally {
    await releaseLease(knex, lease.lease.id);
  }
  if (!graph) throw new Error("the mirror refresh listed no commit graph");
  let imagePinned: string | undefined;
  if (job.options.image && !job.options.imagePinned) {
    try {
      // Pulled on this host when missing; pinned so that every step runs on the same image.
      imagePinned = (
        await resolveJobImage(ctx, job, lease.host, job.options.image, helpers.abortSignal)
      ).repoDigest;
    } catch (error) {
      if (!(error instanceof ImageRefusedError)) throw error;
      const failed = job;
      await knex.transaction((trx) =>
        concludeJob(trx, failed, {
          status: "failed",
          outcome: "error",
          error: error.message,
          explanation: error.message,
        }),
      );
      return;
    }
  }

  const count = Object.keys(graph.commits).length;
  await knex.transaction(async (trx) => {
    const current = await BisectJob.query(trx).findById(jobId).forUpdate();
    if (!current || current.isFinal) return;
    if (count === 0) {
      const message = `There are no commits to test: ${job.badRef} (${graph.bad.slice(0, 12)}) is not a descendant of ${job.goodRef} (${graph.good.slice(0, 12)}), or they are the same commit.`;
      await concludeJob(trx, current, {
        status: "failed",
        outcome: "error",
        error: message,
        explanation: message,
      });
      return;
    }
    await BisectJob.query(trx)
      .patch({
        goodSha: graph.good,
        badSha: graph.bad,
        graph,
        commitCount: count,
        status: "running",
        ...(imagePinned ? { options: { ...current.options, imagePinned } } : {}),
      })
      .where({ id: jobId });
    await requestAdvance(trx, jobId);
    await notifyJobChanged(trx, current);
  });
}

/**
 * Moves the job to "preparing" when its plan allows one more running job now (jobs beyond the
 * concurrency limit wait, not fail); null otherwise. The installation's row is locked while its
 * running jobs are counted and this one is started, so parallel prepares cannot overrun the limit.
 */
export async function startWithinConcurrency(
  ctx: Pick<WorkerContext, "knex">,
  job: BisectJob,
): Promise<BisectJob | null> {
  return ctx.knex.transaction(async (trx) => {
    const current = await BisectJob.query(trx).findById(job.id).forUpdate();
    if (!current || current.isFinal) return null;
    if (current.status !== "queued") return current;
    if (current.installationId) {
      const installation = await Installation.query(trx)
        .findById(current.installationId)
        .forUpdate();
      const plan = installation
        ? await RateLimit.query(trx).findById(installation.tier)
        : undefined;
      if (plan) {
        const [row] = await BisectJob.query(trx)
          .where({ installationId: current.installationId })
          .whereIn("status", ["preparing", "running"])
          .whereNot({ id: current.id })
          .count("* as count");
        if (Number((row as unknown as { count: number }).count) >= plan.maxConcurrent) return null;
      }
    }
    return current.$query(trx).patchAndFetch({ status: "preparing", startedAt: new Date() });
  });
}
