// Every task the worker runs, in one place (decision 010): its name (`entity__action`), the schema
// of its payload, and how it is queued by default — job key, attempts, queue, priority, and its
// schedule when it recurs. `enqueue(db, task, payload)` is the one typed way to queue a task: an
// unknown name or a wrong payload is a type error, and a payload that fails its schema is refused
// before it reaches the queue. The worker validates every payload against the same schema.
import type { Knex } from "knex";
import { z } from "zod";
import { addJob, type EnqueueOptions } from "./enqueue";

interface Entry<S extends z.ZodType> {
  payload: S;
  /** Coalesces jobs: a pending job with the same key is replaced, not duplicated. */
  jobKey?: (payload: z.output<S>) => string;
  /** graphile-worker's attempts before the job is left failed. */
  maxAttempts: number;
  /** A named queue runs its jobs one at a time, in order. */
  queue?: (payload: z.output<S>) => string;
  /** Lower runs first (0 by default). */
  priority?: number;
  /** Recurring: the crontab line's time fields and options (`?max=1` stops backfilling). */
  cron?: string;
}

/** An entry that keeps which defaults it has (so `catalog.admin__run.jobKey` is known to exist). */
const entry = <S extends z.ZodType, const D extends Omit<Entry<S>, "payload">>(
  e: { payload: S } & D,
): { payload: S } & D => e;

const id = z.number().int().positive();
const jobPayload = z.object({ jobId: id });
/** Cron payloads carry `_cron`; anything else is ignored. */
const cronPayload = z.object({}).passthrough();
/** Recurring every minute, one pending at a time, no backfill. */
const everyMinute = <S extends z.ZodType>(payload: S) =>
  entry({ payload, maxAttempts: 5, cron: "* * * * * ?max=1" });

export const catalog = {
  // A job's own tasks (jobs/farm). bisect__advance is serial per job (its queue).
  bisect__prepare: entry({
    payload: jobPayload,
    jobKey: ({ jobId }) => `bisect__prepare:${jobId}`,
    maxAttempts: 5,
  }),
  bisect__advance: entry({
    payload: jobPayload,
    jobKey: ({ jobId }) => `bisect__advance:${jobId}`,
    queue: ({ jobId }) => `bisect:${jobId}`,
    maxAttempts: 25,
  }),
  bisect__step: entry({
    payload: z.object({ stepId: id }),
    jobKey: ({ stepId }) => `bisect__step:${stepId}`,
    maxAttempts: 10,
  }),
  bisect__finish: entry({
    payload: jobPayload,
    jobKey: ({ jobId }) => `bisect__finish:${jobId}`,
    maxAttempts: 5,
  }),
  bisect__cancel: entry({
    payload: jobPayload,
    jobKey: ({ jobId }) => `bisect__cancel:${jobId}`,
    maxAttempts: 5,
  }),
  mirrors__purge: entry({ payload: z.object({ repositoryIds: z.array(id) }), maxAttempts: 25 }),
  // The farm's upkeep (jobs/farm, jobs/heartbeat.ts).
  workers__unlock_dead: everyMinute(cronPayload),
  runners__check: everyMinute(cronPayload),
  runners__reap: everyMinute(cronPayload),
  /** Jobs that stopped making progress: resumed, or concluded with the reason. */
  bisect__watchdog: everyMinute(cronPayload),
  /** Hourly: old or least recently used pulled images, and mirrors and caches past their budget, leave the runner hosts. */
  images__evict: entry({ payload: cronPayload, maxAttempts: 1, cron: "41 * * * * ?max=1" }),
  // GitHub (jobs/github). A delivery is queued by the webhook recorder with its row; a
  // rescheduled one (rate limited) carries `retry` and its own job key.
  github__handle_delivery: entry({
    payload: z.object({
      deliveryId: z.string().min(1).max(200),
      retry: z.number().int().min(0).optional(),
    }),
    maxAttempts: 25,
  }),
  github__status_comment: entry({
    payload: z.object({ jobId: id, retry: z.number().int().min(0).optional() }),
    jobKey: ({ jobId }) => `github__status_comment:${jobId}`,
    maxAttempts: 25,
  }),
  /** One pending per breakage: an automatic bisection's answer, or a direct report. */
  github__auto_report: entry({
    payload: z.union([z.object({ autoId: id }), z.object({ jobId: id })]),
    jobKey: (target) =>
      `github__auto_report:${"autoId" in target ? `auto:${target.autoId}` : `job:${target.jobId}`}`,
    maxAttempts: 10,
  }),
  // Operators (jobs/admin).
  admin__run: entry({
    payload: z.object({ runId: id }),
    jobKey: ({ runId }) => `admin__run:${runId}`,
    maxAttempts: 2,
    priority: -10,
  }),
  /** Nightly, by the RETENTION_* settings; admin runs and ended leases older than 90 days. */
  admin__prune: entry({
    payload: z
      .object({ olderThanDays: z.number().int().min(1).max(36_500).optional() })
      .passthrough(),
    maxAttempts: 5,
    cron: "17 3 * * * ?max=3",
  }),
  /** The 1st at 00:05 UTC: every usable installation gets its zero usage row for the new month. */
  usage__rollover: entry({
    payload: cronPayload,
    maxAttempts: 5,
    cron: "5 0 1 * * ?fill=2d&max=3",
  }),
};

export type TaskName = keyof typeof catalog;
/** What a task is queued with (before its schema's defaults). */
export type PayloadIn<T extends TaskName> = z.input<(typeof catalog)[T]["payload"]>;
/** What a task's handler receives (after its schema). */
export type PayloadOf<T extends TaskName> = z.output<(typeof catalog)[T]["payload"]>;

export class InvalidPayloadError extends Error {
  override name = "InvalidPayloadError";
}

/** The payload checked against its task's schema; a clear error names every problem. */
export function checkPayload<T extends TaskName>(task: T, raw: unknown): PayloadOf<T> {
  const parsed = catalog[task].payload.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `${i.path.join(".") || "payload"}: ${i.message}`,
    );
    throw new InvalidPayloadError(`${task}: invalid payload (${problems.join("; ")})`);
  }
  return parsed.data as PayloadOf<T>;
}

/**
 * Queues a task inside the caller's transaction (never a row without its job, nor a job without
 * its row), with its catalog defaults; `options` overrides them for this one job.
 */
export async function enqueue<T extends TaskName>(
  db: Knex | Knex.Transaction,
  task: T,
  payload: PayloadIn<T>,
  options: EnqueueOptions = {},
): Promise<void> {
  const checked = checkPayload(task, payload);
  const e = catalog[task] as Entry<z.ZodType>;
  await addJob(db, task, payload as Record<string, unknown>, {
    jobKey: e.jobKey?.(checked),
    queueName: e.queue?.(checked),
    maxAttempts: e.maxAttempts,
    priority: e.priority,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  });
}

/** The worker's crontab, from the catalog's recurring tasks (one pending at a time: the job key). */
export const crontab = Object.entries(catalog)
  .flatMap(([task, e]) => {
    const cron = (e as Entry<z.ZodType>).cron;
    if (!cron) return [];
    const [fields, options = ""] = cron.split(" ?");
    const query = [options, `jobKey=cron:${task}`].filter(Boolean).join("&");
    return [`${fields} ${task} ?${query}`];
  })
  .join("\n");
