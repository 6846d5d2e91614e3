// The farm's Graphile Worker tasks. Each validates its payload and calls one service function.
import { defineTask } from "../define-task";
import type { WorkerContext } from "../worker-context";
import { advanceJob } from "./advance";
import { finishJob } from "./cleanup";
import { endsJobOnLastAttempt, jobIdOfJob, jobIdOfStep } from "./give-up";
import { evictImages } from "./evict-images";
import { checkHosts } from "./health";
import { removeMirrorsOf } from "./mirrors";
import { prepareJob } from "./prepare";
import { reap } from "./reaper";
import { runStep } from "./step";
import { watchJobs } from "./watchdog";

export function farmTasks(ctx: WorkerContext) {
  return {
    // A job's own tasks: the last failed attempt of any of them concludes the job (give-up.ts).
    bisect__prepare: defineTask(
      "bisect__prepare",
      endsJobOnLastAttempt(ctx, jobIdOfJob, ({ jobId }, helpers) =>
        prepareJob(ctx, jobId, helpers),
      ),
    ),
    bisect__advance: defineTask(
      "bisect__advance",
      endsJobOnLastAttempt(ctx, jobIdOfJob, ({ jobId }) => advanceJob(ctx, jobId)),
    ),
    bisect__step: defineTask(
      "bisect__step",
      endsJobOnLastAttempt(ctx, jobIdOfStep(ctx.knex), ({ stepId }, helpers) =>
        runStep(ctx, stepId, helpers),
      ),
    ),
    bisect__finish: defineTask(
      "bisect__finish",
      endsJobOnLastAttempt(ctx, jobIdOfJob, ({ jobId }) => finishJob(ctx, jobId)),
    ),
    bisect__cancel: defineTask("bisect__cancel", ({ jobId }) => finishJob(ctx, jobId)),
    mirrors__purge: defineTask("mirrors__purge", async ({ repositoryIds }) => {
      await removeMirrorsOf(ctx, repositoryIds);
    }),
    runners__check: defineTask("runners__check", async (_payload, helpers) => {
      for (const h of await checkHosts(ctx))
        if (!h.ok) helpers.logger.warn(`runner host ${h.name} is ${h.state}: ${h.error}`);
    }),
    bisect__watchdog: defineTask("bisect__watchdog", async (_payload, helpers) => {
      const report = await watchJobs(ctx);
      for (const line of report.resumed) helpers.logger.warn(`watchdog resumed job ${line}`);
      for (const line of report.concluded) helpers.logger.error(`watchdog concluded job ${line}`);
    }),
    images__evict: defineTask("images__evict", async (_payload, helpers) => {
      const report = await evictImages(ctx);
      for (const name of report.removed) helpers.logger.info(`removed unused image ${name}`);
      for (const name of report.volumes)
        helpers.logger.info(`removed least recently used mirror or cache ${name}`);
    }),
    runners__reap: defineTask("runners__reap", async (_payload, helpers) => {
      const report = await reap(ctx);
      if (report.containersRemoved || report.leasesReleased || report.volumesRemoved)
        helpers.logger.info(
          `reaped ${report.containersRemoved} containers, ${report.volumesRemoved} volumes, ${report.leasesReleased} leases`,
        );
    }),
  };
}
