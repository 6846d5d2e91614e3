// What /health reports: the database, the worker's heartbeat, the runner hosts.
import type { Knex } from "knex";
import { liveWorkerCount } from "../jobs/heartbeat";

export interface Health {
  status: "ok" | "degraded" | "down";
  database: "ok" | "down";
  worker: "ok" | "down";
  runners: { active: number; draining: number; down: number };
  /** Each runner host's Docker engine as the last probe saw it. */
  hosts: { name: string; state: string; lastSeenAt: Date | null; lastError: string | null }[];
}

export async function checkHealth(knex: Knex, deadAfterMs: number): Promise<Health> {
  const runners = { active: 0, draining: 0, down: 0 };
  try {
    await knex.raw("select 1");
  } catch {
    return { status: "down", database: "down", worker: "down", runners, hosts: [] };
  }
  const workers = await liveWorkerCount(knex, deadAfterMs);
  const hosts = await knex("runner_hosts").orderBy("name").select("name", "state", "lastSeenAt", "lastError");
  for (const host of hosts) runners[host.state as keyof typeof runners]++;
  const worker = workers > 0 ? "ok" : "down";
  const status = worker === "down" ? "down" : runners.active === 0 ? "degraded" : "ok";
  return { status, database: "ok", worker, runners, hosts };
}
