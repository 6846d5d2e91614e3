// In a real browser: the start page's example answer, and a job page with a long step log whose
// expanded log stays inside the steps table and the page (it scrolls within itself), on a desktop
// and a phone width. Screenshots go to test-results/.
import { mkdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../db/embedded";
import { addStep, seedInstallations, seedJob, startWorld, type World } from "../dashboard/world";
import { useTestDatabase } from "../helpers/database";
import { buildIfStale, haveChromium, openBrowser, startWebServer, type WebServer } from "./support";

const SHOTS = "test-results";
const db = useTestDatabase();
let world: World;
let server: WebServer;
let base: string;
let jobId: number;
const present = haveChromium();

const LONG_LOG =
  "$ npm test\n" +
  Array.from(
    { length: 80 },
    (_, i) => `  ✓ case ${i} parses dates in a long-winded way (${i * 3} ms)`,
  ).join("\n") +
  "\nError: " +
  "x".repeat(600) +
  "\n    at /work/src/some/really/deeply/nested/module/path/that/goes/on/and/on/parse-dates-with-timezones.ts:123:45\n" +
  "not ok 3 parses dates\n";

beforeAll(async () => {
  if (!present) return;
  buildIfStale();
  mkdirSync(SHOTS, { recursive: true });
  const port = await freePort();
  base = `http://localhost:${port}`;
  world = await startWorld(base);
  await seedInstallations(db.current.knex);
  jobId = await seedJob(db.current.knex, { status: "finished", outcome: "found", culprit: 5 });
  await addStep(db.current.knex, jobId, { commit: 5, round: 1, verdict: "bad", log: LONG_LOG });
  await addStep(db.current.knex, jobId, { commit: 4, round: 2, verdict: "good" });
  server = await startWebServer(
    { ...world.env, NODE_ENV: "production", DATABASE_URL: db.current.url },
    port,
    "localhost",
  );
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await world?.standIn.close();
});

describe.skipIf(!present)("start page", () => {
  it("shows the example answer as the real renderer writes it", { timeout: 60_000 }, async () => {
    const browser = await openBrowser({ viewport: { width: 1200, height: 900 } });
    try {
      const page = browser.pages()[0] ?? (await browser.newPage());
      await page.goto(`${base}/`);
      const heading = page.getByRole("heading", {
        name: "🎯 Bisection 128 found the first bad commit",
      });
      await expect.poll(() => heading.isVisible()).toBe(true);
      expect(await page.getByText("Tested commits (10)").isVisible()).toBe(true);
      await page.screenshot({ path: `${SHOTS}/landing.png`, fullPage: true });
    } finally {
      await browser.close();
    }
  });
});

describe.skipIf(!present)("setup mode", () => {
  it("lists what to configure on the start page", { timeout: 90_000 }, async () => {
    const port = await freePort();
    const setup = await startWebServer(
      {
        NODE_ENV: "production",
        DATABASE_URL: db.current.url,
        PUBLIC_URL: `http://localhost:${port}`,
        SESSION_SECRET: "s".repeat(40),
        ENCRYPTION_KEY: "ab".repeat(32),
      },
      port,
      "localhost",
    );
    const browser = await openBrowser({ viewport: { width: 1200, height: 900 } });
    try {
      const page = browser.pages()[0] ?? (await browser.newPage());
      await page.goto(`http://localhost:${port}/`);
      const heading = page.getByRole("heading", {
        name: "Setup mode: GitHub is not configured yet",
      });
      await expect.poll(() => heading.isVisible()).toBe(true);
      expect(await page.getByText("GITHUB_APP_ID", { exact: true }).isVisible()).toBe(true);
      expect(await page.getByText(`http://localhost:${port}/auth/callback`).isVisible()).toBe(true);
      await page.screenshot({ path: `${SHOTS}/setup-mode.png`, fullPage: true });
    } finally {
      await browser.close();
      await setup.stop();
    }
  });
});

describe.skipIf(!present)("job page with a long log", () => {
  it.each([
    ["desktop", 1200],
    ["phone", 390],
  ] as const)(
    "keeps the expanded log inside the page (%s)",
    { timeout: 120_000 },
    async (name, width) => {
      const browser = await openBrowser({ viewport: { width, height: 900 } });
      try {
        const page = browser.pages()[0] ?? (await browser.newPage());
        world.standIn.setOAuthUser("alice");
        await page.goto(`${base}/`);
        await page.getByRole("link", { name: "Sign in with GitHub" }).click();
        await page.waitForURL(`${base}/dashboard`);
        await page.goto(`${base}/dashboard/jobs/${jobId}`);
        await page.locator("details summary", { hasText: "Log" }).first().click();
        const log = page.locator("pre.log").first();
        await expect.poll(() => log.isVisible()).toBe(true);
        const sizes = await page.evaluate(() => {
          const pre = document.querySelector("pre.log")!;
          const table = pre.closest("table")!;
          const container = table.parentElement!;
          return {
            page: document.documentElement.scrollWidth,
            viewport: document.documentElement.clientWidth,
            table: table.getBoundingClientRect().right,
            container: container.getBoundingClientRect().right,
            preRight: pre.getBoundingClientRect().right,
          };
        });
        await page.screenshot({ path: `${SHOTS}/job-long-log-${name}.png`, fullPage: true });
        expect(sizes.page, JSON.stringify(sizes)).toBeLessThanOrEqual(sizes.viewport);
        // The log stays inside its table; on a desktop the table stays inside its frame (on a
        // phone the frame scrolls sideways, the page does not).
        expect(sizes.preRight, JSON.stringify(sizes)).toBeLessThanOrEqual(sizes.table + 0.5);
        if (name === "desktop")
          expect(sizes.table, JSON.stringify(sizes)).toBeLessThanOrEqual(sizes.container + 0.5);
      } finally {
        await browser.close();
      }
    },
  );
});
