// The worker container's health check (scripts/healthcheck-worker.ts): healthy while a worker on
// this machine keeps its heartbeat row fresh, against a real database.
import os from "node:os";
import { describe, expect, it } from "vitest";
import { workerHeartbeatHealth } from "../../scripts/healthcheck-worker";
import { useTestDatabase } from "../helpers/database";
import { run } from "./support";

const db = useTestDatabase();

const beat = (
  hostname: string,
  secondsAgo: number,
  workerId = `worker-${hostname}-${secondsAgo}`,
) =>
  db.current
    .knex("worker_heartbeats")
    .insert({
      workerId,
      hostname,
      pid: 1,
      lastBeatAt: db.current.knex.raw("now() - make_interval(secs => ?)", [secondsAgo]),
    })
    .onConflict("workerId")
    .merge();

const runCheck = (env: Record<string, string>) =>
  run(process.execPath, ["--import", "tsx", "scripts/healthcheck-worker.ts"], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: "development", ...env },
    timeoutMs: 30_000,
  });

describe("worker health check", () => {
  it("is healthy only with a fresh heartbeat from this host", async () => {
    const knex = db.current.knex;
    expect(await workerHeartbeatHealth(knex, "host-a", 45)).toEqual({
      healthy: false,
      ageSeconds: null,
    });
    await beat("host-b", 1);
    expect((await workerHeartbeatHealth(knex, "host-a", 45)).healthy).toBe(false);
    await beat("host-a", 100);
    expect(await workerHeartbeatHealth(knex, "host-a", 45)).toMatchObject({
      healthy: false,
      ageSeconds: expect.closeTo(100, 0),
    });
    await beat("host-a", 2, "worker-host-a-second");
    expect(await workerHeartbeatHealth(knex, "host-a", 45)).toMatchObject({
      healthy: true,
      ageSeconds: expect.closeTo(2, 0),
    });
  });

  it(
    "as a command: exit 0 when healthy, 1 with the reason otherwise",
    { timeout: 60_000 },
    async () => {
      const hostname = os.hostname();
      await db.current.knex("worker_heartbeats").where({ hostname }).delete();
      const missing = await runCheck({ DATABASE_URL: db.current.url });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain(`no heartbeat from a worker on ${hostname}`);

      await beat(hostname, 30, "this-host-worker");
      const stale = await runCheck({
        DATABASE_URL: db.current.url,
        WORKER_DEAD_AFTER_SECONDS: "10",
      });
      expect(stale.code).toBe(1);
      expect(stale.stderr).toMatch(/last heartbeat 3\d s ago \(limit 10 s\)/);

      const fresh = await runCheck({
        DATABASE_URL: db.current.url,
        WORKER_DEAD_AFTER_SECONDS: "45",
      });
      expect(fresh.code, fresh.stderr).toBe(0);

      const unconfigured = await runCheck({});
      expect(unconfigured.code).toBe(1);
      expect(unconfigured.stderr).toContain("DATABASE_URL");
    },
  );
});
