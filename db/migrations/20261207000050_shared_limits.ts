// What several web and worker processes must count together: per-client request counts (the web's
// rate limits) and each installation's GitHub write gate.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("rate_limit_hits", (t) => {
    t.text("key").primary().comment("limiter and client, e.g. api:ip:203.0.113.7");
    t.integer("hits").notNullable();
    t.timestamp("reset_at", { useTz: true }).notNullable().index();
  });
  await knex.schema.createTable("github_write_gates", (t) => {
    t.bigInteger("installation_id").primary();
    t.text("holder").comment("the process writing now, until held_until");
    t.timestamp("held_until", { useTz: true });
    t.timestamp("free_at", { useTz: true })
      .notNullable()
      .defaultTo(knex.fn.now())
      .comment("the next write may start then: the previous write's end plus the interval");
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("github_write_gates");
  await knex.schema.dropTable("rate_limit_hits");
}
