// Per-plan resources of one run: memory, CPUs, work directory size and the longest a run may
// take (by default each plan's maximum duration, as before). The operator changes them per plan in `rate_limits`; a run never gets more than the
// runner hosts' own limits (RUNNER_MEMORY_MB, RUNNER_CPUS, RUNNER_WORK_MB,
// RUNNER_STEP_TIMEOUT_SECONDS), which bound every plan.
import type { Knex } from "knex";

const PLANS = {
  free: { run_memory_mb: 1024, run_cpus: 1, run_work_mb: 2048, run_timeout_seconds: 1800 },
  pro: { run_memory_mb: 4096, run_cpus: 2, run_work_mb: 10_240, run_timeout_seconds: 3600 },
  enterprise: { run_memory_mb: 8192, run_cpus: 4, run_work_mb: 51_200, run_timeout_seconds: 7200 },
};

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("rate_limits", (t) => {
    t.integer("run_memory_mb").notNullable().defaultTo(1024).comment("memory of one run, MiB");
    t.float("run_cpus").notNullable().defaultTo(1).comment("CPUs of one run");
    t.integer("run_work_mb")
      .notNullable()
      .defaultTo(2048)
      .comment("size of one run's work directory (checkout, builds, HOME, /tmp), MiB");
    t.integer("run_timeout_seconds")
      .notNullable()
      .defaultTo(1800)
      .comment("the longest one run (setup and test) may take");
  });
  for (const [tier, limits] of Object.entries(PLANS))
    await knex("rate_limits").where({ tier }).update(limits);
  await knex.raw(
    "alter table rate_limits add constraint rate_limits_run_resources_positive check (run_memory_mb >= 64 and run_cpus > 0 and run_work_mb >= 16 and run_timeout_seconds >= 5)",
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(
    "alter table rate_limits drop constraint if exists rate_limits_run_resources_positive",
  );
  await knex.schema.alterTable("rate_limits", (t) => {
    t.dropColumn("run_memory_mb");
    t.dropColumn("run_cpus");
    t.dropColumn("run_work_mb");
    t.dropColumn("run_timeout_seconds");
  });
}
