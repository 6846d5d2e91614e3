// Which runner host holds a mirror of which repository: host choice, freshness, LRU eviction.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("runner_mirrors", (t) => {
    t.bigIncrements("id");
    t.integer("runner_host_id")
      .notNullable()
      .references("id")
      .inTable("runner_hosts")
      .onDelete("cascade");
    t.text("repo_key").notNullable().comment("github:<repository id> or url:<clone source>");
    t.text("volume").notNullable();
    t.bigInteger("size_bytes").notNullable().defaultTo(0);
    t.timestamp("last_fetched_at", { useTz: true });
    t.timestamp("last_used_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text("fetch_lock_holder");
    t.timestamp("fetch_lock_until", { useTz: true }).comment(
      "one fetch at a time per host and repository",
    );
    t.timestamps(true, true);
    t.unique(["runner_host_id", "repo_key"]);
    t.index(["repo_key"]);
  });
  await knex.raw(
    "create trigger runner_mirrors_updated_at before update on runner_mirrors for each row execute function set_updated_at()",
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("runner_mirrors");
}
