// The URLs deployment guides give for a GitHub App: /auth/github/login to sign in, /auth/callback
// as the Callback URL, /setup as the Setup URL GitHub sends people to after installing.
import { Model } from "objection";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closeDb } from "../../app/db.server";
import * as authCallback from "../../app/routes/auth.callback";
import * as oldCallback from "../../app/routes/auth.github.callback";
import * as authLogin from "../../app/routes/auth.github.login";
import * as dashboardLayout from "../../app/routes/dashboard";
import * as setup from "../../app/routes/setup";
import { useTestDatabase } from "../helpers/database";
import { callLoader, CookieJar, dataOf, get } from "./requests";
import { signIn } from "./sign-in";
import { ACME, BOBCO, startWorld, type World } from "./world";

const PUBLIC = "http://guide.test";
const db = useTestDatabase();
let world: World;

beforeAll(async () => {
  world = await startWorld(PUBLIC);
  Object.assign(process.env, world.env, { DATABASE_URL: db.current.url });
  Model.knex(db.current.knex);
});

afterEach(() => world.standIn.clearRequests());

afterAll(async () => {
  await closeDb();
  await world?.standIn.close();
});

const installationIds = async () =>
  (await db.current.knex("installations").select("id").orderBy("id")).map((r) => r.id as number);

/** /auth/github/login → GitHub's authorize page → the redirect back, as a browser follows it. */
async function startAt(path: string, login: string): Promise<{ jar: CookieJar; back: URL }> {
  world.standIn.setOAuthUser(login);
  const jar = new CookieJar();
  const start = await callLoader(authLogin.loader, get(`${PUBLIC}${path}`, jar));
  expect(start.status).toBe(302);
  jar.take(start);
  const authorize = await fetch(start.headers.get("Location")!, { redirect: "manual" });
  expect(authorize.status).toBe(302);
  return { jar, back: new URL(authorize.headers.get("Location")!) };
}

describe("the guide's sign-in URLs", () => {
  it("/auth/github/login starts the sign-in and GitHub returns to /auth/callback, which completes it", async () => {
    const { jar, back } = await startAt("/auth/github/login?redirectTo=/dashboard", "alice");
    expect(`${back.origin}${back.pathname}`).toBe(`${PUBLIC}/auth/callback`);
    const done = await callLoader(authCallback.loader, get(back.href, jar));
    expect(done.status).toBe(302);
    expect(done.headers.get("Location")).toBe("/dashboard");
    jar.take(done);
    const frame = await dataOf(() =>
      dashboardLayout.loader({ request: get(`${PUBLIC}/dashboard`, jar), params: {}, context: {} }),
    );
    expect(frame.login).toBe("alice");
  });

  it("/auth/github/callback still completes a sign-in", async () => {
    const { jar, back } = await startAt("/auth/github/login", "bob");
    const done = await callLoader(
      oldCallback.loader,
      get(`${PUBLIC}/auth/github/callback${back.search}`, jar),
    );
    expect(done.status).toBe(302);
    expect(done.headers.get("Location")).toBe("/dashboard");
  });
});

describe("/setup, GitHub's redirect after an installation", () => {
  it("sends someone who is not signed in to sign in first, then back to /setup", async () => {
    const res = await callLoader(
      setup.loader,
      get(`${PUBLIC}/setup?installation_id=${ACME.installationId}&setup_action=install`),
    );
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("Location")!, PUBLIC);
    expect(location.pathname).toBe("/login");
    expect(location.searchParams.get("redirectTo")).toBe(
      `/setup?installation_id=${ACME.installationId}&setup_action=install`,
    );
  });

  it("records the installation before its webhook arrives, when GitHub lists it for the signed-in person, and opens the dashboard", async () => {
    await db.current.knex("installations").del();
    const { jar } = await signIn(world, "alice");
    const res = await callLoader(
      setup.loader,
      get(`${PUBLIC}/setup?installation_id=${ACME.installationId}&setup_action=install`, jar),
    );
    expect(res.status).toBe(302);
    const to = new URL(res.headers.get("Location")!, PUBLIC);
    expect(to.pathname).toBe("/dashboard");
    expect(await installationIds()).toEqual([ACME.installationId]);
    const row = await db.current.knex("installations").where({ id: ACME.installationId }).first();
    expect(row).toMatchObject({ accountLogin: ACME.login, accountType: "Organization" });
    // The dashboard greets them with the installation they just made.
    const frame = await dataOf(() =>
      dashboardLayout.loader({ request: get(to.href, jar), params: {}, context: {} }),
    );
    expect(frame.flash).toBe(`Bisect Bot is installed on ${ACME.login}.`);
    // Checked with alice's own token, not the app's.
    expect(world.standIn.requests({ path: "/user/installations" }).length).toBeGreaterThan(0);
  });

  it("never records an installation from the query string alone", async () => {
    await db.current.knex("installations").del();
    const { jar } = await signIn(world, "bob");
    const res = await callLoader(
      setup.loader,
      get(`${PUBLIC}/setup?installation_id=${ACME.installationId}&setup_action=install`, jar),
    );
    expect(res.status).toBe(302);
    expect(res.headers.get("Location")).toBe("/dashboard");
    // bob's own installation is what GitHub lists for him; acme's is not recorded.
    expect(await installationIds()).toEqual([BOBCO.installationId]);
    const frame = await dataOf(() =>
      dashboardLayout.loader({ request: get(`${PUBLIC}/dashboard`, jar), params: {}, context: {} }),
    );
    expect(frame.flash).toBeNull();
  });
});
