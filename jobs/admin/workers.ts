// Admin: workers by their heartbeats, and freeing the jobs of those that died.
import type { Knex } from "knex";
import { unlockDeadWorkers } from "../heartbeat";

export interface WorkerView {
  workerId: string;
  hostname: string;
  pid: number;
  startedAt: string;
  lastBeatAt: string;
  alive: boolean;
  /** graphile-worker jobs this worker holds locked. */
  lockedJobs: number;
}

export async function listWorkers(
  knex: Knex,
  deadAfterSeconds: number,
): Promise<{ workers: WorkerView[]; deadAfterSeconds: number }> {
  const { rows } = await knex.raw<{
    rows: Array<{
      worker_id: string;
      hostname: string;
      pid: number;
      started_at: Date;
      last_beat_at: Date;
      alive: boolean;
      locked_jobs: number;
    }>;
  }>(
    `select h.worker_id, h.hostname, h.pid, h.started_at, h.last_beat_at,
            h.last_beat_at > now() - make_interval(secs => ?) as alive,
            (select count(*) from graphile_worker._private_jobs j where j.locked_by = h.worker_id)::int as locked_jobs
       from worker_heartbeats h
      order by h.started_at, h.worker_id`,
    [deadAfterSeconds],
  );
  return {
    deadAfterSeconds,
    workers: rows.map((r) => ({
      workerId: r.worker_id,
      hostname: r.hostname,
      pid: r.pid,
      startedAt: r.started_at.toISOString(),
      lastBeatAt: r.last_beat_at.toISOString(),
      alive: r.alive,
      lockedJobs: r.locked_jobs,
    })),
  };
}

export async function unlockDead(
  knex: Knex,
  deadAfterSeconds: number,
): Promise<{ unlocked: string[]; deadAfterSeconds: number }> {
  return { unlocked: await unlockDeadWorkers(knex, deadAfterSeconds * 1000), deadAfterSeconds };
}
