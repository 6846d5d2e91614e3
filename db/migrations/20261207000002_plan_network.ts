// Whether a plan's test runs may have network at all is the operator's decision (a repository's
// `network: true` is only a request). Off by default on every plan.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("rate_limits", (t) => {
    t.boolean("test_network")
      .notNullable()
      .defaultTo(false)
      .comment("test runs may have network when the repository asks (network: true)");
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("rate_limits", (t) => {
    t.dropColumn("test_network");
  });
}
