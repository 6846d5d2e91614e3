// Browser-test support: build the web app when its sources are newer than the build, start the
// real web server (server/web.ts) on a free port, and launch Debian's Chromium.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type BrowserContextOptions } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** Chromium present? With CI=true a missing browser is a failure, never a skip. */
export function haveChromium(): boolean {
  const present = existsSync(CHROMIUM);
  if (!present && process.env.CI === "true")
    throw new Error(`${CHROMIUM} is missing: browser tests cannot run (apt-get install chromium)`);
  if (!present)
    console.warn(`${CHROMIUM} is missing: skipping the browser tests (they fail when CI=true)`);
  return present;
}

export { buildIfStale } from "../../scripts/lib/build";

export interface WebServer {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `node --import tsx server/web.ts` with `env` and waits until `/` answers. */
export async function startWebServer(
  env: Record<string, string>,
  port: number,
  host = "127.0.0.1",
): Promise<WebServer> {
  const childEnv: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...env,
    PORT: String(port),
    HOST: host,
    LOG_LEVEL: env.LOG_LEVEL ?? "warn",
  };
  const child = spawn(process.execPath, ["--import", "tsx", "server/web.ts"], {
    env: childEnv as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://${host}:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the web server exited (${child.exitCode}):\n${output}`);
    const ok = await fetch(`${url}/favicon.svg`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the web server did not start in 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A browser context on a fresh profile directory (removed on close). */
export async function openBrowser(
  options: BrowserContextOptions = {},
): Promise<BrowserContext & { closeAll(): Promise<void> }> {
  const profile = mkdtempSync(path.join(tmpdir(), "bisect-e2e-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    ...options,
  });
  return Object.assign(context, {
    closeAll: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  });
}
