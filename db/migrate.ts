// Schema changes: our knex migrations, then graphile-worker's own schema.
import { Logger, runMigrations } from "graphile-worker";
import pg from "pg";
import type { Knex } from "knex";
import { migrationSource } from "./migrations/index";

const migrationConfig: Knex.MigratorConfig = { migrationSource, tableName: "knex_migrations" };

export async function migrateLatest(knex: Knex, connectionString: string): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest(migrationConfig)) as [number, string[]];
  // Our own pool, ended before we return: graphile-worker ends a pool it made without waiting, so
  // a database stopped right after (the embedded one, at the end of `npm run db:migrate`) could
  // end its idle connection with an error nobody listens to, and that kills the process.
  const pgPool = new pg.Pool({ connectionString, max: 1 });
  pgPool.on("error", () => {}); // an idle connection closed by the server: nothing is lost
  try {
    await runMigrations({ pgPool, logger: silentLogger });
  } finally {
    await pgPool.end();
  }
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
