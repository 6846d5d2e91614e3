// The GitHub side's Graphile Worker tasks. Each validates its payload and calls one service.
//
//   github__handle_delivery {deliveryId}   — enqueued by the webhook route with the delivery row
//   github__status_comment  {jobId, retry?} — enqueued whenever a GitHub job changes (job key
//                                             github__status_comment:<jobId>, maxAttempts 25)
import type { JobHelpers } from "graphile-worker";
import { defineTask } from "../define-task";
import { endsJobOnLastAttempt, jobIdOfJob } from "../farm/give-up";
import { enqueue } from "../catalog";
import type { WorkerContext } from "../worker-context";
import { httpStatus, retryDelayMs } from "./app-client";
import { handleDelivery, MalformedDeliveryError, markDeliveryFailed } from "./deliveries";
import { enqueueStatusComment, syncStatusComment } from "./status-comment";

/** After this many rescheduled attempts the status task fails and graphile-worker's retries take over. */
const MAX_RESCHEDULES = 30;

function log(helpers: JobHelpers, level: "info" | "warn" | "error", message: string): void {
  helpers.logger[level](message);
}

const lastAttempt = (helpers: JobHelpers) => helpers.job.attempts >= helpers.job.max_attempts;

export function githubTasks(ctx: WorkerContext) {
  return {
    github__handle_delivery: defineTask(
      "github__handle_delivery",
      async ({ deliveryId, retry = 0 }, helpers) => {
        try {
          const handled = await handleDelivery(ctx, deliveryId, {
            retrying: retry > 0 || helpers.job.attempts > 1,
          });
          log(helpers, "info", `delivery ${deliveryId}: ${handled.status} (${handled.note})`);
        } catch (error) {
          const status = httpStatus(error);
          const delay = retryDelayMs(error, retry);
          // Rate limited: come back when GitHub allows it, rather than on graphile-worker's schedule.
          if (delay !== null && (status === 403 || status === 429) && retry < MAX_RESCHEDULES) {
            log(
              helpers,
              "warn",
              `delivery ${deliveryId}: GitHub rate limit, trying again in ${Math.round(delay / 1000)}s`,
            );
            await enqueue(
              ctx.knex,
              "github__handle_delivery",
              { deliveryId, retry: retry + 1 },
              {
                jobKey: `github__handle_delivery:${deliveryId}`,
                runAt: new Date(Date.now() + delay),
              },
            );
            return;
          }
          // Nothing a retry can change (malformed payload, no permission, gone): record and stop.
          const permanent =
            error instanceof MalformedDeliveryError ||
            (status !== undefined && status >= 400 && status < 500 && delay === null);
          if (permanent || lastAttempt(helpers)) {
            await markDeliveryFailed(ctx, deliveryId, error);
            log(
              helpers,
              "error",
              `delivery ${deliveryId} failed: ${error instanceof Error ? error.message : String(error)}`,
            );
            if (permanent) return;
          }
          throw error;
        }
      },
    ),

    github__status_comment: defineTask(
      "github__status_comment",
      // Out of attempts: a job still going is concluded (its final render is queued afresh).
      endsJobOnLastAttempt(ctx, jobIdOfJob, async ({ jobId, retry = 0 }, helpers) => {
        try {
          const result = await syncStatusComment(ctx, jobId, {
            recover: retry > 0 || helpers.job.attempts > 1,
          });
          if (result.action === "throttled")
            await enqueueStatusComment(ctx.knex, jobId, { runAt: result.retryAt, retry });
          else if (result.action === "skipped")
            log(helpers, "info", `status comment of job ${jobId} skipped: ${result.reason}`);
        } catch (error) {
          const delay = retryDelayMs(error, retry);
          if (delay === null || retry >= MAX_RESCHEDULES) throw error;
          // GitHub is down or rate limiting: the comment is rendered again from the rows later,
          // so the result is never lost (a newer change just replaces this pending render).
          log(
            helpers,
            "warn",
            `status comment of job ${jobId}: GitHub answered ${httpStatus(error) ?? "nothing"}, trying again in ${Math.round(delay / 1000)}s`,
          );
          await enqueueStatusComment(ctx.knex, jobId, {
            runAt: new Date(Date.now() + delay),
            retry: retry + 1,
          });
        }
      }),
    ),
  };
}
