// The ordered list of migrations. A static list (not a directory scan) loads the same way under
// tsx, vitest and bundlers; add each new migration here.
import type { Knex } from "knex";
import * as initial from "./20261126000001_initial";

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

const migrations: Record<string, Migration> = {
  "20261126000001_initial": initial,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
