// /health for monitors: 200 only when a bisection can run (database, a live worker, a runner host
// that answered recently), 503 otherwise; the body says which part is missing, in counts only.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { closeDb } from "../../app/db.server";
import { RUNNER_ANSWERED_WITHIN_SECONDS } from "../../app/health.server";
import * as health from "../../app/routes/health";
import { useTestDatabase } from "../helpers/database";

const db = useTestDatabase();
const knex = () => db.current.knex;

beforeAll(() => {
  process.env.DATABASE_URL = db.current.url;
});
afterAll(closeDb);

beforeEach(async () => {
  await knex()("runner_hosts").del();
  await knex()("worker_heartbeats").del();
  await knex()("worker_heartbeats").insert({
    workerId: "health-worker",
    hostname: "h",
    pid: 1,
    lastBeatAt: knex().fn.now(),
  });
});

async function get(): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = (await health.loader()) as Response;
  return { status: res.status, body: await res.json() };
}

const host = (name: string, state: string, secondsAgo: number | null) =>
  knex()("runner_hosts").insert({
    name,
    dockerEndpoint: "tcp://runner.invalid:2376",
    capacity: 1,
    state,
    lastSeenAt:
      secondsAgo === null ? null : knex().raw("now() - make_interval(secs => ?)", [secondsAgo]),
  });

describe("/health", () => {
  it("answers 503 with docker_available false when there is no runner host", async () => {
    const { status, body } = await get();
    expect(status).toBe(503);
    expect(body).toEqual({
      status: "degraded",
      database: "ok",
      worker: "ok",
      docker_available: false,
      runners: { active: 0, draining: 0, down: 0 },
    });
  });

  it("answers 200 when an active host answered its last probe", async () => {
    await host("r1", "active", 5);
    const { status, body } = await get();
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: "ok",
      docker_available: true,
      runners: { active: 1, draining: 0, down: 0 },
    });
    expect(JSON.stringify(body)).not.toContain("r1");
  });

  it("does not count a host that has stopped answering, a draining host, or a down one", async () => {
    await host("silent", "active", RUNNER_ANSWERED_WITHIN_SECONDS + 60);
    await host("never", "active", null);
    await host("draining", "draining", 1);
    await host("down", "down", 1);
    const { status, body } = await get();
    expect(status).toBe(503);
    expect(body).toMatchObject({
      docker_available: false,
      runners: { active: 2, draining: 1, down: 1 },
    });
  });

  it("answers 503 with no live worker, even with a runner host", async () => {
    await host("r1", "active", 1);
    await knex()("worker_heartbeats").del();
    const { status, body } = await get();
    expect(status).toBe(503);
    expect(body).toMatchObject({ status: "down", worker: "down", docker_available: true });
  });
});
