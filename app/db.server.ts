// The web process's database connection: DATABASE_WEB_URL (its own role) when set, else
// DATABASE_URL (which may be a pooler).
import type { Knex } from "knex";
import { Model } from "objection";
import { createKnex } from "../db/connection";
import { webDatabaseUrl } from "../config/env";
import { getConfig } from "./config.server";

const holder = globalThis as unknown as { __bisectKnex?: Knex };

export function getDb(): Knex {
  if (!holder.__bisectKnex) {
    const config = getConfig();
    const url = webDatabaseUrl(config);
    if (!url) throw new Error("DATABASE_URL is not set");
    holder.__bisectKnex = createKnex(url, {
      poolMax: config.DATABASE_POOL_MAX,
      applicationName: "bisect-bot-web",
    });
    Model.knex(holder.__bisectKnex);
  }
  return holder.__bisectKnex;
}

/** Closes the connection pool (tests, shutdown). */
export async function closeDb(): Promise<void> {
  const knex = holder.__bisectKnex;
  holder.__bisectKnex = undefined;
  await knex?.destroy();
}
