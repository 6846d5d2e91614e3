// The dashboard's loaders and actions, called directly with built Requests, against a real
// database and the GitHub stand-in: sign-in, sessions, CSRF, authorisation, live updates.
import { Model } from "objection";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { forgetViewer } from "../../app/access.server";
import { decryptSecret } from "../../db/crypto";
import { closeDb } from "../../app/db.server";
import * as apiJob from "../../app/routes/api.jobs.$id";
import * as authGithub from "../../app/routes/auth.github";
import * as callback from "../../app/routes/auth.github.callback";
import * as dashboardLayout from "../../app/routes/dashboard";
import * as dashboardIndex from "../../app/routes/dashboard._index";
import * as jobRoute from "../../app/routes/dashboard.jobs.$id";
import * as jobEvents from "../../app/routes/dashboard.jobs.$id.events";
import * as stepLogRoute from "../../app/routes/dashboard.jobs.$id.steps.$stepId.log";
import * as login from "../../app/routes/login";
import * as logout from "../../app/routes/logout";
import { useTestDatabase } from "../helpers/database";
import { callAction, callLoader, CookieJar, dataOf, get, post } from "./requests";
import { csrfOf as csrfOfSession, signIn as signInAs } from "./sign-in";
import {
  ACME,
  addStep,
  BOBCO,
  REPOS,
  seedInstallations,
  seedJob,
  startWorld,
  type World,
} from "./world";

const PUBLIC = "http://dashboard.test";
const db = useTestDatabase();
let world: World;

beforeAll(async () => {
  world = await startWorld(PUBLIC);
  Object.assign(process.env, world.env, { DATABASE_URL: db.current.url });
  Model.knex(db.current.knex);
  await seedInstallations(db.current.knex);
});

afterEach(() => {
  try {
    world.standIn.assertNoUnexpected();
  } finally {
    world.standIn.clearRequests();
  }
});

afterAll(async () => {
  await closeDb();
  await world?.standIn.close();
});

const knex = () => db.current.knex;

const signIn = (login: string, redirectTo?: string, jar?: CookieJar) =>
  signInAs(world, login, redirectTo, jar);
const csrfOf = (jar: CookieJar) => csrfOfSession(world, jar);

async function sessionRows(): Promise<
  Array<{ id: string; userId: number; createdAt: Date; lastSeenAt: Date }>
> {
  return knex()("sessions").select("id", "userId", "createdAt", "lastSeenAt");
}

describe("signing in", () => {
  it("runs the OAuth flow with state and PKCE against GITHUB_URL and lands on the requested page", async () => {
    const { jar, response } = await signIn("alice", "/dashboard?status=running");
    expect(response.status).toBe(302);
    expect(response.headers.get("Location")).toBe("/dashboard?status=running");
    expect(jar.has("bb_session")).toBe(true);
    // The state/PKCE and return cookies are cleared once used.
    expect(jar.names().filter((n) => n.startsWith("bb_oauth") || n === "bb_return")).toEqual([]);

    const authorize = world.standIn.requests({ path: "/login/oauth/authorize" }).at(-1)!;
    expect(authorize.query).toMatchObject({
      client_id: "Iv23liDashboard",
      redirect_uri: `${PUBLIC}/auth/callback`,
      code_challenge_method: "S256",
    });
    expect(authorize.query.state).toMatch(/.{16,}/);
    expect(authorize.query.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(
      world.standIn.requests({ method: "POST", path: "/login/oauth/access_token" }),
    ).toHaveLength(1);
    expect(world.standIn.requests({ method: "GET", path: "/api/v3/user" })).toHaveLength(1);

    const user = await knex()("users").where({ login: "alice" }).first();
    expect(user).toMatchObject({ githubId: 9101, login: "alice", name: "Alice Example" });
    expect(user.lastLoginAt).toBeInstanceOf(Date);
  });

  it("stores the OAuth token encrypted: no table holds it in plain text", async () => {
    await signIn("alice");
    const issued = world.standIn.oauthTokensIssued().filter((t) => t.login === "alice");
    const token = issued.at(-1)!.token;
    expect(token).toMatch(/^gh/);
    const raw = await knex().raw<{ rows: Array<{ oauth_token_encrypted: string }> }>(
      "select oauth_token_encrypted from users where login = 'alice'",
    );
    const stored = raw.rows[0]!.oauth_token_encrypted;
    expect(stored).toMatch(/^v1\./);
    expect(stored).not.toContain(token);
    const key = Buffer.from(process.env.ENCRYPTION_KEY!, "base64");
    expect(decryptSecret(stored, key, "user:9101")).toBe(token);
    // Nowhere in the database, in any table.
    const tables = await knex().raw<{ rows: Array<{ table_name: string }> }>(
      "select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'",
    );
    for (const { table_name } of tables.rows) {
      const dump = await knex().raw<{ rows: Array<{ row: string }> }>(
        `select t::text as row from "${table_name}" t`,
      );
      for (const { row } of dump.rows) expect(row, table_name).not.toContain(token);
    }
  });

  it("renews the session id at sign-in: the earlier session of the browser is gone", async () => {
    const first = await signIn("alice");
    const before = (await sessionRows()).map((s) => s.id);
    const oldCookie = first.jar.clone();
    const second = await signIn("alice", "/dashboard", first.jar);
    const after = (await sessionRows()).map((s) => s.id);
    expect(after.length).toBe(before.length);
    expect(second.jar.header()).not.toBe(oldCookie.header());
    const stale = await callLoader(dashboardIndex.loader, get(`${PUBLIC}/dashboard`, oldCookie));
    expect(stale.status).toBe(302);
    expect(stale.headers.get("Location")).toMatch(/^\/login\?/);
  });

  it.each([
    "https://evil.example/phish",
    "//evil.example",
    "/\\evil.example",
    "javascript:alert(1)",
    "http:evil.example",
  ])("refuses the open redirect %s and goes to the dashboard", async (target) => {
    const { response } = await signIn("alice", target);
    expect(response.status).toBe(302);
    expect(response.headers.get("Location")).toBe("/dashboard");
  });

  it("refuses a callback whose state was not started in this browser", async () => {
    world.standIn.setOAuthUser("alice");
    const start = await callLoader(authGithub.loader, get(`${PUBLIC}/auth/github`));
    const authorize = await fetch(start.headers.get("Location")!, { redirect: "manual" });
    // No state cookie: a forged or replayed callback.
    const res = await callLoader(callback.loader, get(authorize.headers.get("Location")!));
    expect(res.status).toBe(302);
    expect(res.headers.get("Location")).toBe("/login?error=state");
    expect(res.headers.getSetCookie().some((c) => c.startsWith("bb_session="))).toBe(false);
    // A state cookie from another attempt does not match either.
    const other = new CookieJar().take(
      await callLoader(authGithub.loader, get(`${PUBLIC}/auth/github`)),
    );
    const mismatched = await callLoader(
      callback.loader,
      get(authorize.headers.get("Location")!, other),
    );
    expect(mismatched.headers.get("Location")).toBe("/login?error=state");
    const page = await dataOf(() =>
      login.loader({ request: get(`${PUBLIC}/login?error=state`), params: {}, context: {} }),
    );
    expect(page.failure).toMatch(/expired or was not started here/);
    // Unknown codes show nothing: no text from the URL reaches the page.
    const spoof = await dataOf(() =>
      login.loader({
        request: get(`${PUBLIC}/login?error=Your+account+is+locked`),
        params: {},
        context: {},
      }),
    );
    expect(spoof.failure).toBeNull();
  });

  it("explains a refusal on GitHub", async () => {
    world.standIn.denyNextOAuth();
    const jar = new CookieJar();
    const start = await callLoader(authGithub.loader, get(`${PUBLIC}/auth/github`, jar));
    jar.take(start);
    const authorize = await fetch(start.headers.get("Location")!, { redirect: "manual" });
    const res = await callLoader(callback.loader, get(authorize.headers.get("Location")!, jar));
    expect(res.headers.get("Location")).toBe("/login?error=denied");
    const page = await dataOf(() =>
      login.loader({ request: get(`${PUBLIC}/login?error=denied`), params: {}, context: {} }),
    );
    expect(page.failure).toMatch(/declined/);
  });

  it("sends people who are not signed in to /login, keeping where they were going", async () => {
    const res = await callLoader(dashboardIndex.loader, get(`${PUBLIC}/dashboard/jobs/12?x=1`));
    expect(res.status).toBe(302);
    expect(res.headers.get("Location")).toBe(
      `/login?redirectTo=${encodeURIComponent("/dashboard/jobs/12?x=1")}`,
    );
    const api = await callLoader(apiJob.loader, get(`${PUBLIC}/api/jobs/1`), { id: "1" });
    expect(api.status).toBe(401);
    const events = await callLoader(jobEvents.loader, get(`${PUBLIC}/dashboard/jobs/1/events`), {
      id: "1",
    });
    expect(events.status).toBe(401);
  });
});

describe("session timeouts", () => {
  it("ends a session idle for more than 8 hours", async () => {
    const { jar } = await signIn("alice");
    const [latest] = await knex()("sessions").orderBy("createdAt", "desc").limit(1);
    await knex()("sessions")
      .where({ id: latest.id })
      .update({ lastSeenAt: new Date(Date.now() - 8 * 3600_000 - 60_000) });
    const res = await callLoader(dashboardIndex.loader, get(`${PUBLIC}/dashboard`, jar));
    expect(res.status).toBe(302);
    expect(res.headers.get("Location")).toMatch(/^\/login\?redirectTo=/);
    expect(await knex()("sessions").where({ id: latest.id }).first()).toBeUndefined();
  });

  it("ends a session 7 days after sign-in however active it is", async () => {
    const { jar } = await signIn("alice");
    const [latest] = await knex()("sessions").orderBy("createdAt", "desc").limit(1);
    await knex()("sessions")
      .where({ id: latest.id })
      .update({
        createdAt: new Date(Date.now() - 7 * 86_400_000 - 60_000),
        lastSeenAt: new Date(),
      });
    const res = await callLoader(dashboardIndex.loader, get(`${PUBLIC}/dashboard`, jar));
    expect(res.status).toBe(302);
    expect(await knex()("sessions").where({ id: latest.id }).first()).toBeUndefined();
  });

  it("keeps an active session and refuses a tampered cookie", async () => {
    const { jar } = await signIn("alice");
    expect((await callLoader(dashboardIndex.loader, get(`${PUBLIC}/dashboard`, jar))).status).toBe(
      200,
    );
    const tampered = jar
      .header()
      .replace(/bb_session=([^;]*)/, (_m, v: string) => `bb_session=${v.slice(0, -2)}xx`);
    const res = await callLoader(
      dashboardIndex.loader,
      get(`${PUBLIC}/dashboard`, undefined, { Cookie: tampered }),
    );
    expect(res.status).toBe(302);
  });
});

describe("signing out", () => {
  it("is a POST with the CSRF token; it deletes the session and clears the cookie", async () => {
    const { jar } = await signIn("alice");
    const csrf = await csrfOf(jar);
    const count = (await sessionRows()).length;
    expect((await callAction(logout.action, post(`${PUBLIC}/logout`, {}, jar))).status).toBe(403);
    expect(
      (await callAction(logout.action, post(`${PUBLIC}/logout`, { csrf: "nope" }, jar))).status,
    ).toBe(403);
    expect((await callLoader(logout.loader, get(`${PUBLIC}/logout`, jar))).status).toBe(302);
    expect((await sessionRows()).length).toBe(count);
    const res = await callAction(logout.action, post(`${PUBLIC}/logout`, { csrf }, jar));
    expect(res.status).toBe(302);
    expect(res.headers.get("Location")).toBe("/");
    expect(
      res.headers.getSetCookie().some((c) => /^bb_session=;/.test(c) && /Max-Age=0/i.test(c)),
    ).toBe(true);
    expect((await sessionRows()).length).toBe(count - 1);
    expect((await callLoader(dashboardIndex.loader, get(`${PUBLIC}/dashboard`, jar))).status).toBe(
      302,
    );
  });
});

describe("the dashboard", () => {
  it("lists the user's installations (mirrored) and repositories, and caches GitHub's answer briefly", async () => {
    forgetViewer();
    await knex()("installations").where({ id: ACME.installationId }).delete();
    const { jar } = await signIn("alice");
    world.standIn.clearRequests();
    const data = await dataOf(() =>
      dashboardIndex.loader({ request: get(`${PUBLIC}/dashboard`, jar), params: {}, context: {} }),
    );
    expect(data.installations.map((i) => i.accountLogin)).toEqual(["acme"]);
    expect(data.installations[0]!.repositories!.map((r) => r.fullName)).toEqual([
      "acme/gadgets",
      "acme/widgets",
    ]);
    expect(data.installUrl).toBe(`${world.standIn.urls.web}/apps/bisect-bot/installations/new`);
    // Mirrored: the missing row is back.
    expect(await knex()("installations").where({ id: ACME.installationId }).first()).toMatchObject({
      accountLogin: "acme",
    });
    await seedInstallations(knex());
    await dashboardIndex.loader({
      request: get(`${PUBLIC}/dashboard`, jar),
      params: {},
      context: {},
    });
    expect(world.standIn.requests({ path: "/api/v3/user/installations" })).toHaveLength(1);
    expect(world.standIn.requests({ path: /\/repositories$/ })).toHaveLength(1);
  });

  it("shows only the user's jobs, 25 a page, newest first, filtered by status and repository", async () => {
    const ids: number[] = [];
    for (let i = 0; i < 30; i++)
      ids.push(
        await seedJob(knex(), {
          repo: i % 3 === 0 ? "gadgets" : "widgets",
          status: i % 2 ? "finished" : "running",
        }),
      );
    const bobs = await seedJob(knex(), { repo: "tools", requesterLogin: "bob" });
    const cli = await seedJob(knex(), { repo: null });
    const { jar } = await signIn("alice");
    const load = (q: string) =>
      dataOf(() =>
        dashboardIndex.loader({
          request: get(`${PUBLIC}/dashboard${q}`, jar),
          params: {},
          context: {},
        }),
      );

    const first = await load("");
    expect(first.page.jobs).toHaveLength(25);
    const seen = first.page.jobs.map((j) => j.id);
    expect(seen).not.toContain(bobs);
    expect(seen).not.toContain(cli);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
    expect(first.page.newer).toBeNull();
    expect(first.page.older).toBe(seen.at(-1));

    const second = await load(`?before=${first.page.older}`);
    expect(second.page.jobs.length).toBeGreaterThanOrEqual(5);
    expect(second.page.jobs.every((j) => j.id < first.page.older!)).toBe(true);
    expect(second.page.newer).toBe(second.page.jobs[0]!.id);
    const back = await load(`?after=${second.page.newer}`);
    expect(back.page.jobs.map((j) => j.id)).toEqual(seen);

    const running = await load("?status=running");
    expect(running.page.jobs.length).toBeGreaterThan(0);
    expect(running.page.jobs.every((j) => j.status === "running")).toBe(true);
    const gadgets = await load(`?repo=${REPOS.gadgets.id}`);
    expect(gadgets.page.jobs.every((j) => j.repository === "acme/gadgets")).toBe(true);
    // Someone else's repository as a filter shows nothing of theirs.
    expect((await load(`?repo=${REPOS.tools.id}`)).page.jobs).toEqual([]);
    // Nonsense filters are ignored, not errors.
    expect((await load("?status=exploded&repo=x&before=-3")).page.jobs).toHaveLength(25);
  });

  it("shows this month's usage against the plan and six months of history", async () => {
    const now = new Date();
    const month = (k: number) => {
      const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - k, 1));
      return d.toISOString().slice(0, 10);
    };
    // Its own running job, whatever other tests left running or cancelled.
    await seedJob(knex(), { repo: "widgets", status: "running" });
    await knex()("usageStats").insert([
      { installationId: ACME.installationId, month: month(0), jobs: 12, computeSeconds: 3600 },
      { installationId: ACME.installationId, month: month(2), jobs: 40, computeSeconds: 600 },
      { installationId: ACME.installationId, month: month(7), jobs: 99, computeSeconds: 60 },
    ]);
    const { jar } = await signIn("alice");
    const data = await dataOf(() =>
      dashboardIndex.loader({ request: get(`${PUBLIC}/dashboard`, jar), params: {}, context: {} }),
    );
    const acme = data.usage.find((u) => u.installationId === ACME.installationId)!;
    expect(acme).toMatchObject({
      tier: "free",
      jobsPerMonth: 50,
      maxConcurrent: 1,
      maxDurationMinutes: 30,
    });
    // What one run gets on the plan, within the runner's own limits (RUNNER_WORK_MB 1024 here).
    expect(acme.run).toEqual({ memoryMb: 1024, cpus: 1, workMb: 1024, timeoutMinutes: 10 });
    expect(acme.thisMonth).toMatchObject({ jobs: 12, computeMinutes: 60 });
    expect(acme.history).toHaveLength(6);
    expect(acme.history.map((h) => h.jobs)).toEqual([0, 0, 0, 40, 0, 12]);
    expect(acme.running).toBeGreaterThan(0);
    expect(data.usage.some((u) => u.installationId === BOBCO.installationId)).toBe(false);
  });

  it("signs the user out when GitHub no longer accepts their token", async () => {
    const { jar } = await signIn("carol");
    forgetViewer();
    const token = world.standIn
      .oauthTokensIssued()
      .filter((t) => t.login === "carol")
      .at(-1)!.token;
    world.standIn.revokeToken(token);
    const res = await callLoader(dashboardIndex.loader, get(`${PUBLIC}/dashboard`, jar));
    expect(res.status).toBe(302);
    expect(res.headers.get("Location")).toMatch(/reason=expired/);
    const carol = await knex()("users").where({ login: "carol" }).first("id");
    expect(await knex()("sessions").where({ userId: carol.id })).toEqual([]);
  });

  it("keeps the last installations for a while when GitHub cannot be reached, and says so when it has none", async () => {
    const { jar } = await signIn("alice");
    forgetViewer();
    const load = () => callLoader(dashboardIndex.loader, get(`${PUBLIC}/dashboard`, jar));
    expect((await load()).status).toBe(200);
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + 61_000);
      world.standIn.failNext({ path: "/api/v3/user/installations", status: 502 });
      const stale = await load();
      expect(stale.status).toBe(200);
      expect(
        (
          (await stale.json()) as { installations: Array<{ accountLogin: string }> }
        ).installations.map((i) => i.accountLogin),
      ).toEqual(["acme"]);
    } finally {
      vi.useRealTimers();
    }
    forgetViewer();
    world.standIn.failNext({ path: "/api/v3/user/installations", status: 502 });
    const down = await load();
    expect(down.status).toBe(502);
    expect(await down.text()).toMatch(/GitHub could not be reached/);
    world.standIn.failNext({ path: "/api/v3/user/installations", status: 502 });
    const api = await callLoader(apiJob.loader, get(`${PUBLIC}/api/jobs/1`, jar), { id: "1" });
    expect(api.status).toBe(502);
    expect(await api.json()).toMatchObject({ error: "github_unavailable" });
  });

  it("shows an empty dashboard to someone with no installation", async () => {
    const { jar } = await signIn("carol");
    const data = await dataOf(() =>
      dashboardIndex.loader({ request: get(`${PUBLIC}/dashboard`, jar), params: {}, context: {} }),
    );
    expect(data.installations).toEqual([]);
    expect(data.page.jobs).toEqual([]);
    expect(data.usage).toEqual([]);
  });
});

describe("a job", () => {
  it("shows the job, its steps and the picture to a member of its installation", async () => {
    const id = await seedJob(knex(), { commits: 16 });
    await addStep(knex(), id, { commit: 8, round: 1, verdict: "bad" });
    await addStep(knex(), id, { commit: 4, round: 2, verdict: "good" });
    await addStep(knex(), id, { commit: 6, round: 3 });
    const { jar } = await signIn("alice");
    const data = await dataOf(() =>
      jobRoute.loader({
        request: get(`${PUBLIC}/dashboard/jobs/${id}`, jar),
        params: { id: String(id) },
        context: {},
      }),
    );
    expect(data.job).toMatchObject({
      id,
      status: "running",
      active: true,
      issueNumber: 7,
      repository: { fullName: "acme/widgets" },
    });
    expect(data.steps.map((s) => s.verdict)).toEqual(["bad", "good", null]);
    expect(data.picture.rows.map((r) => r.candidates)).toEqual([16, 8, 4, 4]);
    expect(data.csrf).toBe(await csrfOf(jar));

    const api = await callLoader(apiJob.loader, get(`${PUBLIC}/api/jobs/${id}`, jar), {
      id: String(id),
    });
    expect(api.status).toBe(200);
    const json = (await api.json()) as { job: { id: number; status: string }; steps: unknown[] };
    expect(json.job).toMatchObject({ id, status: "running" });
    expect(json.steps).toHaveLength(3);
    expect(JSON.stringify(json)).not.toContain('"graph"');
  });

  it("shows the tail of long logs and serves the whole log to members only", async () => {
    const id = await seedJob(knex());
    const long = Array.from(
      { length: 500 },
      (_, i) => `line ${String(i).padStart(4, "0")} of the test output`,
    ).join("\n");
    await addStep(knex(), id, { commit: 8, round: 1, verdict: "bad", log: long });
    const stepId = (await knex()("bisectSteps").where({ bisectJobId: id }).first("id"))
      .id as number;
    const { jar } = await signIn("alice");
    const data = await dataOf(() =>
      jobRoute.loader({
        request: get(`${PUBLIC}/dashboard/jobs/${id}`, jar),
        params: { id: String(id) },
        context: {},
      }),
    );
    expect(data.steps[0]!.logLength).toBe(long.length);
    expect(data.steps[0]!.logExcerpt).toBe(long.slice(-4000));
    const params = { id: String(id), stepId: String(stepId) };
    const whole = await callLoader(
      stepLogRoute.loader,
      get(`${PUBLIC}/dashboard/jobs/${id}/steps/${stepId}/log`, jar),
      params,
    );
    expect(whole.status).toBe(200);
    expect(whole.headers.get("Content-Type")).toMatch(/^text\/plain/);
    expect(await whole.text()).toBe(long);
    // Another job's id with this step, or this job with another job's step: 404.
    const other = await seedJob(knex());
    expect(
      (
        await callLoader(stepLogRoute.loader, get(`${PUBLIC}/x`, jar), {
          id: String(other),
          stepId: String(stepId),
        })
      ).status,
    ).toBe(404);
    const bob = await signIn("bob");
    expect(
      (await callLoader(stepLogRoute.loader, get(`${PUBLIC}/x`, bob.jar), params)).status,
    ).toBe(404);
  });

  it("is a 404 — never a 403 — for other people's jobs, command-line jobs and unknown ids", async () => {
    const bobs = await seedJob(knex(), { repo: "tools", requesterLogin: "bob" });
    const cli = await seedJob(knex(), { repo: null });
    const { jar } = await signIn("alice");
    for (const id of [String(bobs), String(cli), "999999", "abc", "0", "1e3"]) {
      const page = await callLoader(jobRoute.loader, get(`${PUBLIC}/dashboard/jobs/${id}`, jar), {
        id,
      });
      expect(page.status, id).toBe(404);
      const api = await callLoader(apiJob.loader, get(`${PUBLIC}/api/jobs/${id}`, jar), { id });
      expect(api.status, id).toBe(404);
      expect(await api.json()).toMatchObject({ error: "not_found" });
      const events = await callLoader(
        jobEvents.loader,
        get(`${PUBLIC}/dashboard/jobs/${id}/events`, jar),
        { id },
      );
      expect(events.status, id).toBe(404);
    }
    // Bob sees his own.
    const bob = await signIn("bob");
    expect(
      (
        await callLoader(apiJob.loader, get(`${PUBLIC}/api/jobs/${bobs}`, bob.jar), {
          id: String(bobs),
        })
      ).status,
    ).toBe(200);
  });

  it("refuses to cancel without access: 404, and the job keeps running", async () => {
    const bobs = await seedJob(knex(), { repo: "tools", requesterLogin: "bob" });
    const { jar } = await signIn("alice");
    const csrf = await csrfOf(jar);
    const res = await callAction(
      jobRoute.action,
      post(`${PUBLIC}/dashboard/jobs/${bobs}`, { csrf, intent: "cancel" }, jar),
      { id: String(bobs) },
    );
    expect(res.status).toBe(404);
    expect(await knex()("bisectJobs").where({ id: bobs }).first("status")).toEqual({
      status: "running",
    });
    const signedOut = await callAction(
      jobRoute.action,
      post(`${PUBLIC}/dashboard/jobs/${bobs}`, { csrf, intent: "cancel" }),
      { id: String(bobs) },
    );
    expect(signedOut.status).toBe(302);
    expect(await knex()("bisectJobs").where({ id: bobs }).first("status")).toEqual({
      status: "running",
    });
  });

  it("rejects a missing or wrong CSRF token with 403", async () => {
    const id = await seedJob(knex());
    const { jar } = await signIn("alice");
    const other = await signIn("alice");
    const othersToken = await csrfOf(other.jar);
    const forms: Array<Record<string, string>> = [
      { intent: "cancel" },
      { intent: "cancel", csrf: "" },
      { intent: "cancel", csrf: "forged" },
      { intent: "cancel", csrf: othersToken },
    ];
    for (const form of forms) {
      const res = await callAction(
        jobRoute.action,
        post(`${PUBLIC}/dashboard/jobs/${id}`, form, jar),
        { id: String(id) },
      );
      expect(res.status, JSON.stringify(form)).toBe(403);
    }
    expect(await knex()("bisectJobs").where({ id }).first("status")).toEqual({ status: "running" });
  });

  it("cancels and re-runs with the token, redirecting after the POST and recording who did it", async () => {
    const id = await seedJob(knex());
    const { jar } = await signIn("alice");
    const csrf = await csrfOf(jar);
    const bad = await callAction(
      jobRoute.action,
      post(`${PUBLIC}/dashboard/jobs/${id}`, { csrf, intent: "explode" }, jar),
      { id: String(id) },
    );
    expect(bad.status).toBe(400);

    const cancelled = await callAction(
      jobRoute.action,
      post(`${PUBLIC}/dashboard/jobs/${id}`, { csrf, intent: "cancel" }, jar),
      { id: String(id) },
    );
    expect(cancelled.status).toBe(302);
    const notice = new URL(cancelled.headers.get("Location")!, PUBLIC);
    expect(notice.pathname).toBe(`/dashboard/jobs/${id}`);
    expect(notice.searchParams.get("notice")).toMatch(/^[\w-]{12}$/);
    expect(await knex()("bisectJobs").where({ id }).first("status")).toEqual({
      status: "cancelled",
    });
    expect(
      await knex()("auditLog")
        .where({ action: "job.cancel", subjectId: String(id) })
        .first("actor"),
    ).toEqual({ actor: "alice" });
    const frameAt = async (url: string) =>
      (
        await dataOf(() =>
          dashboardLayout.loader({ request: get(url, jar), params: {}, context: {} }),
        )
      ).flash;
    // Other loads of the frame (a live-update revalidation of the page as it was) do not use the notice up,
    const plain = `${PUBLIC}/dashboard/jobs/${id}`;
    expect(await frameAt(plain)).toBeNull();
    // and every load of the URL the redirect gave shows it, however many run.
    expect(await frameAt(notice.href)).toMatch(new RegExp(`Job #${id} is cancelled`));
    expect(await frameAt(notice.href)).toMatch(new RegExp(`Job #${id} is cancelled`));
    // A marker of someone's own making shows nothing.
    expect(await frameAt(`${plain}?notice=forged`)).toBeNull();

    const rerun = await callAction(
      jobRoute.action,
      post(`${PUBLIC}/dashboard/jobs/${id}`, { csrf, intent: "rerun" }, jar),
      { id: String(id) },
    );
    expect(rerun.status).toBe(302);
    const newId = Number(new URL(rerun.headers.get("Location")!, PUBLIC).pathname.split("/").pop());
    expect(newId).toBeGreaterThan(id);
    expect(
      await knex()("bisectJobs")
        .where({ id: newId })
        .first("retryOfJobId", "status", "requesterLogin", "installationId"),
    ).toEqual({
      retryOfJobId: id,
      status: "queued",
      requesterLogin: "alice",
      installationId: ACME.installationId,
    });
  });

  it("streams updates while the job runs and ends when it is final", async () => {
    const id = await seedJob(knex());
    const { jar } = await signIn("alice");
    const page = await dataOf(() =>
      jobRoute.loader({
        request: get(`${PUBLIC}/dashboard/jobs/${id}`, jar),
        params: { id: String(id) },
        context: {},
      }),
    );
    const controller = new AbortController();
    const request = new Request(
      `${PUBLIC}/dashboard/jobs/${id}/events?since=${encodeURIComponent(page.version)}`,
      {
        headers: { Cookie: jar.header() },
        signal: controller.signal,
      },
    );
    const res = await callLoader(jobEvents.loader, request, { id: String(id) });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const readUntil = async (pattern: RegExp) => {
      const deadline = Date.now() + 10_000;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} in ${JSON.stringify(text)}`);
        const { value, done } = await reader.read();
        // A stream that ends before what the test waits for is a failure, not a pass.
        if (done) throw new Error(`the stream ended before ${pattern}: ${JSON.stringify(text)}`);
        text += decoder.decode(value);
      }
    };
    await readUntil(/retry: \d+/);
    expect(text).not.toMatch(/event: update/);
    await addStep(knex(), id, { commit: 8, round: 1, verdict: "bad" });
    await readUntil(/event: update/);
    await knex()("bisectJobs")
      .where({ id })
      .update({ status: "finished", outcome: "found", finishedAt: new Date() });
    await readUntil(/event: end/);
    expect((await reader.read()).done).toBe(true);
  });

  it("closes the stream when the client goes away", async () => {
    const id = await seedJob(knex());
    const { jar } = await signIn("alice");
    const controller = new AbortController();
    const request = new Request(`${PUBLIC}/dashboard/jobs/${id}/events`, {
      headers: { Cookie: jar.header() },
      signal: controller.signal,
    });
    const res = await callLoader(jobEvents.loader, request, { id: String(id) });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    const deadline = Date.now() + 5_000;
    let done = false;
    while (!done && Date.now() < deadline) done = (await reader.read()).done;
    expect(done).toBe(true);
  });
});

describe("automatic bisection on the dashboard", () => {
  it("says why an installation has none, and marks an automatic job with the check that started it", async () => {
    const granted = { issues: "write", contents: "read", metadata: "read", pull_requests: "read" };
    await knex()("installations")
      .where({ id: ACME.installationId })
      .update({ permissions: granted });
    const { jar } = await signIn("alice");
    const overview = () =>
      dataOf(() =>
        dashboardIndex.loader({
          request: get(`${PUBLIC}/dashboard`, jar),
          params: {},
          context: {},
        }),
      );
    expect((await overview()).automatic[ACME.installationId]).toBe(
      "the installation has not granted the `checks: read` permission (accept it in the app's installation settings on GitHub)",
    );
    await knex()("installations")
      .where({ id: ACME.installationId })
      .update({ permissions: { ...granted, checks: "read" } });
    expect((await overview()).automatic[ACME.installationId]).toBeUndefined();

    const id = await seedJob(knex(), { commits: 4 });
    await knex()("bisectJobs")
      .where({ id })
      .update({ source: "auto", issueNumber: null, requesterLogin: null });
    await knex()("autoBisections").insert({
      installationId: ACME.installationId,
      repositoryId: REPOS.widgets.id,
      checkName: "lint",
      greenSha: "a".repeat(40),
      redSha: "b".repeat(40),
      command: "npm run lint",
      checkRunUrl: "https://github.com/acme/widgets/runs/9",
      notify: "pull-request",
      bisectJobId: id,
    });
    const listed = (await overview()).page.jobs.find((j) => j.id === id);
    expect(listed).toMatchObject({ source: "auto", requesterLogin: null });
    const page = await dataOf(() =>
      jobRoute.loader({
        request: get(`${PUBLIC}/dashboard/jobs/${id}`, jar),
        params: { id: String(id) },
        context: {},
      }),
    );
    expect(page.job.source).toBe("auto");
    expect(page.automatic).toMatchObject({
      checkName: "lint",
      redSha: "b".repeat(40),
      checkRunUrl: "https://github.com/acme/widgets/runs/9",
      notify: "pull-request",
      reportUrl: null,
    });
  });
});
