// Development and first runs: a session secret and an encryption key are made once and kept
// under DATA_DIR, so sessions and encrypted tokens survive restarts. Production must set them.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export function ensureDevSecrets(env: Record<string, string | undefined>): void {
  if (env.SESSION_SECRET && env.ENCRYPTION_KEY) return;
  const dir = env.DATA_DIR || ".data";
  const file = path.join(dir, "dev-secrets.json");
  let secrets: { sessionSecret: string; encryptionKey: string };
  if (existsSync(file)) {
    secrets = JSON.parse(readFileSync(file, "utf8"));
  } else {
    secrets = { sessionSecret: randomBytes(32).toString("hex"), encryptionKey: randomBytes(32).toString("base64") };
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  }
  env.SESSION_SECRET ||= secrets.sessionSecret;
  env.ENCRYPTION_KEY ||= secrets.encryptionKey;
}
