// Schema changes: our knex migrations, then graphile-worker's own schema.
import { Logger, runMigrations } from "graphile-worker";
import type { Knex } from "knex";
import { migrationSource } from "./migrations/index";

const migrationConfig: Knex.MigratorConfig = { migrationSource, tableName: "knex_migrations" };

export async function migrateLatest(knex: Knex, connectionString: string): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest(migrationConfig)) as [number, string[]];
  await runMigrations({ connectionString, logger: silentLogger });
  return applied;
}

/** Rolls back every knex migration (graphile-worker's schema is left alone). */
export async function rollbackAll(knex: Knex): Promise<string[]> {
  const [, rolledBack] = (await knex.migrate.rollback(migrationConfig, true)) as [number, string[]];
  return rolledBack;
}

export async function rollbackLast(knex: Knex): Promise<string[]> {
  const [, rolledBack] = (await knex.migrate.rollback(migrationConfig)) as [number, string[]];
  return rolledBack;
}

export async function migrationStatus(knex: Knex): Promise<{ done: string[]; pending: string[] }> {
  const [done, pending] = (await knex.migrate.list(migrationConfig)) as [
    { name: string }[],
    string[],
  ];
  return { done: done.map((m) => m.name), pending };
}

const silentLogger = new Logger(() => () => {});
