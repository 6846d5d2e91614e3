// Live-update streams are capped per signed-in user, so one account cannot hold open an unbounded
// number of database-polling streams; a closed stream gives its place back.
import { Model } from "objection";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeDb } from "../../app/db.server";
import { MAX_STREAMS_PER_USER } from "../../app/job-events.server";
import * as jobEvents from "../../app/routes/dashboard.jobs.$id.events";
import { useTestDatabase } from "../helpers/database";
import { callLoader } from "../dashboard/requests";
import { signIn } from "../dashboard/sign-in";
import { seedInstallations, seedJob, startWorld, type World } from "../dashboard/world";

const PUBLIC = "http://streams.test";
const db = useTestDatabase();
let world: World;

beforeAll(async () => {
  world = await startWorld(PUBLIC);
  Object.assign(process.env, world.env, { DATABASE_URL: db.current.url });
  Model.knex(db.current.knex);
  await seedInstallations(db.current.knex);
});

afterAll(async () => {
  await closeDb();
  await world?.standIn.close();
});

describe("live-update streams", () => {
  it("are capped per user; closing one frees its place", async () => {
    const id = await seedJob(db.current.knex, { repo: "widgets" });
    const { jar } = await signIn(world, "alice");
    const open = async () => {
      const controller = new AbortController();
      const request = new Request(`${PUBLIC}/dashboard/jobs/${id}/events`, {
        headers: { Cookie: jar.header() },
        signal: controller.signal,
      });
      const response = await callLoader(jobEvents.loader, request, { id: String(id) });
      return { response, controller };
    };
    const streams = [];
    for (let i = 0; i < MAX_STREAMS_PER_USER; i++) {
      const s = await open();
      expect(s.response.status).toBe(200);
      streams.push(s);
    }
    const refused = await open();
    expect(refused.response.status).toBe(429);
    expect(await refused.response.json()).toMatchObject({ error: "too_many_streams" });

    // The first stream goes away: its place comes back once the server has closed it.
    const first = streams.shift()!;
    const reader = first.response.body!.getReader();
    first.controller.abort();
    while (!(await reader.read()).done);
    const again = await open();
    expect(again.response.status).toBe(200);
    streams.push(again);
    for (const s of streams) {
      s.controller.abort();
      await s.response.body?.cancel().catch(() => {});
    }
  });
});
