// The dashboard in a real browser against the real web server: sign in through the GitHub
// stand-in, see installations and jobs, watch a running job update live while this test writes
// the rows a worker would, and cancel it — once with JavaScript, once without.
import { mkdirSync } from "node:fs";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../db/embedded";
import {
  addStep,
  seedInstallations,
  seedJob,
  sha,
  startWorld,
  type World,
} from "../dashboard/world";
import { useTestDatabase } from "../helpers/database";
import { buildIfStale, haveChromium, openBrowser, startWebServer, type WebServer } from "./support";

const SHOTS = "artifacts/screenshots";
const db = useTestDatabase();
let world: World;
let server: WebServer;
let base: string;
const present = haveChromium();

beforeAll(async () => {
  if (!present) return;
  buildIfStale();
  mkdirSync(SHOTS, { recursive: true });
  const port = await freePort();
  // localhost: a secure context, so the production cookies (Secure, __Host-) work over http here.
  base = `http://localhost:${port}`;
  world = await startWorld(base);
  await seedInstallations(db.current.knex);
  for (let i = 0; i < 4; i++) {
    await seedJob(db.current.knex, {
      repo: i % 2 ? "gadgets" : "widgets",
      status: "finished",
      outcome: "found",
      culprit: 5,
      issueNumber: 10 + i,
    });
  }
  server = await startWebServer(
    { ...world.env, NODE_ENV: "production", DATABASE_URL: db.current.url },
    port,
    "localhost",
  );
}, 120_000);

afterAll(async () => {
  await server?.stop();
  try {
    world?.standIn.assertNoUnexpected();
  } finally {
    await world?.standIn.close();
  }
});

function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || /Content Security Policy|Refused/.test(m.text()))
      problems.push(`${page.url()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`${page.url()}: ${String(e)}`));
  return problems;
}

async function signIn(page: Page, login: string): Promise<void> {
  world.standIn.setOAuthUser(login);
  await page.goto(`${base}/`);
  await page.getByRole("link", { name: "Sign in with GitHub" }).click();
  await page.waitForURL(`${base}/dashboard`);
}

const jobStatus = async (id: number) =>
  (await db.current.knex("bisectJobs").where({ id }).first("status")).status as string;

describe.skipIf(!present)("dashboard in a browser", () => {
  it(
    "with JavaScript: landing page, sign-in, dashboard, live job page, cancel",
    { timeout: 120_000 },
    async () => {
      const browser = await openBrowser({ viewport: { width: 1200, height: 900 } });
      try {
        const page = browser.pages()[0] ?? (await browser.newPage());
        const problems = watchConsole(page);

        const landing = await page.goto(`${base}/`);
        const headers = landing!.headers();
        expect(headers["content-security-policy"]).toMatch(/default-src 'self'/);
        expect(headers["content-security-policy"]).toMatch(
          /script-src 'self' 'nonce-[A-Za-z0-9+/=]+'/,
        );
        expect(headers["x-content-type-options"]).toBe("nosniff");
        expect(headers["x-frame-options"]).toBe("DENY");
        expect(headers["referrer-policy"]).toBe("same-origin");
        await expect
          .poll(() =>
            page.getByRole("heading", { name: "Find the commit that broke it." }).isVisible(),
          )
          .toBe(true);
        await expect
          .poll(() => page.getByText("/bisect v1.4.0 main").first().isVisible())
          .toBe(true);
        expect(
          await page.getByRole("link", { name: "Install on GitHub" }).getAttribute("href"),
        ).toBe(`${world.standIn.urls.web}/apps/bisect-bot/installations/new`);
        // Keyboard: the first Tab reaches the skip link.
        await page.keyboard.press("Tab");
        expect(await page.evaluate(() => document.activeElement?.textContent)).toBe(
          "Skip to content",
        );
        await page.screenshot({ path: `${SHOTS}/landing.png`, fullPage: true });

        await signIn(page, "alice");
        const cookies = await browser.cookies(base);
        const session = cookies.find((c) => c.name === "__Host-bb_session")!;
        expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: "Lax", path: "/" });
        await expect
          .poll(() =>
            page.getByRole("heading", { name: "acme organisation · free plan" }).isVisible(),
          )
          .toBe(true);
        await expect
          .poll(() => page.getByRole("link", { name: "acme/widgets", exact: true }).isVisible())
          .toBe(true);
        // A row per job: the four finished ones seeded for this file, and any another test added.
        const jobs = Number((await db.current.knex("bisectJobs").count({ n: "*" }))[0]!.n);
        expect(jobs).toBeGreaterThanOrEqual(4);
        expect(await page.locator("table.jobs tbody tr").count()).toBe(jobs);
        expect(await page.getByRole("link", { name: "Install on more repositories" }).count()).toBe(
          1,
        );
        await page.screenshot({ path: `${SHOTS}/dashboard.png`, fullPage: true });
        await page.setViewportSize({ width: 390, height: 844 });
        await page.screenshot({ path: `${SHOTS}/dashboard-phone.png`, fullPage: true });
        await page.setViewportSize({ width: 1200, height: 900 });

        // A running job, advanced by this test as a worker would.
        const id = await seedJob(db.current.knex, {
          commits: 64,
          status: "running",
          issueNumber: 42,
        });
        await addStep(db.current.knex, id, { commit: 32, round: 1, verdict: "bad" });
        await page.goto(`${base}/dashboard/jobs/${id}`);
        await expect
          .poll(() => page.getByText("Updating live.").isVisible(), { timeout: 10_000 })
          .toBe(true);
        expect(await page.locator("table.steps tbody tr").count()).toBe(1);
        expect(await page.getByRole("link", { name: "acme/widgets#42" }).getAttribute("href")).toBe(
          `${world.standIn.urls.web}/acme/widgets/issues/42`,
        );

        await addStep(db.current.knex, id, { commit: 16, round: 2, verdict: "good" });
        await addStep(db.current.knex, id, { commit: 24, round: 2, verdict: "bad" });
        await expect
          .poll(() => page.locator("table.steps tbody tr").count(), { timeout: 10_000 })
          .toBe(3);
        await addStep(db.current.knex, id, {
          commit: 20,
          round: 3,
          verdict: "skip",
          log: "$ npm test\nnpm ERR! could not build\n",
        });
        await addStep(db.current.knex, id, { commit: 22, round: 3 });
        await expect
          .poll(() => page.locator("table.steps tbody tr").count(), { timeout: 10_000 })
          .toBe(5);
        // The picture: a row per round plus the result, with text labels.
        await expect
          .poll(() => page.locator("svg.bisection-svg .row").count(), { timeout: 10_000 })
          .toBe(4);
        const picture = await page.locator("svg.bisection-svg").textContent();
        expect(picture).toContain(`${sha(20).slice(0, 7)} – skipped`);
        expect(picture).toContain(`${sha(32).slice(0, 7)} ✗ bad`);
        expect(picture).toContain(`${sha(16).slice(0, 7)} ✓ good`);
        await page.locator("details summary").first().click();
        await page.screenshot({ path: `${SHOTS}/job.png`, fullPage: true });

        // Other requests may run the frame's loader between the cancel and the page showing its
        // result (a live-update revalidation, a request the browser aborted and sent again): hold
        // the frame's first load after the cancel until two such requests have been answered.
        let raced = 0;
        await page.route(
          (u) =>
            u.pathname === `/dashboard/jobs/${id}.data` &&
            (u.searchParams.get("_routes") ?? "routes/dashboard")
              .split(",")
              .includes("routes/dashboard"),
          async (route) => {
            if (route.request().method() === "GET" && raced++ === 0) {
              for (const url of [route.request().url(), `${base}/dashboard/jobs/${id}.data`])
                expect((await page.request.get(url)).status()).toBe(200);
            }
            await route.continue();
          },
        );
        await page.getByRole("button", { name: "Cancel job" }).click();
        await expect
          .poll(() => page.getByText(`Job #${id} is cancelled`).isVisible(), { timeout: 10_000 })
          .toBe(true);
        expect(raced).toBeGreaterThan(0);
        expect(await jobStatus(id)).toBe("cancelled");
        expect(await page.getByRole("button", { name: "Re-run" }).isVisible()).toBe(true);
        expect(await page.getByRole("button", { name: "Cancel job" }).count()).toBe(0);
        expect(problems).toEqual([]);
      } finally {
        await browser.closeAll();
      }
    },
  );

  it(
    "without JavaScript: the page refreshes itself while the job runs, and the forms still work",
    { timeout: 120_000 },
    async () => {
      const browser = await openBrowser({
        javaScriptEnabled: false,
        viewport: { width: 1000, height: 900 },
      });
      try {
        const page = browser.pages()[0] ?? (await browser.newPage());
        await signIn(page, "alice");
        const id = await seedJob(db.current.knex, { commits: 32, status: "running" });
        await page.goto(`${base}/dashboard/jobs/${id}`);
        expect(await page.getByRole("link", { name: "Refresh" }).isVisible()).toBe(true);
        expect(await page.getByText("Updating live.").count()).toBe(0);
        expect(await page.locator("table.steps").count()).toBe(0);

        await addStep(db.current.knex, id, { commit: 16, round: 1, verdict: "good" });
        // <noscript><meta http-equiv="refresh"> reloads the page every few seconds.
        await expect
          .poll(() => page.locator("table.steps tbody tr").count(), {
            timeout: 15_000,
            interval: 500,
          })
          .toBe(1);

        await page.getByRole("button", { name: "Cancel job" }).click();
        await page.waitForURL(
          (u) => u.pathname === `/dashboard/jobs/${id}` && u.searchParams.has("notice"),
        );
        expect(await page.getByText(`Job #${id} is cancelled`).isVisible()).toBe(true);
        expect(await jobStatus(id)).toBe("cancelled");

        await page.getByRole("button", { name: "Sign out" }).click();
        await page.waitForURL(`${base}/`);
        expect(await page.getByRole("link", { name: "Sign in with GitHub" }).isVisible()).toBe(
          true,
        );
        const res = await page.goto(`${base}/dashboard`);
        expect(new URL(res!.url()).pathname).toBe("/login");
      } finally {
        await browser.closeAll();
      }
    },
  );
});
