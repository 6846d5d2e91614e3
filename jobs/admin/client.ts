// The command line's side of an admin run: the admin_runs row and its `admin__run` job in one
// transaction, then waiting for a worker to record the outcome (LISTEN, with polling as a
// fallback), giving up cleanly when no worker is alive or the time is up.
import type { Knex } from "knex";
import pg from "pg";
import { AdminRun } from "../../db/models";
import { catalog, enqueue } from "../catalog";
import { liveWorkerCount } from "../heartbeat";
import type { CommandName } from "./commands";

/** The channel a finished run is announced on (payload: the run id). */
export const ADMIN_RUNS_CHANNEL = "admin_runs";
const jobKeyOf = (runId: number) => catalog.admin__run.jobKey({ runId });

export class NoWorkerError extends Error {
  override name = "NoWorkerError";
  constructor(deadAfterSeconds: number) {
    super(
      `no worker is running (none has written a heartbeat in the last ${deadAfterSeconds}s): ` +
        "start the product (npm start) or a worker (npm run worker), then run the command again",
    );
  }
}

export async function requestRun(
  knex: Knex,
  command: CommandName,
  args: Record<string, unknown>,
  requestedBy: string,
): Promise<number> {
  return knex.transaction(async (trx) => {
    const [row] = await trx("adminRuns")
      .insert({ command, args: JSON.stringify(args), status: "queued", requestedBy })
      .returning("id");
    const runId = Number((row as { id: number }).id);
    // Two attempts (the catalog): the second only closes a run whose worker died (executeRun),
    // so an admin action is never repeated behind the operator's back.
    await enqueue(trx, "admin__run", { runId });
    return runId;
  });
}

/** Takes a run that no worker has claimed off the queue; false when a worker already runs it. */
export async function withdrawRun(knex: Knex, runId: number, reason: string): Promise<boolean> {
  return knex.transaction(async (trx) => {
    const updated = await trx("adminRuns")
      .where({ id: runId, status: "queued" })
      .update({ status: "failed", error: reason, finishedAt: trx.fn.now() });
    if (updated === 0) return false;
    await trx.raw("select graphile_worker.remove_job(?)", [jobKeyOf(runId)]);
    return true;
  });
}

export type WaitResult =
  | { kind: "finished"; run: AdminRun }
  /** Nobody took it: withdrawn, with the reason. */
  | { kind: "withdrawn"; reason: string }
  /** A worker runs it but did not finish in time (or the wait was interrupted); the row will hold the outcome. */
  | { kind: "still-running"; why: "timeout" | "interrupted" };

export interface WaitOptions {
  knex: Knex;
  /** A direct (non-pooled) URL: LISTEN needs a session. */
  databaseUrl: string;
  runId: number;
  timeoutMs: number;
  deadAfterSeconds: number;
  signal?: AbortSignal;
  pollMs?: number;
}

export async function waitForRun(options: WaitOptions): Promise<WaitResult> {
  const { knex, runId, signal } = options;
  const deadline = Date.now() + options.timeoutMs;
  let wake: (() => void) | null = null;
  // A notification (or an interrupt) that arrives while the rows are being read is not lost.
  let pending = false;
  const poke = () => {
    pending = true;
    wake?.();
  };
  const listener = new pg.Client({
    connectionString: options.databaseUrl,
    application_name: "bisect-admin",
  });
  let listening = false;
  try {
    await listener.connect();
    listener.on("notification", (n) => {
      if (n.payload === String(runId)) poke();
    });
    listener.on("error", () => {
      listening = false;
    });
    await listener.query(`listen ${ADMIN_RUNS_CHANNEL}`);
    listening = true;
  } catch {
    listening = false; // polling alone still works
  }
  signal?.addEventListener("abort", poke);
  try {
    let lastWorkerCheck = 0;
    for (;;) {
      const run = await AdminRun.query(knex).findById(runId);
      if (!run) return { kind: "withdrawn", reason: `admin run ${runId} disappeared` };
      if (run.isFinished) {
        return run.startedAt === null
          ? { kind: "withdrawn", reason: run.error ?? "withdrawn" }
          : { kind: "finished", run };
      }
      const queued = run.status === "queued";
      if (signal?.aborted) {
        if (queued && (await withdrawRun(knex, runId, "interrupted before a worker took it")))
          return { kind: "withdrawn", reason: "interrupted before a worker took it" };
        return { kind: "still-running", why: "interrupted" };
      }
      if (Date.now() >= deadline) {
        const seconds = Math.round(options.timeoutMs / 1000);
        const reason = `no worker took the command within ${seconds}s (are the workers running this version of the product?)`;
        if (queued && (await withdrawRun(knex, runId, reason)))
          return { kind: "withdrawn", reason };
        return { kind: "still-running", why: "timeout" };
      }
      // A queued run with no live worker will not move: say so rather than wait out the timeout.
      if (queued && Date.now() - lastWorkerCheck >= 5_000) {
        lastWorkerCheck = Date.now();
        if ((await liveWorkerCount(knex, options.deadAfterSeconds * 1000)) === 0) {
          const reason = new NoWorkerError(options.deadAfterSeconds).message;
          if (await withdrawRun(knex, runId, reason)) return { kind: "withdrawn", reason };
        }
      }
      const pause = Math.min(
        listening ? (options.pollMs ?? 2_000) : 250,
        Math.max(0, deadline - Date.now()),
      );
      if (pending) {
        pending = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pause);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
      pending = false;
    }
  } finally {
    signal?.removeEventListener("abort", poke);
    await listener.end().catch(() => {});
  }
}

/** Refuses early when no worker is alive to take the command. */
export async function assertWorkerAlive(knex: Knex, deadAfterSeconds: number): Promise<void> {
  if ((await liveWorkerCount(knex, deadAfterSeconds * 1000)) === 0)
    throw new NoWorkerError(deadAfterSeconds);
}
