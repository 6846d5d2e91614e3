// What graphile-worker holds in its queue (its public view hides payloads, so read the tables).
import type { Knex } from "knex";

export interface QueuedJob {
  id: number;
  task: string;
  payload: Record<string, unknown>;
  key: string | null;
  lockedBy: string | null;
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  runAt: Date;
}

export async function queuedJobs(knex: Knex, task?: string): Promise<QueuedJob[]> {
  const { rows } = await knex.raw(
    `select j.id, t.identifier as task, j.payload, j.key, j.locked_by, j.attempts, j.max_attempts, j.last_error, j.run_at
       from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
      where ?::text is null or t.identifier = ?
      order by j.id`,
    [task ?? null, task ?? null],
  );
  return rows.map((r: Record<string, unknown>) => ({
    id: Number(r.id),
    task: r.task as string,
    payload: r.payload as Record<string, unknown>,
    key: r.key as string | null,
    lockedBy: r.locked_by as string | null,
    attempts: r.attempts as number,
    maxAttempts: r.max_attempts as number,
    lastError: r.last_error as string | null,
    runAt: r.run_at as Date,
  }));
}
