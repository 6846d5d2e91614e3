// Setup mode (no GitHub credentials): the start page says what to configure, and every
// GitHub-facing route answers 503 with that explanation. No database is touched.
import { beforeAll, describe, expect, it } from "vitest";
import * as index from "../../app/routes/_index";
import * as apiJob from "../../app/routes/api.jobs.$id";
import * as authGithub from "../../app/routes/auth.github";
import * as authCallback from "../../app/routes/auth.callback";
import * as callback from "../../app/routes/auth.github.callback";
import * as authLogin from "../../app/routes/auth.github.login";
import * as setup from "../../app/routes/setup";
import * as dashboardIndex from "../../app/routes/dashboard._index";
import * as jobRoute from "../../app/routes/dashboard.jobs.$id";
import * as jobEvents from "../../app/routes/dashboard.jobs.$id.events";
import * as login from "../../app/routes/login";
import * as logout from "../../app/routes/logout";
import { callAction, callLoader, dataOf, get, post } from "./requests";

const BASE = "http://setup.test";

beforeAll(() => {
  for (const name of Object.keys(process.env))
    if (/^(GITHUB_|SESSION_SECRET|ENCRYPTION_KEY|DATABASE_URL)/.test(name))
      delete process.env[name];
  process.env.NODE_ENV = "test";
  process.env.SESSION_SECRET = "s".repeat(40);
});

describe("setup mode", () => {
  it("lists what to configure on the start page, and offers no sign-in", async () => {
    const data = await dataOf(() =>
      index.loader({ request: get(`${BASE}/`), params: {}, context: {} }),
    );
    expect(data.setupMissing.map((m) => m.name)).toEqual([
      "GITHUB_APP_ID",
      "GITHUB_APP_SLUG",
      "GITHUB_APP_PRIVATE_KEY",
      "GITHUB_WEBHOOK_SECRET",
      "GITHUB_CLIENT_ID",
      "GITHUB_CLIENT_SECRET",
      "ENCRYPTION_KEY",
    ]);
    expect(data.setupMissing.every((m) => m.what.length > 0)).toBe(true);
    expect(data.signInReady).toBe(false);
    expect(data.installUrl).toBeNull();
  });

  it.each([
    ["/auth/github", authGithub.loader, {}],
    ["/auth/github/callback?code=x&state=y", callback.loader, {}],
    ["/auth/callback?code=x&state=y", authCallback.loader, {}],
    ["/auth/github/login", authLogin.loader, {}],
    ["/setup?installation_id=1&setup_action=install", setup.loader, {}],
    ["/login", login.loader, {}],
    ["/dashboard", dashboardIndex.loader, {}],
    ["/dashboard/jobs/1", jobRoute.loader, { id: "1" }],
  ] as const)("answers 503 with the explanation on %s", async (path, loader, params) => {
    const res = await callLoader(loader, get(`${BASE}${path}`), params);
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(text).toMatch(/setup mode/);
    expect(text).toContain("GITHUB_APP_ID");
    expect(text).toContain("ENCRYPTION_KEY");
  });

  it("answers 503 as JSON on /api and the event stream, and refuses POSTs too", async () => {
    for (const [loader, path] of [
      [apiJob.loader, "/api/jobs/1"],
      [jobEvents.loader, "/dashboard/jobs/1/events"],
    ] as const) {
      const res = await callLoader(loader, get(`${BASE}${path}`), { id: "1" });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: "setup_mode" });
    }
    expect(
      (
        await callAction(jobRoute.action, post(`${BASE}/dashboard/jobs/1`, { intent: "cancel" }), {
          id: "1",
        })
      ).status,
    ).toBe(503);
    expect((await callAction(logout.action, post(`${BASE}/logout`, {}))).status).toBe(503);
  });
});
