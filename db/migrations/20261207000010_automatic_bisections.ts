// Automatic bisections: a configured check that turns red on the default branch starts a job
// with no comment. One row per breakage (repository, check, last green commit): later red runs
// with the same last green join it, a green run cancels it. Automatic jobs count against the
// plan like any other and, on top, against a monthly cap of their own.
import type { Knex } from "knex";

const SOURCES_BEFORE = ["github", "cli", "dashboard", "admin"];
const SOURCES_AFTER = [...SOURCES_BEFORE, "auto"];
const sourceCheck = (values: string[]) => `source in (${values.map((v) => `'${v}'`).join(", ")})`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw("alter table bisect_jobs drop constraint bisect_jobs_source_check");
  await knex.raw(
    `alter table bisect_jobs add constraint bisect_jobs_source_check check (${sourceCheck(SOURCES_AFTER)})`,
  );
  await knex.schema.alterTable("rate_limits", (t) => {
    t.integer("auto_jobs_per_month").comment("automatic bisections a month; null = unlimited");
  });
  await knex.raw(
    "alter table rate_limits add constraint rate_limits_auto_jobs_check check (auto_jobs_per_month is null or auto_jobs_per_month >= 0)",
  );
  await knex("rate_limits").where({ tier: "free" }).update({ auto_jobs_per_month: 10 });
  await knex("rate_limits").where({ tier: "pro" }).update({ auto_jobs_per_month: 100 });

  await knex.schema.createTable("auto_bisections", (t) => {
    t.bigIncrements("id");
    t.bigInteger("installation_id")
      .notNullable()
      .references("id")
      .inTable("installations")
      .onDelete("cascade");
    t.bigInteger("repository_id")
      .notNullable()
      .references("id")
      .inTable("repositories")
      .onDelete("cascade");
    t.text("check_name").notNullable();
    t.text("green_sha").notNullable().comment("the check's last success before the breakage");
    t.text("red_sha").notNullable().comment("the first red commit seen for this breakage");
    t.text("command").notNullable().comment("the configured command that reproduces the check");
    t.text("check_run_url").comment("the red check run that started it");
    t.integer("joined_runs").notNullable().defaultTo(0).comment("later red runs that joined");
    t.text("notify").notNullable();
    t.text("state").notNullable().defaultTo("bisecting");
    t.bigInteger("bisect_job_id").references("id").inTable("bisect_jobs").onDelete("set null");
    t.text("culprit_sha").comment("the culprit of a direct report (the parent was green)");
    t.text("fixed_by_sha").comment("a green run of the check at this commit ended it");
    t.text("report_url").comment("where the answer was posted");
    t.text("report_note").comment("why the answer is only on the dashboard");
    t.timestamp("reported_at", { useTz: true });
    t.timestamps(true, true);
    t.unique(["repository_id", "check_name", "green_sha"]);
    t.check(
      "state in ('bisecting', 'direct', 'fixed', 'refused', 'reported')",
      [],
      "auto_bisections_state_check",
    );
    t.check(
      "notify in ('pull-request', 'commit', 'issue', 'none')",
      [],
      "auto_bisections_notify_check",
    );
  });
  await knex.raw(
    "create trigger auto_bisections_updated_at before update on auto_bisections for each row execute function set_updated_at()",
  );
  await knex.raw(
    "create index auto_bisections_job_idx on auto_bisections (bisect_job_id) where bisect_job_id is not null",
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("auto_bisections");
  await knex.schema.alterTable("rate_limits", (t) => t.dropColumn("auto_jobs_per_month"));
  await knex("bisect_jobs").where({ source: "auto" }).delete();
  await knex.raw("alter table bisect_jobs drop constraint bisect_jobs_source_check");
  await knex.raw(
    `alter table bisect_jobs add constraint bisect_jobs_source_check check (${sourceCheck(SOURCES_BEFORE)})`,
  );
}
