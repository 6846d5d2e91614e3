// One row naming this deployment. Containers carry its id, so a reaper or a cancellation never
// touches another deployment's containers on a shared runner host (job ids repeat across databases).
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("instance", (t) => {
    t.boolean("singleton").primary().defaultTo(true);
    t.text("id").notNullable().defaultTo(knex.raw("replace(gen_random_uuid()::text, '-', '')"));
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.check("singleton", [], "instance_singleton_check");
  });
  await knex("instance").insert({});
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("instance");
}
