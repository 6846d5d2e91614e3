// The worker container's health check: `node --import tsx scripts/healthcheck-worker.ts`.
//
// Healthy when a worker on this machine (the container's hostname) wrote its heartbeat row within
// WORKER_DEAD_AFTER_SECONDS — the same silence after which other workers treat it as dead and
// unlock its jobs. So "unhealthy" means exactly "the rest of the system no longer counts on this
// worker": it crashed, hangs, or cannot reach the database. Exit 0 healthy, 1 not (Docker's rule).
import os from "node:os";
import { pathToFileURL } from "node:url";
import type { Knex } from "knex";
import { ConfigError, directDatabaseUrl, loadConfig } from "../config/env";
import { createKnex } from "../db/connection";

export interface WorkerHealth {
  healthy: boolean;
  /** Seconds since the newest heartbeat of this host's workers, null when there is none. */
  ageSeconds: number | null;
}

/** Whether a worker on `hostname` beat within `maxAgeSeconds` (measured by the database's clock). */
export async function workerHeartbeatHealth(
  knex: Knex,
  hostname: string,
  maxAgeSeconds: number,
): Promise<WorkerHealth> {
  const { rows } = await knex.raw<{ rows: { age: number | string | null }[] }>(
    "select extract(epoch from now() - max(last_beat_at)) as age from worker_heartbeats where hostname = ?",
    [hostname],
  );
  const age = rows[0]?.age;
  if (age === null || age === undefined) return { healthy: false, ageSeconds: null };
  const ageSeconds = Number(age);
  return { healthy: ageSeconds <= maxAgeSeconds, ageSeconds };
}

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : String(error));
    return 1;
  }
  const url = directDatabaseUrl(config);
  if (!url) {
    console.error("unhealthy: DATABASE_URL (or DATABASE_DIRECT_URL) is not set");
    return 1;
  }
  const knex = createKnex(url, { poolMax: 1, applicationName: "bisect-bot-healthcheck" });
  try {
    const health = await workerHeartbeatHealth(
      knex,
      os.hostname(),
      config.WORKER_DEAD_AFTER_SECONDS,
    );
    if (health.healthy) return 0;
    console.error(
      health.ageSeconds === null
        ? `unhealthy: no heartbeat from a worker on ${os.hostname()}`
        : `unhealthy: last heartbeat ${Math.round(health.ageSeconds)} s ago (limit ${config.WORKER_DEAD_AFTER_SECONDS} s)`,
    );
    return 1;
  } catch (error) {
    console.error(`unhealthy: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    await knex.destroy().catch(() => {});
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  // A database that does not answer must not hang the check past Docker's timeout.
  setTimeout(() => {
    console.error("unhealthy: no answer from the database within 8 s");
    process.exit(1);
  }, 8_000).unref();
  main().then(
    (code) => process.exit(code),
    (error) => {
      console.error(`unhealthy: ${String(error)}`);
      process.exit(1);
    },
  );
}
