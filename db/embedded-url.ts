// Finding the embedded PostgreSQL from another command (db:migrate, db:status, db:rollback) when
// DATABASE_URL is unset: the one a running `npm start` wrote down in $DATA_DIR/database-url, or,
// when none runs, the same data directory ($DATA_DIR/postgres) started just for the command.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { spawnEmbeddedPostgres } from "./embedded-process";

/** Where `npm start` keeps the embedded database and writes its URL while it runs. */
export function embeddedPaths(dataDir: string): { dataDir: string; urlFile: string } {
  return { dataDir: path.join(dataDir, "postgres"), urlFile: path.join(dataDir, "database-url") };
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The URL a running `npm start` wrote down, when that server answers (a crash can leave the file). */
export async function runningEmbeddedUrl(dataDir: string): Promise<string | null> {
  const { urlFile } = embeddedPaths(dataDir);
  if (!existsSync(urlFile)) return null;
  const url = readFileSync(urlFile, "utf8").trim();
  return url && (await answers(url)) ? url : null;
}

/**
 * Runs `use` against the embedded database: the running one, else one started for the call and
 * stopped after it. `log` says which.
 */
export async function withEmbeddedDatabase<T>(
  dataDir: string,
  use: (url: string) => Promise<T>,
  log: (message: string) => void = () => {},
): Promise<T> {
  const running = await runningEmbeddedUrl(dataDir);
  if (running) {
    log(`using the embedded PostgreSQL of the running npm start (${dataDir})`);
    return use(running);
  }
  const paths = embeddedPaths(dataDir);
  log(`starting the embedded PostgreSQL in ${paths.dataDir} for this command`);
  const embedded = await spawnEmbeddedPostgres(paths.dataDir);
  try {
    return await use(embedded.url);
  } finally {
    await embedded.stop();
  }
}
