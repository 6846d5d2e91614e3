// Admin commands: each `npm run admin -- …` is a row here plus an `admin__run` job; the worker
// writes the outcome back and the command line prints it. Reversible.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("admin_runs", (t) => {
    t.bigIncrements("id");
    t.text("command").notNullable().comment("e.g. runners.add");
    t.jsonb("args").notNullable().defaultTo("{}");
    t.text("status").notNullable().defaultTo("queued");
    t.jsonb("result");
    t.text("error");
    t.text("requested_by").comment("who ran the command line (user@host)");
    t.timestamp("started_at", { useTz: true });
    t.timestamp("finished_at", { useTz: true });
    t.timestamps(true, true);
    t.check(
      "status in ('queued', 'running', 'succeeded', 'failed')",
      [],
      "admin_runs_status_check",
    );
    t.check(
      "(status in ('succeeded', 'failed')) = (finished_at is not null)",
      [],
      "admin_runs_finished_check",
    );
    t.index(["created_at"]);
  });
  await knex.raw(
    "create index admin_runs_finished_idx on admin_runs (finished_at) where finished_at is not null",
  );
  await knex.raw(
    "create trigger admin_runs_updated_at before update on admin_runs for each row execute function set_updated_at()",
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("admin_runs");
}
