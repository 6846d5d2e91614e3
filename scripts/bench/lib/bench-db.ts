// A fresh, migrated database for one benchmark run: on DATABASE_URL's server, or on an embedded
// PostgreSQL in a temporary directory. `drop()` removes it (and stops the embedded server).
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Knex } from "knex";
import { createKnex, withDatabase } from "../../../db/connection";
import { spawnEmbeddedPostgres } from "../../../db/embedded-process";
import { migrateLatest } from "../../../db/migrate";

export interface BenchDatabase {
  url: string;
  knex: Knex;
  drop(): Promise<void>;
}

export async function benchDatabase(prefix: string): Promise<BenchDatabase> {
  let serverUrl = process.env.DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!serverUrl) {
    const pg = await spawnEmbeddedPostgres(mkdtempSync(path.join(tmpdir(), `${prefix}-pg-`)), {
      persistent: false,
    });
    serverUrl = pg.url;
    stopEmbedded = pg.stop;
  }
  const name = `${prefix.replace(/\W/g, "_")}_${randomBytes(4).toString("hex")}`;
  const admin = createKnex(serverUrl, { poolMax: 1 });
  await admin.raw(`create database ${name}`);
  const url = withDatabase(serverUrl, name);
  const knex = createKnex(url, { poolMax: 10 });
  await migrateLatest(knex, url);
  return {
    url,
    knex,
    drop: async () => {
      await knex.destroy();
      await admin.raw(`drop database ${name} with (force)`);
      await admin.destroy();
      await stopEmbedded?.();
    },
  };
}
