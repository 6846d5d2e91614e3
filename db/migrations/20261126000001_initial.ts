// The whole first data model (DESIGN.md "Data model"). Reversible: `down` drops all of it.
import type { Knex } from "knex";

const TABLES_WITH_UPDATED_AT = [
  "users",
  "rate_limits",
  "installations",
  "repositories",
  "bisect_jobs",
  "bisect_steps",
  "usage_stats",
  "runner_hosts",
  "runner_leases",
  "webhook_deliveries",
];

function checkIn(column: string, values: readonly string[]): string {
  return `${column} in (${values.map((v) => `'${v}'`).join(", ")})`;
}

export async function up(knex: Knex): Promise<void> {
  // updated_at is kept by the database, so raw SQL writes keep it right too.
  await knex.raw(`
    create function set_updated_at() returns trigger language plpgsql as $$
    begin new.updated_at = now(); return new; end $$;
  `);

  await knex.schema.createTable("users", (t) => {
    t.bigIncrements("id");
    t.bigInteger("github_id").notNullable().unique();
    t.text("login").notNullable();
    t.text("name");
    t.text("avatar_url");
    // AES-256-GCM ciphertext (iv.tag.data, base64); never the plain token.
    t.text("oauth_token_encrypted");
    t.timestamp("last_login_at", { useTz: true });
    t.timestamps(true, true);
    t.index(["login"]);
  });

  await knex.schema.createTable("rate_limits", (t) => {
    t.text("tier").primary();
    t.integer("jobs_per_month").comment("null = unlimited");
    t.integer("max_duration_seconds").notNullable();
    t.integer("max_concurrent").notNullable();
    t.timestamps(true, true);
    t.check(
      "jobs_per_month is null or jobs_per_month >= 0",
      [],
      "rate_limits_jobs_per_month_check",
    );
    t.check("max_duration_seconds > 0 and max_concurrent > 0", [], "rate_limits_positive_check");
  });
  await knex("rate_limits").insert([
    { tier: "free", jobs_per_month: 50, max_duration_seconds: 30 * 60, max_concurrent: 1 },
    { tier: "pro", jobs_per_month: 500, max_duration_seconds: 60 * 60, max_concurrent: 3 },
    {
      tier: "enterprise",
      jobs_per_month: null,
      max_duration_seconds: 120 * 60,
      max_concurrent: 10,
    },
  ]);

  await knex.schema.createTable("installations", (t) => {
    t.bigInteger("id").primary().comment("GitHub's installation id");
    t.bigInteger("account_id").notNullable();
    t.text("account_login").notNullable();
    t.text("account_type").notNullable();
    t.text("tier")
      .notNullable()
      .defaultTo("free")
      .references("tier")
      .inTable("rate_limits")
      .onDelete("restrict")
      .onUpdate("cascade");
    t.jsonb("permissions").notNullable().defaultTo("{}");
    t.timestamp("suspended_at", { useTz: true });
    t.timestamp("deleted_at", { useTz: true });
    t.timestamps(true, true);
    t.check(
      checkIn("account_type", ["User", "Organization", "Enterprise"]),
      [],
      "installations_account_type_check",
    );
    t.index(["account_login"]);
  });

  await knex.schema.createTable("repositories", (t) => {
    t.bigInteger("id").primary().comment("GitHub's repository id");
    t.bigInteger("installation_id")
      .notNullable()
      .references("id")
      .inTable("installations")
      .onDelete("cascade");
    t.text("owner").notNullable();
    t.text("name").notNullable();
    t.boolean("private").notNullable().defaultTo(false);
    t.text("default_branch");
    t.timestamp("removed_at", { useTz: true });
    t.timestamps(true, true);
    t.index(["installation_id"]);
    t.index(["owner", "name"]);
  });

  await knex.schema.createTable("bisect_jobs", (t) => {
    t.bigIncrements("id");
    t.bigInteger("installation_id").references("id").inTable("installations").onDelete("cascade");
    t.bigInteger("repository_id").references("id").inTable("repositories").onDelete("cascade");
    t.text("source").notNullable();
    t.text("repo_url").comment("clone source for jobs not tied to a GitHub repository (CLI)");
    t.integer("issue_number");
    t.bigInteger("trigger_comment_id").comment("the /bisect comment; one job per comment");
    t.text("delivery_id");
    t.text("requester_login");
    t.bigInteger("requester_id");
    t.text("good_ref").notNullable();
    t.text("bad_ref").notNullable();
    t.specificType("good_sha", "char(40)");
    t.specificType("bad_sha", "char(40)");
    t.text("command").notNullable();
    t.text("setup_command");
    t.jsonb("options").notNullable().defaultTo("{}");
    t.jsonb("graph").comment("the commit graph of bad ^good, stored once by bisect__prepare");
    t.integer("commit_count");
    t.text("status").notNullable().defaultTo("queued");
    t.text("outcome");
    t.specificType("culprit_sha", "char(40)");
    t.jsonb("candidates");
    t.double("confidence");
    t.text("explanation");
    t.text("error");
    t.integer("rounds").notNullable().defaultTo(0);
    t.bigInteger("status_comment_id");
    t.bigInteger("retry_of_job_id").references("id").inTable("bisect_jobs").onDelete("set null");
    t.timestamp("started_at", { useTz: true });
    t.timestamp("finished_at", { useTz: true });
    t.timestamp("cancel_requested_at", { useTz: true });
    t.timestamps(true, true);
    t.check(
      checkIn("source", ["github", "cli", "dashboard", "admin"]),
      [],
      "bisect_jobs_source_check",
    );
    t.check(
      checkIn("status", ["queued", "preparing", "running", "finished", "failed", "cancelled"]),
      [],
      "bisect_jobs_status_check",
    );
    t.check(
      `outcome is null or ${checkIn("outcome", ["found", "ambiguous", "good-is-bad", "bad-is-good", "flaky", "error", "timeout"])}`,
      [],
      "bisect_jobs_outcome_check",
    );
    t.check("repository_id is not null or repo_url is not null", [], "bisect_jobs_has_repo_check");
    t.index(["installation_id", "created_at"]);
    t.index(["repository_id", "created_at"]);
    t.index(["status"]);
    t.index(["retry_of_job_id"]);
  });
  await knex.raw(
    "create unique index bisect_jobs_trigger_comment_unique on bisect_jobs (trigger_comment_id) where trigger_comment_id is not null",
  );

  await knex.schema.createTable("runner_hosts", (t) => {
    t.increments("id");
    t.text("name").notNullable().unique();
    t.text("docker_endpoint").notNullable();
    t.text("tls_path").comment(
      "directory holding ca.pem, cert.pem, key.pem; the material itself is never stored here",
    );
    t.integer("capacity").notNullable().defaultTo(2);
    t.jsonb("labels").notNullable().defaultTo("{}");
    t.text("state").notNullable().defaultTo("active");
    t.text("source").notNullable().defaultTo("admin");
    t.timestamp("last_seen_at", { useTz: true });
    t.text("last_error");
    t.timestamps(true, true);
    t.check("capacity > 0", [], "runner_hosts_capacity_check");
    t.check(checkIn("state", ["active", "draining", "down"]), [], "runner_hosts_state_check");
    t.check(checkIn("source", ["env", "admin"]), [], "runner_hosts_source_check");
  });

  await knex.schema.createTable("bisect_steps", (t) => {
    t.bigIncrements("id");
    t.bigInteger("bisect_job_id")
      .notNullable()
      .references("id")
      .inTable("bisect_jobs")
      .onDelete("cascade");
    t.specificType("sha", "char(40)").notNullable();
    t.integer("round").notNullable();
    t.integer("attempt")
      .notNullable()
      .defaultTo(1)
      .comment("run number on this commit (runs > 1, retries)");
    t.text("status").notNullable().defaultTo("queued");
    t.text("verdict");
    t.text("reason");
    t.integer("exit_code");
    t.integer("runner_host_id").references("id").inTable("runner_hosts").onDelete("set null");
    t.integer("duration_ms");
    t.text("log_excerpt");
    t.timestamp("started_at", { useTz: true });
    t.timestamp("finished_at", { useTz: true });
    t.timestamps(true, true);
    t.unique(["bisect_job_id", "sha", "attempt"]);
    t.check(
      checkIn("status", ["queued", "running", "done", "cancelled"]),
      [],
      "bisect_steps_status_check",
    );
    t.check(
      `verdict is null or ${checkIn("verdict", ["good", "bad", "skip", "error"])}`,
      [],
      "bisect_steps_verdict_check",
    );
    t.check("(status = 'done') = (verdict is not null)", [], "bisect_steps_done_has_verdict_check");
    t.index(["runner_host_id"]);
  });

  await knex.schema.createTable("runner_leases", (t) => {
    t.bigIncrements("id");
    t.integer("runner_host_id")
      .notNullable()
      .references("id")
      .inTable("runner_hosts")
      .onDelete("cascade");
    t.bigInteger("bisect_step_id").references("id").inTable("bisect_steps").onDelete("cascade");
    t.text("holder").notNullable().comment("worker id holding the lease");
    t.timestamp("acquired_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("expires_at", { useTz: true }).notNullable();
    t.timestamp("released_at", { useTz: true });
    t.timestamps(true, true);
    t.index(["bisect_step_id"]);
  });
  await knex.raw(
    "create index runner_leases_open_idx on runner_leases (runner_host_id, expires_at) where released_at is null",
  );

  await knex.schema.createTable("usage_stats", (t) => {
    t.bigIncrements("id");
    t.bigInteger("installation_id")
      .notNullable()
      .references("id")
      .inTable("installations")
      .onDelete("cascade");
    t.date("month").notNullable().comment("first day of the month, UTC");
    t.integer("jobs").notNullable().defaultTo(0);
    t.bigInteger("compute_seconds").notNullable().defaultTo(0);
    t.timestamps(true, true);
    t.unique(["installation_id", "month"]);
    t.check("jobs >= 0 and compute_seconds >= 0", [], "usage_stats_nonnegative_check");
    t.check("extract(day from month) = 1", [], "usage_stats_month_check");
  });

  await knex.schema.createTable("webhook_deliveries", (t) => {
    t.text("id").primary().comment("X-GitHub-Delivery");
    t.text("event").notNullable();
    t.text("action");
    t.bigInteger("installation_id");
    t.jsonb("payload");
    t.text("status").notNullable().defaultTo("received");
    t.text("error");
    t.integer("redeliveries").notNullable().defaultTo(0);
    t.timestamp("received_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("processed_at", { useTz: true });
    t.timestamps(true, true);
    t.check(
      checkIn("status", ["received", "processed", "ignored", "failed"]),
      [],
      "webhook_deliveries_status_check",
    );
    t.index(["received_at"]);
  });

  await knex.schema.createTable("audit_log", (t) => {
    t.bigIncrements("id");
    t.text("actor").notNullable().comment("a GitHub login, 'admin' or 'system'");
    t.text("action").notNullable();
    t.text("subject_type");
    t.text("subject_id");
    t.jsonb("details").notNullable().defaultTo("{}");
    t.text("ip");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(["created_at"]);
    t.index(["subject_type", "subject_id"]);
  });

  await knex.schema.createTable("worker_heartbeats", (t) => {
    t.text("worker_id").primary().comment("graphile-worker's worker id");
    t.text("hostname").notNullable();
    t.integer("pid").notNullable();
    t.timestamp("started_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("last_beat_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  for (const table of TABLES_WITH_UPDATED_AT) {
    await knex.raw(
      `create trigger ${table}_updated_at before update on ${table} for each row execute function set_updated_at()`,
    );
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    "worker_heartbeats",
    "audit_log",
    "webhook_deliveries",
    "usage_stats",
    "runner_leases",
    "bisect_steps",
    "runner_hosts",
    "bisect_jobs",
    "repositories",
    "installations",
    "rate_limits",
    "users",
  ]) {
    await knex.schema.dropTable(table);
  }
  await knex.raw("drop function set_updated_at()");
}
