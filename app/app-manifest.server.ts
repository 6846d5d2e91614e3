// One-click registration (GitHub's App Manifest flow), offered in setup mode to a browser on this
// machine only: the start page posts a manifest to GITHUB_URL/settings/apps/new, GitHub sends the
// person back to /register-app with a code, and the code is exchanged for the new app's
// credentials, which are shown once and written to $DATA_DIR/github-app.env for `npm start`.
// Loopback only, because whoever completes the flow decides which app this instance trusts.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { writeFileSync, existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import type { Config } from "../config/env";

const STATE_TTL_MS = 60 * 60_000;

/** A client on this machine (IPv4/IPv6 loopback, or IPv4-mapped loopback). */
export function isLoopback(ip: string | null): boolean {
  return ip !== null && (/^127\./.test(ip) || ip === "::1" || /^::ffff:127\./.test(ip));
}

/** The app GitHub creates: the permissions, events and URLs docs/deploy.md lists. */
export function appManifest(publicUrl: string) {
  return {
    name: `Bisect Bot ${new URL(publicUrl).hostname}`.slice(0, 34),
    url: publicUrl,
    hook_attributes: { url: `${publicUrl}/webhook`, active: true },
    redirect_url: `${publicUrl}/register-app`,
    callback_urls: [`${publicUrl}/auth/callback`, `${publicUrl}/auth/github/callback`],
    setup_url: `${publicUrl}/setup`,
    setup_on_update: false,
    request_oauth_on_install: false,
    public: false,
    default_permissions: {
      issues: "write",
      contents: "read",
      metadata: "read",
      pull_requests: "read",
      // Automatic bisection: reading a check's results on the default branch.
      checks: "read",
    },
    default_events: ["issue_comment", "check_run"],
  };
}

/** The state: a timestamp and a random part, signed, so the callback knows it came from here. */
function sign(secret: string, body: string): string {
  return createHmac("sha256", secret).update(`app-manifest:${body}`).digest("base64url");
}

export function newState(secret: string, now = Date.now()): string {
  const body = `${now}.${randomBytes(12).toString("base64url")}`;
  return `${body}.${sign(secret, body)}`;
}

export function stateValid(secret: string, state: string | null, now = Date.now()): boolean {
  const parts = state?.split(".") ?? [];
  if (parts.length !== 3) return false;
  const body = `${parts[0]}.${parts[1]}`;
  const expected = Buffer.from(sign(secret, body));
  const given = Buffer.from(parts[2]!);
  const age = now - Number(parts[0]);
  return (
    expected.length === given.length &&
    timingSafeEqual(expected, given) &&
    age >= 0 &&
    age < STATE_TTL_MS
  );
}

export interface RegisteredApp {
  id: number;
  slug: string;
  htmlUrl: string;
  clientId: string;
  clientSecret: string;
  webhookSecret: string;
  pem: string;
}

/** POST /app-manifests/{code}/conversions: the new app's credentials (the code works once). */
export async function convertManifestCode(apiUrl: string, code: string): Promise<RegisteredApp> {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(code)) throw new Error("GitHub sent back an invalid code");
  const res = await fetch(`${apiUrl}/app-manifests/${code}/conversions`, {
    method: "POST",
    headers: { Accept: "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28" },
    signal: AbortSignal.timeout(15_000),
  });
  if (res.status !== 201)
    throw new Error(`GitHub refused the code (HTTP ${res.status}); start again`);
  const a = (await res.json()) as Record<string, unknown>;
  return {
    id: Number(a.id),
    slug: String(a.slug),
    htmlUrl: String(a.html_url),
    clientId: String(a.client_id),
    clientSecret: String(a.client_secret),
    webhookSecret: String(a.webhook_secret),
    pem: String(a.pem),
  };
}

/** The variables for `npm start`, as an env file (the key with `\n` escapes, which config/env.ts reads). */
export function envFileFor(app: RegisteredApp): string {
  return [
    "# Written by Bisect Bot's app registration; `npm start` reads this file after .env.",
    `GITHUB_APP_ID=${app.id}`,
    `GITHUB_APP_SLUG=${app.slug}`,
    `GITHUB_APP_PRIVATE_KEY="${app.pem.trim().replace(/\r?\n/g, "\\n")}"`,
    `GITHUB_WEBHOOK_SECRET=${app.webhookSecret}`,
    `GITHUB_CLIENT_ID=${app.clientId}`,
    `GITHUB_CLIENT_SECRET=${app.clientSecret}`,
    "",
  ].join("\n");
}

/** Where the credentials go; never over an existing file (an earlier registration's). */
export function writeAppEnv(config: Pick<Config, "DATA_DIR">, app: RegisteredApp): string {
  mkdirSync(config.DATA_DIR, { recursive: true });
  let file = path.resolve(config.DATA_DIR, "github-app.env");
  if (existsSync(file)) file = path.resolve(config.DATA_DIR, `github-app-${app.id}.env`);
  writeFileSync(file, envFileFor(app), { mode: 0o600, flag: "wx" });
  return file;
}
