// `admin backup` and the restore steps of docs/operations.md, end to end against a real
// PostgreSQL: Debian's PostgreSQL 15 server with the pg_dump/pg_restore of the same major version
// (the embedded server is newer than the machine's client, and pg_dump refuses a newer server).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { createKnex } from "../../db/connection";
import { freePort } from "../../db/embedded";
import { migrateLatest } from "../../db/migrate";
import { startWorker, type StartedWorker } from "../../jobs/worker";
import { admin } from "./support";

const run = promisify(execFile);
const BIN = "/usr/lib/postgresql/15/bin";
const haveServer = existsSync(path.join(BIN, "postgres")) && existsSync(path.join(BIN, "pg_dump"));
const root = process.getuid?.() === 0;
/** PostgreSQL refuses to run as root: as root, its commands run as the `postgres` user. */
const asPostgres = (cmd: string, args: string[]): [string, string[]] =>
  root ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];

describe.skipIf(!haveServer)("admin backup and restore", { timeout: 180_000 }, () => {
  let dir: string;
  let server: ChildProcess;
  let port: number;
  let worker: StartedWorker | undefined;
  const url = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "bisect-backup-"));
    chmodSync(dir, 0o755);
    const data = path.join(dir, "data");
    mkdirSync(data, { mode: 0o700 });
    if (root)
      chownSync(
        data,
        Number((await run("id", ["-u", "postgres"])).stdout),
        Number((await run("id", ["-g", "postgres"])).stdout),
      );
    await run(
      ...asPostgres(path.join(BIN, "initdb"), [
        "-D",
        data,
        "--auth=trust",
        "-U",
        "postgres",
        "--no-sync",
      ]),
    );
    port = await freePort();
    server = spawn(
      ...asPostgres(path.join(BIN, "postgres"), [
        "-D",
        data,
        "-p",
        String(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-k",
        data,
      ]),
      {
        stdio: "ignore",
      },
    );
    // Wait for the server to accept connections (a condition, checked until a deadline).
    for (const deadline = Date.now() + 60_000; ;) {
      const ready = await run(path.join(BIN, "pg_isready"), [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
      ]).then(
        () => true,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline || server.exitCode !== null)
        throw new Error("PostgreSQL 15 did not start");
      await new Promise((r) => setTimeout(r, 200));
    }
    await run(path.join(BIN, "createdb"), [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-U",
      "postgres",
      "bisect",
    ]);
    const knex = createKnex(url("bisect"), { poolMax: 1 });
    try {
      await migrateLatest(knex, url("bisect"));
      await knex("installations").insert({
        id: 4242,
        accountId: 1,
        accountLogin: "acme",
        accountType: "Organization",
        tier: "pro",
      });
      await knex("auditLog").insert({ actor: "alice", action: "user.sign_in" });
    } finally {
      await knex.destroy();
    }
  });

  // Each test runs the one worker it needs (with or without pg_dump), so either may come first.
  const startWorkerWith = (pgDump: string) =>
    startWorker(
      loadConfig({ DATABASE_URL: url("bisect"), BACKUP_PG_DUMP: pgDump, LOG_LEVEL: "warn" }),
      { registerEnvHost: false, concurrency: 1 },
    );

  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
  });

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once("exit", r));
      await run(
        ...asPostgres(path.join(BIN, "pg_ctl"), [
          "stop",
          "-D",
          path.join(dir, "data"),
          "-m",
          "fast",
        ]),
      );
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("dumps to a directory, keeps the newest N, and a dump restores per docs/operations.md", async () => {
    worker = await startWorkerWith(path.join(BIN, "pg_dump"));
    const backups = path.join(dir, "backups");
    const files: string[] = [];
    for (let i = 1; i <= 3; i++) {
      // Something new in each dump: the restore must bring back the newest.
      const knex = createKnex(url("bisect"), { poolMax: 1 });
      await knex("auditLog").insert({ actor: "system", action: `before-backup-${i}` });
      await knex.destroy();
      const call = await admin(
        url("bisect"),
        ["backup", "--dir", backups, "--keep", "2", "--json"],
        { WORKER_DEAD_AFTER_SECONDS: "600" },
      );
      expect(call.code, call.stderr).toBe(0);
      const result = call.json.result as {
        file: string;
        bytes: number;
        kept: string[];
        deleted: string[];
      };
      expect(path.dirname(result.file)).toBe(backups);
      expect(result.bytes).toBeGreaterThan(0);
      files.push(path.basename(result.file));
      expect(result.kept).toEqual(files.slice(-2).reverse());
      expect(result.deleted).toEqual(i === 3 ? [files[0]] : []);
    }
    expect(readdirSync(backups).sort()).toEqual(files.slice(-2).sort());

    // docs/operations.md, "Restoring a backup": an empty database, then pg_restore.
    const newest = path.join(backups, files[2]!);
    await run(path.join(BIN, "createdb"), [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-U",
      "postgres",
      "restored",
    ]);
    await run(path.join(BIN, "pg_restore"), [
      "--no-owner",
      "--no-privileges",
      "--exit-on-error",
      `--dbname=${url("restored")}`,
      newest,
    ]);

    const restored = createKnex(url("restored"), { poolMax: 1 });
    try {
      expect(await restored("installations").select("id", "accountLogin", "tier")).toEqual([
        { id: 4242, accountLogin: "acme", tier: "pro" },
      ]);
      const actions = await restored("auditLog").orderBy("id").pluck("action");
      expect(actions).toEqual(
        expect.arrayContaining([
          "user.sign_in",
          "before-backup-1",
          "before-backup-2",
          "before-backup-3",
        ]),
      );
      // The schema's history and the job queue's own schema come back too.
      expect((await restored("knex_migrations").pluck("name")).length).toBeGreaterThan(0);
      const queue = await restored.raw(
        "select count(*)::int as n from information_schema.schemata where schema_name = 'graphile_worker'",
      );
      expect(queue.rows[0].n).toBe(1);
    } finally {
      await restored.destroy();
    }
  });

  it("says plainly when pg_dump is missing", async () => {
    worker = await startWorkerWith("/nonexistent/pg_dump");
    const call = await admin(url("bisect"), ["backup", "--dir", path.join(dir, "elsewhere")], {
      WORKER_DEAD_AFTER_SECONDS: "600",
    });
    expect(call.code).toBe(1);
    expect(call.stderr).toContain("/nonexistent/pg_dump was not found on the worker's machine");
    expect(
      existsSync(path.join(dir, "elsewhere")) ? readdirSync(path.join(dir, "elsewhere")) : [],
    ).toEqual([]);
  });
});
