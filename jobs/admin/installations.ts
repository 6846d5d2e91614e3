// Admin: installations — their plan, and suspension (which cancels their queued and running jobs).
import type { Knex } from "knex";
import { BisectJob, FINAL_STATUSES, Installation, monthOf, type JobStatus } from "../../db/models";
import { cancelJob } from "../bisection/control";
import type { ArgsOf } from "./commands";
import { AdminError } from "./errors";

export interface InstallationView {
  id: number;
  login: string;
  type: string;
  tier: string;
  state: "active" | "suspended" | "deleted";
  suspendedAt: string | null;
  repositories: number;
  activeJobs: number;
  jobsThisMonth: number;
  createdAt: string;
}

const stateOf = (i: Pick<Installation, "deletedAt" | "suspendedAt">): InstallationView["state"] =>
  i.deletedAt ? "deleted" : i.suspendedAt ? "suspended" : "active";

/** An installation by GitHub id, or by account login (case-insensitive; an uninstalled one only when nothing else matches). */
export async function resolveInstallation(knex: Knex, ref: string): Promise<Installation> {
  if (/^\d+$/.test(ref)) {
    const found = await Installation.query(knex).findById(Number(ref));
    if (found) return found;
  }
  const matches = await Installation.query(knex)
    .whereRaw("lower(account_login) = lower(?)", [ref])
    .orderByRaw("deleted_at is not null, id");
  const live = matches.filter((m) => !m.deletedAt);
  if (live.length > 1)
    throw new AdminError(
      `${ref} names several installations (${live.map((m) => m.id).join(", ")}): use the id`,
    );
  const found = live[0] ?? matches[0];
  if (!found) throw new AdminError(`no installation with the id or account login ${ref}`);
  return found;
}

export async function listInstallations(
  knex: Knex,
  now = new Date(),
): Promise<{ installations: InstallationView[] }> {
  const rows = await knex("installations as i")
    .leftJoin(
      knex("repositories")
        .whereNull("removedAt")
        .groupBy("installationId")
        .select("installationId")
        .count({ n: "*" })
        .as("r"),
      "r.installationId",
      "i.id",
    )
    .leftJoin(
      knex("bisectJobs")
        .whereNotIn("status", FINAL_STATUSES as JobStatus[])
        .groupBy("installationId")
        .select("installationId")
        .count({ n: "*" })
        .as("j"),
      "j.installationId",
      "i.id",
    )
    .leftJoin("usageStats as u", (j) =>
      j.on("u.installationId", "i.id").andOnVal("u.month", monthOf(now)),
    )
    .orderBy("i.accountLogin")
    .orderBy("i.id")
    .select(
      "i.*",
      knex.raw("coalesce(r.n, 0)::int as repositories"),
      knex.raw("coalesce(j.n, 0)::int as active_jobs"),
      knex.raw("coalesce(u.jobs, 0) as jobs_this_month"),
    );
  return {
    installations: rows.map(
      (
        r: Record<string, unknown> &
          Installation & { repositories: number; activeJobs: number; jobsThisMonth: number },
      ) => ({
        id: Number(r.id),
        login: r.accountLogin,
        type: r.accountType,
        tier: r.tier,
        state: stateOf(r),
        suspendedAt: r.suspendedAt ? new Date(r.suspendedAt).toISOString() : null,
        repositories: Number(r.repositories),
        activeJobs: Number(r.activeJobs),
        jobsThisMonth: Number(r.jobsThisMonth),
        createdAt: new Date(r.createdAt).toISOString(),
      }),
    ),
  };
}

export async function setTier(
  knex: Knex,
  args: ArgsOf<"installations.set-tier">,
): Promise<{ id: number; login: string; previousTier: string; tier: string }> {
  const inst = await resolveInstallation(knex, args.installation);
  if (inst.tier !== args.tier)
    await Installation.query(knex).patch({ tier: args.tier }).where({ id: inst.id });
  return { id: inst.id, login: inst.accountLogin, previousTier: inst.tier, tier: args.tier };
}

export interface SuspendResult {
  id: number;
  login: string;
  alreadySuspended: boolean;
  cancelledJobs: number[];
}

/** Marks the installation suspended first (so no new job starts), then cancels its active jobs. */
export async function suspendInstallation(
  knex: Knex,
  args: ArgsOf<"installations.suspend">,
): Promise<SuspendResult> {
  const inst = await resolveInstallation(knex, args.installation);
  if (inst.deletedAt)
    throw new AdminError(`installation ${inst.id} (${inst.accountLogin}) was uninstalled`);
  // The operator's own suspension: GitHub's "unsuspend" does not lift it.
  if (!inst.operatorSuspendedAt)
    await Installation.query(knex)
      .patch({ operatorSuspendedAt: new Date() })
      .where({ id: inst.id });
  const active = await BisectJob.query(knex)
    .where({ installationId: inst.id })
    .whereNotIn("status", FINAL_STATUSES as JobStatus[])
    .orderBy("id")
    .select("id");
  const cancelledJobs: number[] = [];
  for (const { id } of active) {
    if (
      await cancelJob(
        knex,
        id,
        { login: "admin" },
        "the installation was suspended by an administrator",
      )
    )
      cancelledJobs.push(id);
  }
  return {
    id: inst.id,
    login: inst.accountLogin,
    alreadySuspended: inst.operatorSuspendedAt !== null,
    cancelledJobs,
  };
}

export async function resumeInstallation(
  knex: Knex,
  args: ArgsOf<"installations.resume">,
): Promise<{ id: number; login: string; wasSuspended: boolean }> {
  const inst = await resolveInstallation(knex, args.installation);
  if (inst.deletedAt)
    throw new AdminError(
      `installation ${inst.id} (${inst.accountLogin}) was uninstalled; it comes back when the app is installed again`,
    );
  // Lifts the operator's suspension only; one made on GitHub stays until GitHub lifts it.
  if (inst.operatorSuspendedAt)
    await Installation.query(knex).patch({ operatorSuspendedAt: null }).where({ id: inst.id });
  return { id: inst.id, login: inst.accountLogin, wasSuspended: inst.operatorSuspendedAt !== null };
}
