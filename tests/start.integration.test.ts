// The newcomer's command: `npm start` with no environment runs the whole product on an embedded
// PostgreSQL, and Ctrl-C leaves nothing behind.
import { spawn, execFileSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "../db/embedded";

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    NODE_ENV: "development",
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...extra,
  };
  return env;
}

function processesMentioning(text: string): string[] {
  return execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(text) && !line.includes("ps -eo"));
}

describe("npm start", () => {
  it(
    "serves / and /health (503 until a runner host answers) on an embedded PostgreSQL, and Ctrl-C stops everything",
    { timeout: 120_000 },
    async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), "bisect-start-"));
      chmodSync(dataDir, 0o755);
      const port = await freePort();
      const child = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], {
        env: cleanEnv({ PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: "warn" }),
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout!.on("data", (d) => (output += d));
      child.stderr!.on("data", (d) => (output += d));
      const exited = new Promise<number | null>((resolve) =>
        child.once("exit", (code) => resolve(code)),
      );
      try {
        // No Docker engine is configured here, so no runner host answers: the documented 503,
        // with the database and the worker up.
        const healthOf = async () =>
          (await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))
            ?.json()
            .catch(() => null);
        await expect
          .poll(async () => (await healthOf())?.worker, { timeout: 90_000, interval: 500 })
          .toBe("ok");
        const response = await fetch(`http://127.0.0.1:${port}/health`);
        expect(response.status).toBe(503);
        expect(await response.json()).toMatchObject({
          database: "ok",
          worker: "ok",
          docker_available: false,
        });
        const home = await fetch(`http://127.0.0.1:${port}/`);
        expect(home.status).toBe(200);
        const html = await home.text();
        expect(html).toContain("Find the commit that broke it");
        expect(html).toContain("Setup mode");
        expect(processesMentioning(dataDir).some((l) => l.includes("postgres"))).toBe(true);
      } finally {
        // What a terminal does on Ctrl-C: SIGINT to the whole foreground process group.
        process.kill(-child.pid!, "SIGINT");
      }
      expect(await exited, output).toBe(0);
      await expect.poll(() => processesMentioning(dataDir), { timeout: 10_000 }).toEqual([]);
    },
  );

  it(
    "starts out of setup mode with the deployment guide's variable names and a hex key",
    { timeout: 120_000 },
    async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), "bisect-start-guide-"));
      chmodSync(dataDir, 0o755);
      const keyPath = path.join(dataDir, "app.pem");
      writeFileSync(
        keyPath,
        generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
          type: "pkcs1",
          format: "pem",
        }),
      );
      const port = await freePort();
      const child = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], {
        env: cleanEnv({
          PORT: String(port),
          DATA_DIR: dataDir,
          LOG_LEVEL: "warn",
          // The guide's spelling of PUBLIC_URL, SESSION_SECRET, GITHUB_APP_PRIVATE_KEY_PATH,
          // RUNNER_IMAGE and RUNNER_STEP_TIMEOUT_SECONDS, and its `openssl rand -hex 32` key.
          BASE_URL: `http://127.0.0.1:${port}`,
          SECRET_KEY: randomBytes(32).toString("hex"),
          ENCRYPTION_KEY: randomBytes(32).toString("hex"),
          GITHUB_PRIVATE_KEY_PATH: keyPath,
          DOCKER_RUNNER_IMAGE: "bisect-runner:latest",
          BISECT_TIMEOUT_SECONDS: "900",
          GITHUB_APP_ID: "4242",
          GITHUB_APP_SLUG: "guide-bisect",
          GITHUB_WEBHOOK_SECRET: randomBytes(32).toString("hex"),
          GITHUB_CLIENT_ID: "Iv1.guide",
          GITHUB_CLIENT_SECRET: randomBytes(20).toString("hex"),
          GITHUB_URL: "http://127.0.0.1:9",
          GITHUB_API_URL: "http://127.0.0.1:9",
        }),
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout!.on("data", (d) => (output += d));
      child.stderr!.on("data", (d) => (output += d));
      const exited = new Promise<number | null>((resolve) =>
        child.once("exit", (code) => resolve(code)),
      );
      try {
        await expect
          .poll(async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => null))?.status, {
            timeout: 90_000,
            interval: 500,
          })
          .toBe(200);
        const html = await (await fetch(`http://127.0.0.1:${port}/`)).text();
        expect(html).not.toContain("Setup mode");
        expect(html).toContain("Sign in with GitHub");
        // Sign-in is configured: /login answers instead of the setup-mode 503.
        expect((await fetch(`http://127.0.0.1:${port}/login`)).status).toBe(200);
      } finally {
        process.kill(-child.pid!, "SIGINT");
      }
      expect(await exited, output).toBe(0);
    },
  );

  it(
    "says in one line what a partly configured GitHub App is missing",
    { timeout: 120_000 },
    async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), "bisect-start-partial-"));
      chmodSync(dataDir, 0o755);
      const child = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], {
        env: cleanEnv({
          PORT: String(await freePort()),
          DATA_DIR: dataDir,
          LOG_LEVEL: "info",
          GITHUB_APP_ID: "77",
          GITHUB_CLIENT_ID: "Iv1.partial",
        }),
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout!.on("data", (d) => (output += d));
      child.stderr!.on("data", (d) => (output += d));
      const exited = new Promise<number | null>((resolve) =>
        child.once("exit", (code) => resolve(code)),
      );
      try {
        await expect
          .poll(() => output, { timeout: 90_000, interval: 200 })
          .toContain("Bisect Bot is starting");
      } finally {
        process.kill(-child.pid!, "SIGINT");
      }
      expect(await exited, output).toBe(0);
      const lines = output.split("\n").filter((l) => l.includes("partly configured"));
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({
        level: "warn",
        message: expect.stringContaining(
          "missing GITHUB_APP_SLUG, GITHUB_APP_PRIVATE_KEY, GITHUB_WEBHOOK_SECRET, GITHUB_CLIENT_SECRET",
        ),
      });
    },
  );

  it("refuses to start with an invalid variable, naming it", { timeout: 60_000 }, async () => {
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], {
        env: cleanEnv({ DATABASE_URL: "not-a-url", GITHUB_APP_ID: "abc" }),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let text = "";
      child.stdout!.on("data", (d) => (text += d));
      child.stderr!.on("data", (d) => (text += d));
      child.once("exit", (code) => resolve({ code, text }));
    });
    expect(out.code).not.toBe(0);
    expect(out.text).toContain("DATABASE_URL: must be a postgres");
    expect(out.text).toContain("GITHUB_APP_ID: must be a positive whole number");
    expect(out.text).not.toContain("not-a-url");
  });
});
