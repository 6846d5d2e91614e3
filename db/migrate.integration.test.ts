import type { Knex } from "knex";
import { describe, expect, it } from "vitest";
import { createTestDatabase } from "../tests/helpers/database";
import { migrateLatest, migrationStatus, rollbackAll } from "./migrate";

const ourTables = async (knex: Knex) =>
  (
    await knex.raw<{ rows: { t: string }[] }>(
      "select table_name as t from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' and table_name not like 'knex_%'",
    )
  ).rows
    .map((r) => r.t)
    .sort();

describe("migrations", () => {
  it("round-trips: latest → rollback all → latest, leaving the same schema", async () => {
    const db = await createTestDatabase();
    try {
      const before = await ourTables(db.knex);
      expect(before).toEqual(
        [
          "admin_runs",
          "audit_log",
          "auto_bisections",
          "bisect_jobs",
          "bisect_steps",
          "github_write_gates",
          "installations",
          "metric_counters",
          "instance",
          "rate_limits",
          "rate_limit_hits",
          "repositories",
          "runner_hosts",
          "runner_leases",
          "runner_caches",
          "runner_images",
          "runner_mirrors",
          "sessions",
          "usage_stats",
          "webhook_deliveries",
          "worker_heartbeats",
          "users",
        ].sort(),
      );
      expect((await migrationStatus(db.knex)).pending).toEqual([]);

      const rolledBack = await rollbackAll(db.knex);
      expect(rolledBack.length).toBeGreaterThan(0);
      expect(await ourTables(db.knex)).toEqual([]);
      expect((await migrationStatus(db.knex)).done).toEqual([]);

      await migrateLatest(db.knex, db.url);
      expect(await ourTables(db.knex)).toEqual(before);
    } finally {
      await db.drop();
    }
  });

  it("seeds the plans' limits", async () => {
    const db = await createTestDatabase();
    try {
      const tiers = await db
        .knex("rate_limits")
        .orderBy("maxConcurrent")
        .select("tier", "jobsPerMonth", "maxDurationSeconds", "maxConcurrent");
      expect(tiers).toEqual([
        { tier: "free", jobsPerMonth: 50, maxDurationSeconds: 1800, maxConcurrent: 1 },
        { tier: "pro", jobsPerMonth: 500, maxDurationSeconds: 3600, maxConcurrent: 3 },
        { tier: "enterprise", jobsPerMonth: null, maxDurationSeconds: 7200, maxConcurrent: 10 },
      ]);
    } finally {
      await db.drop();
    }
  });

  it("enforces enumerations and keeps updated_at", async () => {
    const db = await createTestDatabase();
    try {
      await expect(
        db
          .knex("runner_hosts")
          .insert({ name: "h", dockerEndpoint: "unix:///x", state: "sleeping" }),
      ).rejects.toThrow(/runner_hosts_state_check/);
      const [host] = await db
        .knex("runner_hosts")
        .insert({ name: "h", dockerEndpoint: "unix:///x" })
        .returning("*");
      await new Promise((r) => setTimeout(r, 20));
      const [updated] = await db
        .knex("runner_hosts")
        .where({ id: host.id })
        .update({ state: "draining" })
        .returning("*");
      expect(updated.updatedAt.getTime()).toBeGreaterThan(host.updatedAt.getTime());
    } finally {
      await db.drop();
    }
  });
});
