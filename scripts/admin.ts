// npm run -s admin -- [--json] [--timeout SECONDS] <command> [arguments]   (`help` lists them)
//
// Every command runs as an `admin__run` job on a worker of the product: this script writes the
// admin_runs row and its job in one transaction, waits for the worker to record the outcome, and
// prints it. Exit status: 0 done, 1 failed (the reason on stderr), 2 usage error, 130 interrupted.
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { ConfigError, loadConfig } from "../config/env";
import { createKnex } from "../db/connection";
import { assertWorkerAlive, NoWorkerError, requestRun, waitForRun } from "../jobs/admin/client";
import { formatResult } from "../jobs/admin/format";
import { parseAdminArgs } from "../jobs/admin/parse";

const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

const out = (text: string) =>
  text && process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
const err = (text: string) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);

/** The product's database: DATABASE_DIRECT_URL or DATABASE_URL, else the embedded one a running `npm start` wrote down. */
function databaseUrl(config: {
  DATABASE_URL?: string;
  DATABASE_DIRECT_URL?: string;
  DATA_DIR: string;
}): string | null {
  if (config.DATABASE_DIRECT_URL ?? config.DATABASE_URL)
    return (config.DATABASE_DIRECT_URL ?? config.DATABASE_URL)!;
  const file = path.join(config.DATA_DIR, "database-url");
  return existsSync(file) ? readFileSync(file, "utf8").trim() || null : null;
}

/** host:port/database of a PostgreSQL URL, without credentials. */
function describeDatabase(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "the configured URL";
  }
}

function requester(): string {
  let user = process.env.USER ?? "unknown";
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry (some containers): keep $USER
  }
  return `${user}@${os.hostname()}`;
}

async function main(argv: string[], signal: AbortSignal): Promise<number> {
  if (existsSync(".env")) process.loadEnvFile(".env");
  const parsed = parseAdminArgs(argv);
  if (parsed.kind === "help") {
    out(parsed.text);
    return EXIT.ok;
  }
  if (parsed.kind === "usage-error") {
    err(parsed.message);
    return EXIT.usage;
  }

  // Only what this script reads (also from <NAME>_FILE secrets), through the product's one schema;
  // the rest of the configuration is the worker's business.
  let config;
  try {
    const names = ["DATABASE_URL", "DATABASE_DIRECT_URL", "DATA_DIR", "WORKER_DEAD_AFTER_SECONDS"];
    config = loadConfig(
      Object.fromEntries(
        names.flatMap((n) => [
          [n, process.env[n]],
          [`${n}_FILE`, process.env[`${n}_FILE`]],
        ]),
      ),
    );
  } catch (error) {
    err(error instanceof ConfigError ? error.message : String(error));
    return EXIT.failed;
  }
  const url = databaseUrl(config);
  if (!url) {
    err(
      "admin: no database: set DATABASE_URL (or DATABASE_DIRECT_URL), or run `npm start` first so its embedded database is up",
    );
    return EXIT.failed;
  }

  const args = { ...parsed.args };
  // Directories are stored as absolute paths: the worker resolves nothing against our cwd.
  if (typeof args.tlsDir === "string") args.tlsDir = path.resolve(args.tlsDir);
  if (typeof args.dir === "string") args.dir = path.resolve(args.dir);

  // Reach the database once first, for a plain message (never the password) when it is down.
  const probe = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    application_name: "bisect-admin",
  });
  try {
    await probe.connect();
  } catch (error) {
    err(
      `admin: cannot reach the database at ${describeDatabase(url)}: ${(error as Error).message}`,
    );
    return EXIT.failed;
  } finally {
    await probe.end().catch(() => {});
  }

  const knex = createKnex(url, { poolMax: 2, applicationName: "bisect-admin" });
  try {
    await assertWorkerAlive(knex, config.WORKER_DEAD_AFTER_SECONDS);
    const runId = await requestRun(knex, parsed.command, args, requester());
    const waited = await waitForRun({
      knex,
      databaseUrl: url,
      runId,
      timeoutMs: parsed.timeoutSeconds * 1000,
      deadAfterSeconds: config.WORKER_DEAD_AFTER_SECONDS,
      signal,
    });
    if (waited.kind === "withdrawn") {
      if (parsed.json)
        out(
          JSON.stringify({
            runId,
            command: parsed.command,
            status: "failed",
            result: null,
            error: waited.reason,
          }),
        );
      err(`admin: ${parsed.command.replace(".", " ")} did not run: ${waited.reason}`);
      return signal.aborted ? EXIT.interrupted : EXIT.failed;
    }
    if (waited.kind === "still-running") {
      err(
        `admin: ${parsed.command.replace(".", " ")} is still running on a worker (admin run ${runId}); ` +
          `its outcome will be recorded in admin_runs and the audit log${waited.why === "timeout" ? " (wait longer with --timeout SECONDS)" : ""}`,
      );
      return waited.why === "interrupted" ? EXIT.interrupted : EXIT.failed;
    }
    const { run } = waited;
    if (parsed.json) {
      out(
        JSON.stringify(
          {
            runId,
            command: run.command,
            status: run.status,
            result: run.result ?? null,
            error: run.error,
          },
          null,
          2,
        ),
      );
    } else {
      out(formatResult(parsed.command, run.result));
    }
    if (run.status === "failed") {
      err(`admin: ${run.error ?? "failed"}`);
      return EXIT.failed;
    }
    return EXIT.ok;
  } catch (error) {
    err(
      error instanceof NoWorkerError
        ? `admin: ${error.message}`
        : `admin: ${(error as Error).message ?? error}`,
    );
    return EXIT.failed;
  } finally {
    await knex.destroy();
  }
}

const controller = new AbortController();
let interrupts = 0;
const onSignal = () => {
  if (++interrupts > 1) process.exit(EXIT.interrupted);
  err("\ninterrupted: withdrawing the command if no worker has taken it yet…");
  controller.abort();
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

const code = await main(process.argv.slice(2), controller.signal).catch((error: Error) => {
  err(`admin: ${error.message}`);
  return EXIT.failed;
});
// Flush stdout (it may be a pipe), then exit even if an idle socket lingers.
process.stdout.write("", () => process.exit(code));
