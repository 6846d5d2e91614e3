// Dashboard access is per repository, not per installation: GitHub lists an installation for anyone
// with access to any one of its repositories, so a read-only collaborator on one repository must
// not see (or cancel, or re-run) another repository's jobs of the same installation.
import { Model } from "objection";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forgetViewer } from "../../app/access.server";
import { closeDb } from "../../app/db.server";
import * as apiJob from "../../app/routes/api.jobs.$id";
import * as dashboardIndex from "../../app/routes/dashboard._index";
import * as jobRoute from "../../app/routes/dashboard.jobs.$id";
import * as jobEvents from "../../app/routes/dashboard.jobs.$id.events";
import * as stepLogRoute from "../../app/routes/dashboard.jobs.$id.steps.$stepId.log";
import { useTestDatabase } from "../helpers/database";
import { callAction, callLoader, dataOf, get, post, type CookieJar } from "../dashboard/requests";
import { csrfOf, signIn } from "../dashboard/sign-in";
import {
  ACME,
  addStep,
  REPOS,
  seedInstallations,
  seedJob,
  startWorld,
  type World,
} from "../dashboard/world";

const PUBLIC = "http://access.test";
const db = useTestDatabase();
let world: World;
const SECRET = { id: 700109, owner: ACME.login, name: "secret" };

beforeAll(async () => {
  world = await startWorld(PUBLIC);
  Object.assign(process.env, world.env, { DATABASE_URL: db.current.url });
  Model.knex(db.current.knex);
  await seedInstallations(db.current.knex);
  // A second private repository of acme, and two people who are not acme's maintainers:
  // dave, an outside collaborator with read access to acme/widgets only, and erin, an acme
  // member with the organisation's base permission (read) on every acme repository.
  world.standIn.addRepository({
    id: SECRET.id,
    owner: SECRET.owner,
    name: SECRET.name,
    private: true,
    defaultBranch: "main",
    path: "/nonexistent/repository.git",
  });
  await db.current.knex("repositories").insert({
    id: SECRET.id,
    installationId: ACME.installationId,
    owner: SECRET.owner,
    name: SECRET.name,
    private: true,
    defaultBranch: "main",
  });
  world.standIn.addUser({ login: "dave", id: 9104 });
  world.standIn.setPermission(REPOS.widgets.owner, REPOS.widgets.name, "dave", "read");
  world.standIn.addUser({ login: "erin", id: 9105 });
  world.standIn.updateInstallation(ACME.installationId, { members: ["alice", "erin"] });
  world.standIn.setPermission(SECRET.owner, SECRET.name, "alice", "write");
});

afterAll(async () => {
  await closeDb();
  await world?.standIn.close();
});

const knex = () => db.current.knex;

/** A job of acme/secret (seedJob knows only the world's repositories). */
async function secretJob(): Promise<number> {
  const id = await seedJob(knex(), { repo: "widgets" });
  await knex()("bisectJobs").where({ id }).update({ repositoryId: SECRET.id });
  return id;
}

async function statusOf(id: number): Promise<string> {
  return (await knex()("bisectJobs").where({ id }).first("status")).status;
}

async function everyRead(jar: CookieJar, id: number): Promise<number[]> {
  const params = { id: String(id) };
  const [step] = await knex()("bisectSteps").where({ bisectJobId: id }).select("id");
  return Promise.all([
    callLoader(jobRoute.loader, get(`${PUBLIC}/dashboard/jobs/${id}`, jar), params),
    callLoader(apiJob.loader, get(`${PUBLIC}/api/jobs/${id}`, jar), params),
    callLoader(jobEvents.loader, get(`${PUBLIC}/dashboard/jobs/${id}/events`, jar), params),
    callLoader(
      stepLogRoute.loader,
      get(`${PUBLIC}/dashboard/jobs/${id}/steps/${step.id}/log`, jar),
      { ...params, stepId: String(step.id) },
    ),
  ]).then(async (responses) => {
    for (const r of responses) await r.body?.cancel();
    return responses.map((r) => r.status);
  });
}

async function act(jar: CookieJar, id: number, intent: "cancel" | "rerun"): Promise<Response> {
  const csrf = await csrfOf(world, jar);
  return callAction(
    jobRoute.action,
    post(`${PUBLIC}/dashboard/jobs/${id}`, { csrf, intent }, jar),
    {
      id: String(id),
    },
  );
}

async function listedJobIds(jar: CookieJar): Promise<number[]> {
  const data = await dataOf(() =>
    dashboardIndex.loader({ request: get(`${PUBLIC}/dashboard`, jar), params: {}, context: {} }),
  );
  return data.page.jobs.map((j: { id: number }) => j.id);
}

describe("a read-only outside collaborator on one repository", () => {
  it("gets 404 on every route of another repository's job of the same installation", async () => {
    const secret = await secretJob();
    await addStep(knex(), secret, { commit: 8, round: 1, verdict: "bad", log: "the secret log" });
    const { jar } = await signIn(world, "dave");
    expect(await everyRead(jar, secret)).toEqual([404, 404, 404, 404]);
    expect(await listedJobIds(jar)).not.toContain(secret);
    // The maintainer sees it.
    const alice = await signIn(world, "alice");
    expect((await everyRead(alice.jar, secret))[1]).toBe(200);
  });

  it("reads the repository it was given, but gets 403 on cancel and re-run", async () => {
    const widgets = await seedJob(knex(), { repo: "widgets", requesterLogin: "alice" });
    await addStep(knex(), widgets, { commit: 8, round: 1, verdict: "bad" });
    const { jar } = await signIn(world, "dave");
    expect(await everyRead(jar, widgets)).toEqual([200, 200, 200, 200]);
    expect(await listedJobIds(jar)).toContain(widgets);
    const cancel = await act(jar, widgets, "cancel");
    expect(cancel.status).toBe(403);
    expect(await cancel.text()).toMatch(/write access to acme\/widgets/);
    expect(await statusOf(widgets)).toBe("running");

    await knex()("bisectJobs")
      .where({ id: widgets })
      .update({ status: "finished", outcome: "found", finishedAt: new Date() });
    const jobsBefore = await knex()("bisectJobs").count({ n: "*" }).first();
    expect((await act(jar, widgets, "rerun")).status).toBe(403);
    expect(await knex()("bisectJobs").count({ n: "*" }).first()).toEqual(jobsBefore);
    // The page tells them why there are no buttons.
    const page = await dataOf(() =>
      jobRoute.loader({
        request: get(`${PUBLIC}/dashboard/jobs/${widgets}`, jar),
        params: { id: String(widgets) },
        context: {},
      }),
    );
    expect(page.canWrite).toBe(false);
  });

  it("loses access when GitHub takes it away, once the cached answer expires", async () => {
    const widgets = await seedJob(knex(), { repo: "widgets" });
    await addStep(knex(), widgets, { commit: 2, round: 1, verdict: "good" });
    const { jar } = await signIn(world, "dave");
    expect((await everyRead(jar, widgets))[1]).toBe(200);
    world.standIn.setPermission(REPOS.widgets.owner, REPOS.widgets.name, "dave", "none");
    forgetViewer(); // what INSTALLATIONS_TTL_MS does in production
    const statuses = await everyRead(jar, widgets);
    expect(statuses[1]).toBe(404);
    world.standIn.setPermission(REPOS.widgets.owner, REPOS.widgets.name, "dave", "read");
    forgetViewer();
  });
});

describe("a read-only member of the organisation", () => {
  it("sees every repository's jobs but may not cancel them", async () => {
    const secret = await secretJob();
    await addStep(knex(), secret, { commit: 3, round: 1, verdict: "good" });
    const { jar } = await signIn(world, "erin");
    expect(await everyRead(jar, secret)).toEqual([200, 200, 200, 200]);
    expect((await act(jar, secret, "cancel")).status).toBe(403);
    expect(await statusOf(secret)).toBe("running");
  });
});

describe("a maintainer", () => {
  it("still cancels with write access", async () => {
    const secret = await secretJob();
    const { jar } = await signIn(world, "alice");
    const res = await act(jar, secret, "cancel");
    expect(res.status).toBe(302);
    expect(await statusOf(secret)).toBe("cancelled");
  });
});
