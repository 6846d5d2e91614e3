// Images the product pulled on runner hosts, with when a job last used each (for eviction), and
// a job's image pull in progress (for its status comment and page).
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("runner_images", (t) => {
    t.increments("id").primary();
    t.integer("runner_host_id")
      .notNullable()
      .references("id")
      .inTable("runner_hosts")
      .onDelete("CASCADE");
    t.text("reference").notNullable().comment("the image as jobs name it, normalised");
    t.text("image_id").notNullable();
    t.bigInteger("size_bytes").notNullable().defaultTo(0);
    t.boolean("pulled")
      .notNullable()
      .defaultTo(false)
      .comment("pulled by the product (only those are ever evicted)");
    t.timestamp("pulled_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("last_used_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(["runner_host_id", "reference"]);
    t.index(["last_used_at"]);
  });
  await knex.schema.alterTable("bisect_jobs", (t) => {
    t.jsonb("image_pull")
      .nullable()
      .comment("an image pull the job is waiting for: image, host, bytes");
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("bisect_jobs", (t) => t.dropColumn("image_pull"));
  await knex.schema.dropTable("runner_images");
}
