// The web process's own PostgreSQL role: what the dashboard, sign-in and the webhook recorder read
// and write, nothing more. The worker and the migrations keep the owning role. Created or updated
// by `npm run db:migrate` when DATABASE_WEB_ROLE is set (docs/security.md). Only ordinary
// privileges are used (CREATEROLE and owning the tables), so it works on managed PostgreSQL
// (Supabase, RDS) where the migrating user is no superuser.
import type { Knex } from "knex";

type Privilege = "select" | "insert" | "update" | "delete";

/**
 * Table by table, what the web process may do. A table missing here (knex_migrations, admin_runs,
 * any table added later) is out of its reach until it is listed.
 */
export const WEB_GRANTS: Readonly<Record<string, readonly (Privilege | `update (${string})`)[]>> = {
  // Sign-in: the user's row, including their own OAuth token (encrypted), which pages use.
  users: ["select", "insert", "update"],
  sessions: ["select", "insert", "update", "delete"],
  // Security events are appended, never changed or removed.
  audit_log: ["select", "insert"],
  // The webhook recorder.
  webhook_deliveries: ["select", "insert", "update"],
  // Admission (dashboard re-runs): the installation row is locked (FOR UPDATE needs UPDATE), the
  // month's usage reserved, the job inserted; cancel patches the job.
  installations: ["select", "insert", "update"],
  usage_stats: ["select", "insert", "update"],
  bisect_jobs: ["select", "insert", "update"],
  // Cancelling marks the job's queued steps cancelled: that column only, no new or removed steps.
  bisect_steps: ["select", "update (status)"],
  metric_counters: ["select", "insert", "update"],
  // The rate limits every web process counts together; expired windows are removed.
  rate_limit_hits: ["select", "insert", "update", "delete"],
  // Read only: plans, repositories, the farm's state for /health and /metrics, the dashboard.
  rate_limits: ["select"],
  repositories: ["select"],
  auto_bisections: ["select"],
  runner_hosts: ["select"],
  runner_leases: ["select"],
  runner_mirrors: ["select"],
  runner_images: ["select"],
  worker_heartbeats: ["select"],
  instance: ["select"],
};

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A quoted SQL string literal (standard_conforming_strings is on since PostgreSQL 9.1). */
function literal(value: string): string {
  if (value.includes("\0")) throw new Error("a password cannot contain a NUL character");
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * Creates the role (or updates its password), then sets its grants to exactly WEB_GRANTS: whatever
 * it held before on our tables is revoked first. Run as the tables' owner, after the migrations.
 */
export async function ensureWebRole(knex: Knex, role: string, password: string): Promise<void> {
  if (!ROLE_NAME.test(role)) throw new Error(`not a role name we create: ${role}`);
  const current: { user: string } = (await knex.raw("select current_user as user")).rows[0];
  if (current.user === role) throw new Error("the web role must differ from the migrating role");
  const exists = await knex("pg_roles").where({ rolname: role }).first("rolname");
  const pw = literal(password);
  await knex.transaction(async (trx) => {
    await trx.raw(
      exists
        ? `alter role ${role} with login password ${pw}`
        : `create role ${role} with login nosuperuser nocreatedb nocreaterole password ${pw}`,
    );
    const database: string = (await trx.raw("select current_database() as d")).rows[0].d;
    await trx.raw(`grant connect on database "${database.replace(/"/g, '""')}" to ${role}`);
    await trx.raw(`revoke all on all tables in schema public from ${role}`);
    await trx.raw(`revoke all on all sequences in schema public from ${role}`);
    await trx.raw(`grant usage on schema public to ${role}`);
    for (const [table, privileges] of Object.entries(WEB_GRANTS)) {
      await trx.raw(`grant ${privileges.join(", ")} on table public.${table} to ${role}`);
    }
    // Serial ids of the tables it inserts into.
    await trx.raw(`grant usage on all sequences in schema public to ${role}`);
    // graphile_worker.add_job is no SECURITY DEFINER function: it inserts as its caller.
    await trx.raw(`revoke all on all tables in schema graphile_worker from ${role}`);
    await trx.raw(`grant usage on schema graphile_worker to ${role}`);
    await trx.raw(
      `grant execute on function graphile_worker.add_job(text, json, text, timestamptz, integer, text, integer, text[], text) to ${role}`,
    );
    await trx.raw(
      `grant execute on function graphile_worker.add_jobs(graphile_worker.job_spec[], boolean) to ${role}`,
    );
    await trx.raw(
      `grant select, insert, update, delete on graphile_worker._private_jobs to ${role}`,
    );
    await trx.raw(
      `grant select, insert on graphile_worker._private_tasks, graphile_worker._private_job_queues to ${role}`,
    );
    await trx.raw(`grant usage on all sequences in schema graphile_worker to ${role}`);
    // Its private tables have row-level security on and no policy: one per table lets this role
    // through (policies need only the tables' ownership, no superuser).
    for (const table of ["_private_jobs", "_private_tasks", "_private_job_queues"]) {
      const policy = `${role}_add_job`;
      await trx.raw(`drop policy if exists ${policy} on graphile_worker.${table}`);
      await trx.raw(
        `create policy ${policy} on graphile_worker.${table} to ${role} using (true) with check (true)`,
      );
    }
  });
}
