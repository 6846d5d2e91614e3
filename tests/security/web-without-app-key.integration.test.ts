// The web process runs without the GitHub App's private key (only the worker acts as the App):
// in production, with every other GitHub setting, it starts, is not in setup mode, and takes
// signed deliveries. The worker's configuration still needs the key.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../config/env";
import { startWebServer, type WebServer } from "../e2e/support";
import { makeAppKey } from "../github-stand-in/server";
import { webhookHeaders } from "../github-stand-in/webhook";
import { useTestDatabase } from "../helpers/database";
import { onFreePort } from "../helpers/ports";

const db = useTestDatabase();
const secret = randomBytes(24).toString("hex");
const settings = () => ({
  NODE_ENV: "production",
  DATABASE_URL: db.current.url,
  PUBLIC_URL: "https://bisect.example.com",
  SESSION_SECRET: randomBytes(32).toString("hex"),
  ENCRYPTION_KEY: randomBytes(32).toString("base64"),
  GITHUB_APP_ID: "4242",
  GITHUB_APP_SLUG: "bisect-bot-web-test",
  GITHUB_WEBHOOK_SECRET: secret,
  GITHUB_CLIENT_ID: "Iv1.webtest",
  GITHUB_CLIENT_SECRET: randomBytes(20).toString("hex"),
  GITHUB_API_URL: "http://127.0.0.1:9/api/v3",
  GITHUB_URL: "http://127.0.0.1:9",
});

describe("the web process without the App's private key", () => {
  let web: WebServer;
  let url: string;
  beforeAll(async () => {
    web = await onFreePort((port) => {
      url = `http://127.0.0.1:${port}`;
      return startWebServer(settings(), port);
    });
  });
  afterAll(async () => {
    await web?.stop();
  });

  it("starts configured (not in setup mode) and takes a signed delivery", async () => {
    const body = JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 1 });
    const response = await fetch(`${url}/webhook`, {
      method: "POST",
      headers: webhookHeaders("ping", randomBytes(8).toString("hex"), body, secret),
      body,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "pong" });
  });

  it("while the worker's configuration still requires the key", () => {
    const env = settings();
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(/partly configured, missing GITHUB_APP_PRIVATE_KEY/);
    const worker = loadConfig({ ...env, GITHUB_APP_PRIVATE_KEY: makeAppKey() });
    expect(worker.github?.privateKey).toMatch(/BEGIN (RSA )?PRIVATE KEY/);
    expect(loadConfig(env, undefined, { process: "web" }).github).toMatchObject({
      privateKey: null,
      appId: 4242,
    });
  });
});
