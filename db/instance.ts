// This deployment's id (see the `instance` migration).
import type { Knex } from "knex";

export async function instanceId(knex: Knex): Promise<string> {
  const row = await knex("instance").first("id");
  if (!row) throw new Error("the instance row is missing: run the migrations");
  return row.id as string;
}
