// What signing in needs, and the 503 that GitHub-facing routes answer in setup mode.
import type { Config, GitHubConfig } from "../config/env";
import { getConfig } from "./config.server";
import { parseEncryptionKey } from "../db/crypto";

export interface SignInSettings {
  github: GitHubConfig;
  sessionSecret: string;
  /** The current secret first, then the previous one during a rotation. */
  sessionSecrets: string[];
  /** Encrypts new tokens. */
  encryptionKey: Buffer;
  /** Decrypts: the current key first, then the previous one during a rotation. */
  encryptionKeys: Buffer[];
  /** NODE_ENV=production: Secure, `__Host-` cookies. */
  production: boolean;
  publicUrl: string;
}

/** Variables still needed before anyone can sign in (empty when ready). */
export function signInMissing(config: Config): string[] {
  const missing = [...config.githubMissing];
  if (!config.SESSION_SECRET) missing.push("SESSION_SECRET");
  if (!config.ENCRYPTION_KEY) missing.push("ENCRYPTION_KEY");
  return missing;
}

export function setupExplanation(missing: string[]): string {
  return (
    `Bisect Bot is in setup mode: GitHub sign-in is not configured yet. ` +
    `Set ${missing.join(", ")} (see .env.example), then restart.`
  );
}

let cached: { config: Config; settings: SignInSettings } | undefined;

/** The sign-in settings, or null in setup mode. */
export function signInSettings(config: Config = getConfig()): SignInSettings | null {
  if (cached?.config === config) return cached.settings;
  if (signInMissing(config).length > 0 || !config.github) return null;
  const settings: SignInSettings = {
    github: config.github,
    sessionSecret: config.SESSION_SECRET!,
    sessionSecrets: [
      config.SESSION_SECRET!,
      ...(config.SESSION_SECRET_PREVIOUS ? [config.SESSION_SECRET_PREVIOUS] : []),
    ],
    encryptionKey: parseEncryptionKey(config.ENCRYPTION_KEY!),
    encryptionKeys: [
      config.ENCRYPTION_KEY!,
      ...(config.ENCRYPTION_KEY_PREVIOUS ? [config.ENCRYPTION_KEY_PREVIOUS] : []),
    ].map(parseEncryptionKey),
    production: config.NODE_ENV === "production",
    publicUrl: config.publicUrl,
  };
  cached = { config, settings };
  return settings;
}

/** For GitHub-facing routes: the settings, or a thrown 503 naming what to configure. */
export function requireSignInSettings(kind: "page" | "json" = "page"): SignInSettings {
  const config = getConfig();
  const settings = signInSettings(config);
  if (settings) return settings;
  const message = setupExplanation(signInMissing(config));
  const init = {
    status: 503,
    statusText: "Service Unavailable",
    headers: { "Cache-Control": "no-store", "Retry-After": "3600" },
  };
  throw kind === "json"
    ? Response.json({ error: "setup_mode", message }, init)
    : new Response(message, {
        ...init,
        headers: { ...init.headers, "Content-Type": "text/plain; charset=utf-8" },
      });
}
