// One admission path: a dashboard re-run is admitted like a new job (write access, quota counted,
// the plan as it is now, never a second run of a job still going), and the plan's concurrency
// limit holds against parallel starts.
import { Model } from "objection";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeDb } from "../../app/db.server";
import * as jobRoute from "../../app/routes/dashboard.jobs.$id";
import { BisectJob, monthOf } from "../../db/models";
import { startWithinConcurrency } from "../../jobs/farm/prepare";
import { useTestDatabase } from "../helpers/database";
import { callAction, post, type CookieJar } from "../dashboard/requests";
import { csrfOf, signIn } from "../dashboard/sign-in";
import { ACME, seedInstallations, seedJob, startWorld, type World } from "../dashboard/world";

const PUBLIC = "http://admission.test";
const db = useTestDatabase();
let world: World;
const knex = () => db.current.knex;

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

async function usedThisMonth(): Promise<number> {
  const row = await knex()("usageStats")
    .where({ installationId: ACME.installationId, month: monthOf(new Date()) })
    .first("jobs");
  return row?.jobs ?? 0;
}

async function setUsed(jobs: number): Promise<void> {
  await knex()("usageStats")
    .insert({ installationId: ACME.installationId, month: monthOf(new Date()), jobs })
    .onConflict(["installationId", "month"])
    .merge({ jobs });
}

async function rerun(jar: CookieJar, id: number): Promise<Response> {
  const csrf = await csrfOf(world, jar);
  return callAction(
    jobRoute.action,
    post(`${PUBLIC}/dashboard/jobs/${id}`, { csrf, intent: "rerun" }, jar),
    { id: String(id) },
  );
}

async function finished(): Promise<number> {
  const id = await seedJob(knex(), {
    repo: "widgets",
    status: "finished",
    outcome: "found",
    culprit: 5,
  });
  await knex()("bisectJobs").where({ id }).update({ finishedAt: new Date() });
  return id;
}

/** Where a redirect goes, without its notice marker. */
const pathOf = (res: Response) => new URL(res.headers.get("Location")!, "http://x").pathname;

const jobCount = async () => Number((await knex()("bisectJobs").count({ n: "*" }).first())!.n);

describe("a dashboard re-run", () => {
  it("counts against the monthly quota, and is refused once the quota is used", async () => {
    const { jar } = await signIn(world, "alice");
    const id = await finished();
    await setUsed(10);
    const ok = await rerun(jar, id);
    expect(ok.status).toBe(302);
    expect(pathOf(ok)).not.toBe(`/dashboard/jobs/${id}`);
    expect(await usedThisMonth()).toBe(11);

    await setUsed(50); // the free plan's 50 a month
    const before = await jobCount();
    const refused = await rerun(jar, id);
    expect(pathOf(refused)).toBe(`/dashboard/jobs/${id}`);
    expect(await jobCount()).toBe(before);
    expect(await usedThisMonth()).toBe(50);
    await setUsed(0);
  });

  it("takes the plan's limits as they are now", async () => {
    const { jar } = await signIn(world, "alice");
    const id = await finished();
    // Started on pro with an hour per run; the installation is on the free plan now (30 minutes).
    await knex()("bisectJobs")
      .where({ id })
      .update({ options: JSON.stringify({ timeoutSeconds: 3600, maxDurationSeconds: 3600 }) });
    const res = await rerun(jar, id);
    const newId = Number(pathOf(res).split("/").pop());
    expect(newId).not.toBe(id);
    const row = await knex()("bisectJobs").where({ id: newId }).first("options", "retryOfJobId");
    expect(row.retryOfJobId).toBe(id);
    expect(row.options).toMatchObject({ timeoutSeconds: 1800, maxDurationSeconds: 1800 });
  });

  it("never starts a second run of a job that is still running", async () => {
    const { jar } = await signIn(world, "alice");
    const running = await seedJob(knex(), { repo: "widgets", status: "running" });
    const before = await jobCount();
    const res = await rerun(jar, running);
    expect(pathOf(res)).toBe(`/dashboard/jobs/${running}`);
    expect(await jobCount()).toBe(before);
  });
});

describe("the plan's concurrency limit", () => {
  it("holds when several queued jobs of one installation start at once", async () => {
    await knex()("bisectJobs")
      .where({ installationId: ACME.installationId })
      .whereIn("status", ["queued", "preparing", "running"])
      .update({ status: "cancelled", finishedAt: new Date() });
    const ids = await Promise.all(
      Array.from({ length: 6 }, () => seedJob(knex(), { repo: "widgets", status: "queued" })),
    );
    const ctx = { knex: knex() };
    const jobs = await BisectJob.query(knex()).findByIds(ids);
    const started = await Promise.all(jobs.map((job) => startWithinConcurrency(ctx, job)));
    expect(started.filter(Boolean)).toHaveLength(1); // the free plan runs one at a time
    const statuses = await knex()("bisectJobs").whereIn("id", ids).pluck("status");
    expect(statuses.filter((s) => s === "preparing")).toHaveLength(1);
  });
});
