// What /health reports: the database, the worker's heartbeat, the runner hosts.
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
  const rows = await knex("runner_hosts").select("state").count<{ state: keyof typeof runners; count: number }[]>("* as count").groupBy("state");
  for (const row of rows) runners[row.state] = Number(row.count);
  const worker = workers > 0 ? "ok" : "down";
  const status = worker === "down" ? "down" : runners.active === 0 ? "degraded" : "ok";
  return { status, database: "ok", worker, runners };
}
