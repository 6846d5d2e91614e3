// Admin: bisection jobs — list, cancel (containers stopped by bisect__cancel), retry as a new job.
import type { Knex } from "knex";
import { BisectJob, FINAL_STATUSES, Installation, type JobStatus } from "../../db/models";
import type { AdmissionSettings } from "../bisection/admission";
import { cancelJob, retryJob } from "../bisection/control";
import type { ArgsOf } from "./commands";
import { AdminError } from "./errors";

export interface AdminJobRow {
  id: number;
  status: string;
  outcome: string | null;
  source: string;
  installation: string | null;
  repository: string | null;
  goodRef: string;
  badRef: string;
  culprit: string | null;
  createdAt: string;
  finishedAt: string | null;
  error: string | null;
}

export async function listJobs(
  knex: Knex,
  args: ArgsOf<"jobs.list">,
): Promise<{ jobs: AdminJobRow[] }> {
  const query = knex("bisectJobs as j")
    .leftJoin("repositories as r", "r.id", "j.repositoryId")
    .leftJoin("installations as i", "i.id", "j.installationId")
    .orderBy("j.id", "desc")
    .limit(args.limit)
    .select(
      "j.id",
      "j.status",
      "j.outcome",
      "j.source",
      "j.goodRef",
      "j.badRef",
      "j.culpritSha",
      "j.createdAt",
      "j.finishedAt",
      "j.error",
      "j.repoUrl",
      "r.owner",
      "r.name",
      "i.accountLogin",
    );
  if (args.status === "active") query.whereNotIn("j.status", FINAL_STATUSES as JobStatus[]);
  else if (args.status) query.where("j.status", args.status);
  const rows = (await query) as Array<Record<string, unknown>>;
  return {
    jobs: rows.map((r) => ({
      id: Number(r.id),
      status: r.status as string,
      outcome: (r.outcome as string | null) ?? null,
      source: r.source as string,
      installation: (r.accountLogin as string | null) ?? null,
      repository: r.owner ? `${r.owner}/${r.name}` : ((r.repoUrl as string | null) ?? null),
      goodRef: r.goodRef as string,
      badRef: r.badRef as string,
      culprit: (r.culpritSha as string | null) ?? null,
      createdAt: (r.createdAt as Date).toISOString(),
      finishedAt: r.finishedAt ? (r.finishedAt as Date).toISOString() : null,
      error: (r.error as string | null) ?? null,
    })),
  };
}

async function findJob(knex: Knex, id: number): Promise<BisectJob> {
  const job = await BisectJob.query(knex).findById(id);
  if (!job) throw new AdminError(`no job ${id}`);
  return job;
}

export async function cancelJobAsAdmin(
  knex: Knex,
  args: ArgsOf<"jobs.cancel">,
): Promise<{ id: number; previousStatus: string; status: string }> {
  const job = await findJob(knex, args.id);
  if (!(await cancelJob(knex, job.id, { login: "admin" }, "cancelled by an administrator"))) {
    const now = await findJob(knex, args.id);
    throw new AdminError(`job ${job.id} had already ended (${now.status})`);
  }
  return { id: job.id, previousStatus: job.status, status: "cancelled" };
}

export async function retryJobAsAdmin(
  knex: Knex,
  args: ArgsOf<"jobs.retry">,
  settings: AdmissionSettings,
): Promise<{ id: number; newJobId: number }> {
  const job = await findJob(knex, args.id);
  const admission = await retryJob(knex, job.id, { kind: "operator", login: "admin" }, settings);
  if (!admission) throw new AdminError(`no job ${args.id}`);
  if (!admission.admitted) {
    switch (admission.reason) {
      case "inactive": {
        const inst = await Installation.query(knex).findById(job.installationId!);
        throw new AdminError(
          `job ${job.id} belongs to installation ${job.installationId}${inst ? ` (${inst.accountLogin})` : ""}, which is ${inst?.suspendedAt && !inst.deletedAt ? "suspended" : "uninstalled"}: resume it first`,
        );
      }
      case "still-active":
        throw new AdminError(`job ${job.id} is still ${admission.job.status}: cancel it first`);
      case "quota":
        throw new AdminError(
          `installation ${job.installationId} has used ${admission.used} of its ${admission.limit} jobs this month (${admission.tier}); raise its tier or wait until ${admission.resetsAt.toISOString().slice(0, 10)}`,
        );
    }
  }
  return { id: job.id, newJobId: admission.job.id };
}
