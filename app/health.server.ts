// What /health reports: the database, the worker's heartbeat, how many runner hosts are in each
// state. Counts only: /health is public, and host names and their last errors (which can hold
// addresses) are for operators (`admin runners list`, /metrics).
import type { Knex } from "knex";
import { liveWorkerCount } from "../jobs/heartbeat";

export interface Health {
  status: "ok" | "degraded" | "down";
  database: "ok" | "down";
  worker: "ok" | "down";
  runners: { active: number; draining: number; down: number };
}

export async function checkHealth(knex: Knex, deadAfterMs: number): Promise<Health> {
  const runners = { active: 0, draining: 0, down: 0 };
  try {
    await knex.raw("select 1");
  } catch {
    return { status: "down", database: "down", worker: "down", runners };
  }
  const workers = await liveWorkerCount(knex, deadAfterMs);
  const counts: { state: string; n: number }[] = await knex("runner_hosts")
    .groupBy("state")
    .select("state", knex.raw("count(*)::int as n"));
  for (const { state, n } of counts) runners[state as keyof typeof runners] = n;
  const worker = workers > 0 ? "ok" : "down";
  const status = worker === "down" ? "down" : runners.active === 0 ? "degraded" : "ok";
  return { status, database: "ok", worker, runners };
}
