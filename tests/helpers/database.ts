// A fresh database per test file, cloned from the migrated template (fast and isolated).
import { randomBytes } from "node:crypto";
import type { Knex } from "knex";
import { afterAll, afterEach, beforeAll, beforeEach, inject } from "vitest";
import { createKnex, withDatabase } from "../../db/connection";

export interface TestDatabase {
  url: string;
  knex: Knex;
}

export async function createTestDatabase(): Promise<TestDatabase & { drop(): Promise<void> }> {
  const serverUrl = inject("testServerUrl");
  const name = `bisect_test_${randomBytes(6).toString("hex")}`;
  const admin = createKnex(serverUrl, { poolMax: 1 });
  try {
    await admin.raw(`create database ${name} template ${inject("templateDatabase")}`);
  } finally {
    await admin.destroy();
  }
  const url = withDatabase(serverUrl, name);
  const knex = createKnex(url, { poolMax: 5 });
  // Each database is a deployment of its own, as in production: the template's instance id would
  // make every test file one deployment, whose clean-ups remove each other's containers on the
  // shared engines (job 2 of one file is job 2 of another) and which share mirror volumes.
  await knex("instance").update({ id: knex.raw("replace(gen_random_uuid()::text, '-', '')") });
  return {
    url,
    knex,
    drop: async () => {
      await knex.destroy();
      const dropper = createKnex(serverUrl, { poolMax: 1 });
      try {
        await dropper.raw(`drop database if exists ${name} with (force)`);
      } finally {
        await dropper.destroy();
      }
    },
  };
}

/**
 * Registers hooks giving the calling test file its own database; read `.current` inside tests.
 * `per: "test"` gives each test a fresh one instead (a clone takes a fraction of a second), for
 * files whose tests would otherwise see each other's rows.
 */
export function useTestDatabase({ per = "file" }: { per?: "file" | "test" } = {}): {
  current: TestDatabase;
} {
  const holder = {} as { current: TestDatabase };
  let drop: (() => Promise<void>) | undefined;
  (per === "test" ? beforeEach : beforeAll)(async () => {
    const db = await createTestDatabase();
    holder.current = db;
    drop = db.drop;
  });
  (per === "test" ? afterEach : afterAll)(async () => {
    await drop?.();
    drop = undefined;
  });
  return holder;
}
