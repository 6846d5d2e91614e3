// Dashboard sign-in sessions, kept server-side (docs/decisions/004-sign-in.md), and the indexes
// the dashboard's queries need. Reversible.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("sessions", (t) => {
    // SHA-256 (hex) of the random session id the cookie carries: a copy of this table signs no one in.
    t.text("id").primary();
    t.bigInteger("user_id").notNullable().references("id").inTable("users").onDelete("cascade");
    t.text("csrf_token").notNullable().comment("per-session token every form must echo");
    t.text("flash").comment("a one-time notice shown on the next page");
    t.text("ip");
    t.text("user_agent");
    t.timestamp("last_seen_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("expires_at", { useTz: true })
      .notNullable()
      .comment("absolute end, whatever the activity");
    t.timestamps(true, true);
    t.index(["user_id"]);
    t.index(["expires_at"]);
  });
  await knex.raw(
    "create trigger sessions_updated_at before update on sessions for each row execute function set_updated_at()",
  );

  // The dashboard's job list: newest first per installation (keyset on id), optionally by status.
  await knex.raw(
    "create index bisect_jobs_installation_id_id_idx on bisect_jobs (installation_id, id desc)",
  );
  await knex.raw(
    "create index bisect_jobs_installation_status_id_idx on bisect_jobs (installation_id, status, id desc)",
  );
  await knex.raw(
    "create index bisect_jobs_repository_id_id_idx on bisect_jobs (repository_id, id desc)",
  );
  // A job's steps in the order the job page shows them.
  await knex.raw(
    "create index bisect_steps_job_round_idx on bisect_steps (bisect_job_id, round, id)",
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("drop index if exists bisect_steps_job_round_idx");
  await knex.raw("drop index if exists bisect_jobs_repository_id_id_idx");
  await knex.raw("drop index if exists bisect_jobs_installation_status_id_idx");
  await knex.raw("drop index if exists bisect_jobs_installation_id_id_idx");
  await knex.schema.dropTable("sessions");
}
