// npm run db:migrate | db:status | db:rollback with DATABASE_URL unset: they work on the embedded
// database `npm start` uses, whether it is running (its server is used) or not (the same data
// directory is started for the command and stopped after it).
import { execFile, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { freePort } from "./embedded";

const run = promisify(execFile);
const migrations = readdirSync(path.join(import.meta.dirname, "migrations"))
  .filter((f) => /^\d+_.*\.ts$/.test(f))
  .map((f) => f.replace(/\.ts$/, ""))
  .sort();

function env(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    NODE_ENV: "development",
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATA_DIR: dataDir,
    ...extra,
  };
}

async function db(dataDir: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ["--import", "tsx", "scripts/db.ts", ...args], {
    env: env(dataDir),
    timeout: 120_000,
  });
}

const postgresOf = (dataDir: string) =>
  execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
    .split("\n")
    .filter((l) => l.includes(dataDir) && /postgres -D|bin\/postgres/.test(l));

function freshDataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "bisect-dbcmd-"));
  chmodSync(dir, 0o755);
  return dir;
}

describe("database commands on the embedded default", () => {
  it(
    "migrate, status and rollback start the embedded database when npm start is not running",
    { timeout: 240_000 },
    async () => {
      const dataDir = freshDataDir();
      const migrated = await db(dataDir, "migrate");
      expect(migrated.stdout.trim()).toBe(`applied: ${migrations.join(", ")}`);
      expect(migrated.stderr).toContain(
        `starting the embedded PostgreSQL in ${path.join(dataDir, "postgres")}`,
      );
      expect(existsSync(path.join(dataDir, "postgres", "PG_VERSION"))).toBe(true);

      const status = await db(dataDir, "status");
      expect(
        status.stdout
          .trim()
          .split("\n")
          .map((l) => l.trim()),
      ).toEqual(migrations.map((m) => `applied  ${m}`));

      // Rollback undoes the last batch: here the one `migrate` applied.
      const rolled = await db(dataDir, "rollback");
      expect(rolled.stdout.trim()).toBe(`rolled back: ${[...migrations].reverse().join(", ")}`);
      expect(
        (await db(dataDir, "status")).stdout
          .trim()
          .split("\n")
          .map((l) => l.trim()),
      ).toEqual(migrations.map((m) => `pending  ${m}`));
      // Each command stopped the server it started.
      expect(postgresOf(dataDir)).toEqual([]);
    },
  );

  it("status uses the running npm start's database", { timeout: 180_000 }, async () => {
    const dataDir = freshDataDir();
    const port = await freePort();
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], {
      env: env(dataDir, { PORT: String(port), LOG_LEVEL: "warn" }),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code) => resolve(code)),
    );
    try {
      await expect
        .poll(async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => null))?.status, {
          timeout: 120_000,
          interval: 500,
        })
        .toBe(200);
      const status = await db(dataDir, "status");
      expect(status.stderr).toContain("using the embedded PostgreSQL of the running npm start");
      expect(
        status.stdout
          .trim()
          .split("\n")
          .map((l) => l.trim()),
      ).toEqual(migrations.map((m) => `applied  ${m}`));
    } finally {
      process.kill(-child.pid!, "SIGINT");
    }
    expect(await exited, output).toBe(0);
  });
});
