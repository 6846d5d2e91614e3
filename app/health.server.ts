// What /health reports: the database, the worker's heartbeat, whether a runner host answers, and
// how many runner hosts are in each state. Counts only: /health is public, and host names and their
// last errors (which can hold addresses) are for operators (`admin runners list`, /metrics).
import type { Knex } from "knex";
import { liveWorkerCount } from "../jobs/heartbeat";

/**
 * A host "answered recently" when its last successful probe is this recent. The worker probes
 * every host each minute (runners__check in jobs/catalog.ts): two missed probes plus slack.
 */
export const RUNNER_ANSWERED_WITHIN_SECONDS = 150;

export interface Health {
  /** ok: a bisection can run; degraded: no runner host answers; down: no database or no worker. */
  status: "ok" | "degraded" | "down";
  database: "ok" | "down";
  worker: "ok" | "down";
  /** At least one active runner host answered a probe recently. */
  docker_available: boolean;
  runners: { active: number; draining: number; down: number };
}

export async function checkHealth(knex: Knex, deadAfterMs: number): Promise<Health> {
  const runners = { active: 0, draining: 0, down: 0 };
  try {
    await knex.raw("select 1");
  } catch {
    return { status: "down", database: "down", worker: "down", docker_available: false, runners };
  }
  const workers = await liveWorkerCount(knex, deadAfterMs);
  const counts: { state: string; n: number; answering: number }[] = await knex("runner_hosts")
    .groupBy("state")
    .select(
      "state",
      knex.raw("count(*)::int as n"),
      knex.raw(
        "count(*) filter (where last_seen_at > now() - make_interval(secs => ?))::int as answering",
        [RUNNER_ANSWERED_WITHIN_SECONDS],
      ),
    );
  let answering = 0;
  for (const row of counts) {
    runners[row.state as keyof typeof runners] = row.n;
    if (row.state === "active") answering = row.answering;
  }
  const worker = workers > 0 ? "ok" : "down";
  const dockerAvailable = answering > 0;
  const status = worker === "down" ? "down" : dockerAvailable ? "ok" : "degraded";
  return { status, database: "ok", worker, docker_available: dockerAvailable, runners };
}

/** 200 only when a bisection can run now (database, a worker, a runner host); 503 otherwise. */
export function healthStatusCode(health: Health): 200 | 503 {
  return health.status === "ok" ? 200 : 503;
}
