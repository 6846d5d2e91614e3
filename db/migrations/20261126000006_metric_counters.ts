// Counters that several processes add to and /metrics reads (e.g. GitHub API errors by status).
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("metric_counters", (t) => {
    t.text("name").notNullable();
    t.text("labels")
      .notNullable()
      .defaultTo("")
      .comment("label=value pairs, sorted, comma-separated");
    t.bigInteger("value").notNullable().defaultTo(0);
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(["name", "labels"]);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("metric_counters");
}
