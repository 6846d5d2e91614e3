// Worker heartbeats, so locks of a worker that died (kill -9, lost machine) are freed within a
// minute instead of graphile-worker's own 4 hours.
import os from "node:os";
import type { Knex } from "knex";

export async function beat(knex: Knex, workerIds: string[]): Promise<void> {
  if (workerIds.length === 0) return;
  await knex("worker_heartbeats")
    .insert(
      workerIds.map((workerId) => ({
        workerId,
        hostname: os.hostname(),
        pid: process.pid,
        lastBeatAt: knex.fn.now(),
      })),
    )
    .onConflict("workerId")
    .merge({ lastBeatAt: knex.fn.now() });
}

export async function forget(knex: Knex, workerIds: string[]): Promise<void> {
  if (workerIds.length > 0) await knex("worker_heartbeats").whereIn("workerId", workerIds).delete();
}

/** Live workers: beat within `deadAfterMs`. */
export async function liveWorkerCount(knex: Knex, deadAfterMs: number): Promise<number> {
  const [row] = await knex("worker_heartbeats")
    .where("lastBeatAt", ">", knex.raw("now() - make_interval(secs => ?)", [deadAfterMs / 1000]))
    .count<{ count: number }[]>("* as count");
  return Number(row?.count ?? 0);
}

/** The ids of workers that beat within `deadAfterMs`. */
export async function liveWorkerIds(knex: Knex, deadAfterMs: number): Promise<Set<string>> {
  const rows = await knex("worker_heartbeats")
    .where("lastBeatAt", ">", knex.raw("now() - make_interval(secs => ?)", [deadAfterMs / 1000]))
    .select("workerId");
  return new Set(rows.map((r: { workerId: string }) => r.workerId));
}

/**
 * Frees graphile-worker jobs locked by workers that are not alive: those with a stale heartbeat,
 * and lockers that never beat at all once their lock is older than `deadAfterMs`; the runner
 * leases and mirror fetch locks those workers held are released. Returns the worker ids that were unlocked.
 */
export async function unlockDeadWorkers(knex: Knex, deadAfterMs: number): Promise<string[]> {
  const { rows } = await knex.raw<{ rows: { locked_by: string }[] }>(
    `select distinct j.locked_by as locked_by
       from graphile_worker._private_jobs j
       left join worker_heartbeats h on h.worker_id = j.locked_by
      where j.locked_by is not null
        and (h.worker_id is null and j.locked_at < now() - make_interval(secs => ?)
             or h.last_beat_at < now() - make_interval(secs => ?))`,
    [deadAfterMs / 1000, deadAfterMs / 1000],
  );
  // Raw results keep PostgreSQL's snake_case names (the mappers apply to the query builder only).
  const dead = rows.map((r) => r.locked_by);
  if (dead.length > 0) {
    await knex.raw(
      "select graphile_worker.force_unlock_workers(array(select jsonb_array_elements_text(?::jsonb)))",
      [JSON.stringify(dead)],
    );
    // Their runner slots too: a lease is held by the worker id that took it, and one taken for a
    // mirror fetch lives 15 minutes — a killed worker must not keep a slot that long.
    await knex("runner_leases")
      .whereIn("holder", dead)
      .whereNull("releasedAt")
      .update({ releasedAt: knex.fn.now() });
    // And the mirror fetches they were doing: other workers wait on that lock (up to the fetch
    // timeout) before they give up on the repository.
    await knex("runner_mirrors")
      .whereIn("fetchLockHolder", dead)
      .update({ fetchLockHolder: null, fetchLockUntil: null });
    await knex("worker_heartbeats").whereIn("workerId", dead).delete();
  }
  await knex("worker_heartbeats")
    .where("lastBeatAt", "<", knex.raw("now() - interval '1 day'"))
    .delete();
  return dead;
}
