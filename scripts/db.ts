// npm run db:migrate | db:rollback [--all] | db:status — against DATABASE_DIRECT_URL or DATABASE_URL;
// when both are unset, against the embedded database `npm start` uses (running or not).
// With DATABASE_WEB_ROLE set, migrate also creates or updates the web process's own role
// (db/web-role.ts), its password DATABASE_WEB_PASSWORD or the one in DATABASE_WEB_URL.
import { existsSync } from "node:fs";
import { ConfigError, directDatabaseUrl, loadConfig, type Config } from "../config/env";
import { createKnex } from "../db/connection";
import { withEmbeddedDatabase } from "../db/embedded-url";
import { migrateLatest, migrationStatus, rollbackAll, rollbackLast } from "../db/migrate";
import { ensureWebRole } from "../db/web-role";

interface WebRole {
  role: string;
  password: string;
}

async function run(
  command: string | undefined,
  flag: string | undefined,
  url: string,
  webRole: WebRole | null = null,
): Promise<number> {
  const knex = createKnex(url, { poolMax: 1 });
  try {
    switch (command) {
      case "migrate": {
        const applied = await migrateLatest(knex, url);
        console.log(applied.length ? `applied: ${applied.join(", ")}` : "already up to date");
        if (webRole) {
          await ensureWebRole(knex, webRole.role, webRole.password);
          console.log(`web role ${webRole.role}: grants set`);
        }
        return 0;
      }
      case "rollback": {
        const undone = flag === "--all" ? await rollbackAll(knex) : await rollbackLast(knex);
        console.log(undone.length ? `rolled back: ${undone.join(", ")}` : "nothing to roll back");
        return 0;
      }
      case "status": {
        const { done, pending } = await migrationStatus(knex);
        for (const name of done) console.log(`  applied  ${name}`);
        for (const name of pending) console.log(`  pending  ${name}`);
        return 0;
      }
      default:
        return 2;
    }
  } finally {
    await knex.destroy();
  }
}

/** The password in the web's URL, when that URL signs in as the role. */
function urlPassword(url: string | undefined, role: string): string | undefined {
  if (!url) return undefined;
  const u = new URL(url);
  return decodeURIComponent(u.username) === role && u.password
    ? decodeURIComponent(u.password)
    : undefined;
}

async function main(): Promise<number> {
  if (existsSync(".env")) process.loadEnvFile(".env");
  const [command, flag] = process.argv.slice(2);
  if (!["migrate", "rollback", "status"].includes(command ?? "")) {
    console.error("usage: tsx scripts/db.ts migrate | rollback [--all] | status");
    return 2;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : error);
    return 1;
  }
  let webRole: WebRole | null = null;
  if (config.DATABASE_WEB_ROLE) {
    const password =
      config.DATABASE_WEB_PASSWORD ??
      urlPassword(config.DATABASE_WEB_URL, config.DATABASE_WEB_ROLE);
    if (!password) {
      console.error(
        "DATABASE_WEB_ROLE is set: set DATABASE_WEB_PASSWORD, or DATABASE_WEB_URL with that role's password",
      );
      return 1;
    }
    webRole = { role: config.DATABASE_WEB_ROLE, password };
  }
  const url = directDatabaseUrl(config);
  if (url) return run(command, flag, url, webRole);
  // DATABASE_URL unset: the embedded database `npm start` uses, running or not.
  return withEmbeddedDatabase(
    config.DATA_DIR,
    (embeddedUrl) => run(command, flag, embeddedUrl, webRole),
    (m) => console.error(m),
  );
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
