// The remote's refs a mirror holds, as a digest: an up-to-date mirror is refreshed by asking the
// remote for its refs (no fetch container) when they have not changed.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("runner_mirrors", (t) => {
    t.text("remote_refs").comment("sha256 of the remote's refs at the last fetch");
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("runner_mirrors", (t) => {
    t.dropColumn("remote_refs");
  });
}
