// A repository's dependency cache on a runner host (a Docker volume): its size when last measured
// and its last use, so that caches and mirrors are evicted least-recently-used under one budget,
// and purged with the mirrors when the installation goes.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("runner_caches", (t) => {
    t.bigIncrements("id");
    t.integer("runner_host_id")
      .notNullable()
      .references("id")
      .inTable("runner_hosts")
      .onDelete("cascade");
    t.text("repo_key").notNullable().comment("github:<repository id> or url:<clone source>");
    t.integer("installation_id").comment(
      "the installation whose jobs use it (null: no installation)",
    );
    t.text("volume").notNullable();
    t.bigInteger("size_bytes").notNullable().defaultTo(0).comment("when last measured");
    t.timestamp("last_used_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamps(true, true);
    t.unique(["runner_host_id", "volume"]);
    t.index(["repo_key"]);
  });
  await knex.raw(
    "create trigger runner_caches_updated_at before update on runner_caches for each row execute function set_updated_at()",
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("runner_caches");
}
