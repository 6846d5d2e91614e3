// One-click registration in a real browser: the setup-mode start page posts the app manifest to
// the GitHub stand-in, comes back with a code, exchanges it, shows the credentials and writes
// them where `npm start` reads them — after which the configuration is out of setup mode.
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseEnv } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { freePort } from "../../db/embedded";
import { startGitHubStandIn, type StandIn } from "../github-stand-in/server";
import { useTestDatabase } from "../helpers/database";
import { buildIfStale, haveChromium, openBrowser, startWebServer, type WebServer } from "./support";

const db = useTestDatabase();
const present = haveChromium();
let standIn: StandIn;
let server: WebServer;
let base: string;
let dataDir: string;
const secrets = { SESSION_SECRET: "r".repeat(40), ENCRYPTION_KEY: "cd".repeat(32) };

beforeAll(async () => {
  if (!present) return;
  buildIfStale();
  standIn = await startGitHubStandIn({});
  dataDir = mkdtempSync(path.join(tmpdir(), "bisect-register-"));
  chmodSync(dataDir, 0o755);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = await startWebServer(
    {
      NODE_ENV: "production",
      DATABASE_URL: db.current.url,
      PUBLIC_URL: base,
      DATA_DIR: dataDir,
      GITHUB_URL: standIn.urls.web,
      GITHUB_API_URL: standIn.urls.api,
      ...secrets,
    },
    port,
  );
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await standIn?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe.skipIf(!present)("registering the GitHub App from the start page", () => {
  it(
    "creates the app from its manifest, shows the credentials once and writes them for npm start",
    { timeout: 120_000 },
    async () => {
      const browser = await openBrowser({ viewport: { width: 1200, height: 900 } });
      try {
        const page = browser.pages()[0] ?? (await browser.newPage());
        await page.goto(`${base}/`);
        await page.getByRole("button", { name: "Register the GitHub App" }).click();
        await page.waitForURL((url) => url.pathname === "/register-app");
        await expect
          .poll(() => page.getByRole("heading", { name: /GitHub App .* registered/ }).isVisible())
          .toBe(true);
        await page.screenshot({ path: "test-results/register-app.png", fullPage: true });

        // What GitHub was asked to create.
        const posted = standIn.requests({ path: "/settings/apps/new" }).at(-1)!;
        const manifest = JSON.parse((posted.body as { manifest: string }).manifest);
        expect(manifest).toMatchObject({
          url: base,
          hook_attributes: { url: `${base}/webhook`, active: true },
          redirect_url: `${base}/register-app`,
          callback_urls: [`${base}/auth/callback`, `${base}/auth/github/callback`],
          setup_url: `${base}/setup`,
          default_permissions: {
            issues: "write",
            contents: "read",
            metadata: "read",
            pull_requests: "read",
            checks: "read",
          },
          default_events: ["issue_comment", "check_run"],
        });
        expect(standIn.requests({ path: /\/app-manifests\/.+\/conversions/ }).length).toBe(1);

        // The file npm start reads makes a complete GitHub configuration.
        const written = parseEnv(readFileSync(path.join(dataDir, "github-app.env"), "utf8"));
        const config = loadConfig({ ...written, ...secrets });
        expect(config.github).not.toBeNull();
        expect(config.github!.privateKey).toMatch(/^-----BEGIN (RSA )?PRIVATE KEY-----\n/);
        expect(await page.getByText(written.GITHUB_CLIENT_SECRET!).first().isVisible()).toBe(true);

        // The code works once: reloading the page does not register again.
        const again = await page.reload();
        expect(again!.status()).toBe(502);
      } finally {
        await browser.close();
      }
    },
  );

  it("offers the button only to a browser on this machine, and refuses a forged return", async () => {
    const forged = await fetch(`${base}/register-app?code=abc&state=1.2.3`);
    expect(forged.status).toBe(400);
    const fromAfar = await fetch(`${base}/register-app?code=abc&state=1.2.3`, {
      headers: { "X-Forwarded-For": "203.0.113.7" },
    });
    expect(fromAfar.status).toBe(403);
    const page = await (
      await fetch(`${base}/`, { headers: { "X-Forwarded-For": "203.0.113.7" } })
    ).text();
    expect(page).toContain("Setup mode");
    expect(page).not.toContain("Register the GitHub App");
  });
});
