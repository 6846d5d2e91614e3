import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../config/env";
import { useTestDatabase } from "../tests/helpers/database";
import { queuedJobs } from "../tests/helpers/queue";
import { addJob as enqueue } from "./enqueue";
import { liveWorkerCount, unlockDeadWorkers } from "./heartbeat";

const DEAD_AFTER_MS = 45_000;
import { startWorker, type StartedWorker } from "./worker";

const db = useTestDatabase();

describe("worker", () => {
  let worker: StartedWorker;
  beforeAll(async () => {
    worker = await startWorker(loadConfig({ DATABASE_URL: db.current.url, LOG_LEVEL: "error" }), {
      concurrency: 1,
      registerEnvHost: false,
    });
  });
  afterAll(async () => {
    await worker?.stop();
  });

  it("beats while running and is counted alive", async () => {
    expect(worker.workerIds().length).toBe(1);
    expect(await liveWorkerCount(db.current.knex, DEAD_AFTER_MS)).toBe(1);
  });

  it("rejects a task payload that does not match its schema", async () => {
    await enqueue(db.current.knex, "workers__unlock_dead", { unexpected: true });
    await enqueue(
      db.current.knex,
      "workers__unlock_dead",
      [] as unknown as Record<string, unknown>,
      { maxAttempts: 1 },
    );
    await expect
      .poll(async () => (await queuedJobs(db.current.knex)).filter((j) => j.lastError).length, {
        timeout: 10_000,
      })
      .toBe(1);
    const [failed] = (await queuedJobs(db.current.knex)).filter((j) => j.lastError);
    expect(failed!.lastError).toMatch(/invalid payload/);
  });

  it("unlocks jobs held by a worker that stopped beating, and leaves live workers alone", async () => {
    const k = db.current.knex;
    await enqueue(k, "never__runs", { n: 1 }, { runAt: new Date(Date.now() + 3_600_000) });
    await enqueue(k, "never__runs", { n: 2 }, { runAt: new Date(Date.now() + 3_600_000) });
    const live = worker.workerIds()[0]!;
    const staleSeconds = DEAD_AFTER_MS / 1000 + 5;
    // One job locked by a dead worker (stale beat), one by a live one, as a crash would leave them.
    await k("worker_heartbeats").insert({
      workerId: "worker-dead",
      hostname: "gone",
      pid: 1,
      lastBeatAt: k.raw(`now() - interval '${staleSeconds} seconds'`),
    });
    await k.raw(
      "update graphile_worker._private_jobs set locked_by = 'worker-dead', locked_at = now() where payload->>'n' = '1'",
    );
    await k.raw(
      "update graphile_worker._private_jobs set locked_by = ?, locked_at = now() where payload->>'n' = '2'",
      [live],
    );

    // The worker's own heartbeat loop may get there first; either way the dead lock is gone.
    expect(["worker-dead", undefined]).toContain((await unlockDeadWorkers(k, DEAD_AFTER_MS))[0]);
    const jobs = await queuedJobs(k, "never__runs");
    expect(jobs.map((j) => [j.payload.n, j.lockedBy])).toEqual([
      [1, null],
      [2, live],
    ]);
  });
});
