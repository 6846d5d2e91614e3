// Development and first runs: a session secret and an encryption key are made once and kept
// under DATA_DIR, so sessions and encrypted tokens survive restarts. Production must set them.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ALIASES } from "../../config/env";

/** Set directly, from a file (`<NAME>_FILE`) or under another name (config/env.ts ALIASES). */
function isSet(env: Record<string, string | undefined>, name: string): boolean {
  const aliases = Object.entries(ALIASES)
    .filter(([, target]) => target === name)
    .map(([alias]) => alias);
  return [name, `${name}_FILE`, ...aliases].some((n) => Boolean(env[n]?.trim()));
}

export function ensureDevSecrets(env: Record<string, string | undefined>): void {
  const needSession = !isSet(env, "SESSION_SECRET");
  const needKey = !isSet(env, "ENCRYPTION_KEY");
  if (!needSession && !needKey) return;
  const dir = env.DATA_DIR || ".data";
  const file = path.join(dir, "dev-secrets.json");
  let secrets: { sessionSecret: string; encryptionKey: string };
  if (existsSync(file)) {
    secrets = JSON.parse(readFileSync(file, "utf8"));
  } else {
    secrets = {
      sessionSecret: randomBytes(32).toString("hex"),
      encryptionKey: randomBytes(32).toString("base64"),
    };
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  }
  if (needSession) env.SESSION_SECRET = secrets.sessionSecret;
  if (needKey) env.ENCRYPTION_KEY = secrets.encryptionKey;
}
