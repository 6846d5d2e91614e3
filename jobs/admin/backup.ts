// Admin: a database backup. pg_dump in PostgreSQL's custom format (compressed, restorable table by
// table with pg_restore) to DIR/bisect-<UTC time>.dump, written under a temporary name first so a
// failed or interrupted dump never counts as a backup; then the oldest dumps beyond `keep` go.
import { execFile } from "node:child_process";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { AdminError } from "./errors";

export interface BackupOptions {
  databaseUrl: string;
  dir: string;
  keep: number;
  pgDump?: string;
  now?: Date;
  signal?: AbortSignal;
}

export interface BackupReport {
  file: string;
  bytes: number;
  /** Dumps in the directory after retention, newest first. */
  kept: string[];
  deleted: string[];
}

const DUMP = /^bisect-\d{8}T\d{9}Z\.dump$/;

/** `bisect-20261207T031700123Z.dump` (to the millisecond): sorts by time as text. */
export function dumpName(now: Date): string {
  return `bisect-${now.toISOString().replace(/[-:.]/g, "")}.dump`;
}

/** The dumps to delete so that `keep` remain: the oldest; files of other names are never touched. */
export function dumpsBeyond(names: string[], keep: number): { kept: string[]; deleted: string[] } {
  const dumps = names
    .filter((n) => DUMP.test(n))
    .sort()
    .reverse();
  return { kept: dumps.slice(0, keep), deleted: dumps.slice(keep) };
}

/** The URL without its password (which goes to pg_dump through PGPASSWORD, not its command line). */
function splitPassword(url: string): { url: string; password: string | undefined } {
  const u = new URL(url);
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  u.password = "";
  return { url: u.toString(), password };
}

function runPgDump(
  pgDump: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      pgDump,
      args,
      { env, signal, maxBuffer: 4 * 1024 * 1024 },
      (error, _stdout, stderr) => {
        if (!error) return resolve();
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT") {
          return reject(
            new AdminError(
              `${pgDump} was not found on the worker's machine: install PostgreSQL's client (e.g. postgresql-client) or set BACKUP_PG_DUMP`,
            ),
          );
        }
        const reason = String(stderr).trim().split("\n").slice(-3).join(" ") || error.message;
        reject(new AdminError(`pg_dump failed: ${reason}`));
      },
    );
  });
}

export async function backup(options: BackupOptions): Promise<BackupReport> {
  const dir = path.resolve(options.dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const name = dumpName(options.now ?? new Date());
  const file = path.join(dir, name);
  const partial = `${file}.partial`;
  const { url, password } = splitPassword(options.databaseUrl);
  // Only what pg_dump needs: none of the worker's secrets.
  const env: NodeJS.ProcessEnv = {
    NODE_ENV: process.env.NODE_ENV,
    PATH: process.env.PATH,
    ...(password !== undefined ? { PGPASSWORD: password } : {}),
  };
  try {
    await runPgDump(
      options.pgDump ?? "pg_dump",
      ["--format=custom", "--no-owner", "--no-privileges", `--file=${partial}`, `--dbname=${url}`],
      env,
      options.signal,
    );
    await rename(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
  const { kept, deleted } = dumpsBeyond(await readdir(dir), options.keep);
  for (const old of deleted) await rm(path.join(dir, old), { force: true });
  return { file, bytes: (await stat(file)).size, kept, deleted };
}
