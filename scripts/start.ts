// `npm start` (and `npm run dev` with --dev): validate the configuration, start an embedded
// PostgreSQL when DATABASE_URL is unset, migrate, build if needed, then run web + worker.
// Ctrl-C / SIGTERM stops everything, PostgreSQL last.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  ConfigError,
  directDatabaseUrl,
  loadConfig,
  partialGitHubNotice,
  type Config,
} from "../config/env";
import { createLogger } from "../config/log";
import { createKnex } from "../db/connection";
import { spawnEmbeddedPostgres, type EmbeddedProcess } from "../db/embedded-process";
import { migrateLatest } from "../db/migrate";
import { buildIfStale } from "./lib/build";
import { ensureDevSecrets } from "./lib/dev-secrets";

const dev = process.argv.includes("--dev");
const logger = createLogger("start");
const log = (message: string) => logger.info(message);

async function main(): Promise<number> {
  if (existsSync(".env")) process.loadEnvFile(".env");
  // The GitHub App registered from the start page (app/app-manifest.server.ts); .env wins.
  const appEnv = path.join(process.env.DATA_DIR || ".data", "github-app.env");
  if (existsSync(appEnv)) process.loadEnvFile(appEnv);
  // Deployments set NODE_ENV=production (and every secret); anything else is a local instance.
  if (process.env.NODE_ENV !== "production") ensureDevSecrets(process.env);

  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : String(error));
    return 1;
  }
  const partial = partialGitHubNotice(config);
  if (partial) logger.warn(partial);

  let embedded: EmbeddedProcess | null = null;
  const children: ChildProcess[] = [];
  let stopping = false;
  let exitCode = 0;

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGTERM");
          }),
      ),
    );
    await embedded?.stop();
    if (embedded) rmSync(path.join(config.DATA_DIR, "database-url"), { force: true });
    process.exit(exitCode);
  };
  process.once("SIGINT", () => void stopAll(0));
  process.once("SIGTERM", () => void stopAll(0));

  try {
    if (!config.DATABASE_URL) {
      log(`DATABASE_URL is unset: starting the embedded PostgreSQL in ${config.DATA_DIR}/postgres`);
      embedded = await spawnEmbeddedPostgres(path.join(config.DATA_DIR, "postgres"), {
        port: Number(process.env.EMBEDDED_PG_PORT) || undefined,
      });
      process.env.DATABASE_URL = embedded.url;
      // For `npm run bisect -- --farm` and `npm run admin` in another terminal.
      writeFileSync(path.join(config.DATA_DIR, "database-url"), `${embedded.url}\n`, {
        mode: 0o600,
      });
      config = loadConfig();
    }
    const direct = directDatabaseUrl(config)!;
    const knex = createKnex(direct, { poolMax: 1 });
    try {
      const applied = await migrateLatest(knex, direct);
      log(applied.length ? `migrated: ${applied.join(", ")}` : "database schema is up to date");
    } finally {
      await knex.destroy();
    }
    buildIfStale(log);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    await stopAll(1);
    return 1;
  }

  // A child that dies (a crash, a lost database) is started again with a growing pause; a child
  // that keeps dying within seconds of every start stops everything with a message.
  const run = (name: string, args: string[], failures = 0) => {
    const started = Date.now();
    const child = spawn(process.execPath, args, { stdio: "inherit", env: process.env });
    children.push(child);
    child.once("exit", (code, signal) => {
      children.splice(children.indexOf(child), 1);
      if (stopping) return;
      const quick = Date.now() - started < 10_000;
      const attempt = quick ? failures + 1 : 1;
      if (attempt > 8) {
        logger.error(`${name} keeps exiting (${signal ?? code}); stopping everything`);
        void stopAll(code || 1);
        return;
      }
      const pause = Math.min(30_000, 500 * 2 ** attempt);
      logger.warn(`${name} exited (${signal ?? code}); starting it again in ${pause / 1000} s`);
      setTimeout(() => !stopping && run(name, args, attempt), pause);
    });
  };
  if (dev) run("remix watch", ["node_modules/@remix-run/dev/dist/cli.js", "watch"]);
  run("web", ["--import", "tsx", "server/web.ts"]);
  run("worker", ["--import", "tsx", "jobs/worker.ts"]);
  const web = config.WEB_PROCESSES > 1 ? `${config.WEB_PROCESSES} web processes` : "web";
  log(`Bisect Bot is starting on ${config.publicUrl} (${web} + worker); Ctrl-C stops it`);
  return new Promise<number>(() => {});
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
