// Knex connections. camelCase in TypeScript, snake_case in PostgreSQL (Objection's mappers).
import knexFactory, { type Knex } from "knex";
import { knexSnakeCaseMappers } from "objection";
import pg from "pg";

// int8 (bigserial ids, counts, sums) as numbers: every value we store stays far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
// numeric (sum() over integers) likewise.
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));
// date stays a 'YYYY-MM-DD' string: a calendar month has no time zone.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);

export interface ConnectOptions {
  poolMax?: number;
  applicationName?: string;
}

export function createKnex(url: string, options: ConnectOptions = {}): Knex {
  return knexFactory({
    client: "pg",
    connection: {
      connectionString: url,
      application_name: options.applicationName ?? "bisect-bot",
    },
    pool: { min: 0, max: options.poolMax ?? 10 },
    ...knexSnakeCaseMappers(),
  });
}

/** Replaces the database name in a PostgreSQL URL. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
