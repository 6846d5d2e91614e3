// Per-plan run limits the operator decides: whether test runs may have network at all (a
// repository's `network: true` is only a request; off by default on every plan), and how many
// runner slots one installation may hold at once (`--parallel` above it is lowered).
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("rate_limits", (t) => {
    t.boolean("test_network")
      .notNullable()
      .defaultTo(false)
      .comment("test runs may have network when the repository asks (network: true)");
    t.integer("max_parallel")
      .notNullable()
      .defaultTo(4)
      .comment("runner slots one installation may hold at once");
  });
  await knex("rate_limits").where({ tier: "free" }).update({ max_parallel: 2 });
  await knex("rate_limits").where({ tier: "enterprise" }).update({ max_parallel: 16 });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("rate_limits", (t) => {
    t.dropColumn("test_network");
    t.dropColumn("max_parallel");
  });
}
