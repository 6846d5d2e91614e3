// Worker processes for the farm's fault tests: quick heartbeats and short limits, so a killed
// worker, a lost host or a stalled run is noticed within seconds, not minutes.
import { spawn, type ChildProcess } from "node:child_process";
import { BisectJob } from "../../db/models";
import type { TestEngine } from "./engines";

/** The environment of a worker whose own runner host (from the environment) is `engine`, named `name`. */
export function farmWorkerEnv(
  url: string,
  engine: TestEngine | undefined,
  name = "h1",
): NodeJS.ProcessEnv {
  return {
    NODE_ENV: "test",
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: url,
    LOG_LEVEL: "error",
    WORKER_CONCURRENCY: "6",
    WORKER_HEARTBEAT_SECONDS: "1",
    WORKER_DEAD_AFTER_SECONDS: "4",
    RUNNER_LEASE_SECONDS: "6",
    RUNNER_STEP_TIMEOUT_SECONDS: "30",
    RUNNER_FETCH_TIMEOUT_SECONDS: "30",
    RUNNER_LOST_HOST_SECONDS: "15",
    RUNNER_FETCH_NETWORK: "none",
    // The test registers this host itself; a host added by an operator is left as it is.
    RUNNER_NAME: name,
    RUNNER_DOCKER_HOST: engine?.endpoint ?? "",
    RUNNER_DOCKER_CERT_PATH: engine?.tlsPath ?? "",
  };
}

export function spawnFarmWorker(env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", "jobs/worker.ts"], {
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
}

/** Polls `check` (errors count as "not yet": the database may be restarting) until it gives a value. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | null | undefined | false>,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The job once it has ended (finished, failed or cancelled). Objection's bound Knex is used. */
export function finalJob(jobId: number, timeoutMs = 240_000): Promise<BisectJob> {
  return waitFor(
    `job ${jobId} to end`,
    async () => {
      const job = await BisectJob.query().findById(jobId);
      return job?.isFinal ? job : null;
    },
    timeoutMs,
  );
}
