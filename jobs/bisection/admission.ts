// Admission: the one way a bisection job comes to exist. A `/bisect` comment, `/bisect retry`, a
// dashboard re-run, an admin retry and `npm run bisect -- --farm` all call `admitJob`, so every
// path gets the same checks: who vouched for the request, the installation is active, the plan's
// limits as they are now (not as they were when an earlier job ran), the monthly quota counted in
// the same transaction that creates the job, and no re-run of a job that has not ended.
import type { Knex } from "knex";
import {
  AuditLogEntry,
  BisectJob,
  Installation,
  RateLimit,
  UsageStat,
  monthOf,
  type JobOptions,
} from "../../db/models";
import { createJob, type NewJob } from "./intake";

/**
 * Who vouches for the request. Only the trust gates produce a `writer`: the comment path after
 * GitHub confirmed write access, the dashboard after the same check with the user's token.
 * Operators (admin CLI, `--farm` on the product's own database) are trusted by position.
 */
export type Authority =
  | { kind: "writer"; login: string; githubId?: number | null; repositoryId: number }
  | { kind: "operator"; login: string }
  /**
   * A configured check turned red on the default branch (`auto:` of bisect.yml on that branch,
   * which only people with write access can change). `login` names it for the audit log.
   */
  | { kind: "automatic"; login: string; repositoryId: number };

export interface AdmissionRequest extends Omit<
  NewJob,
  "requesterLogin" | "requesterId" | "options"
> {
  authority: Authority;
  options: JobOptions;
  /** The per-run timeout the requester asked for; defaults to the operator's setting. */
  requestedTimeoutSeconds?: number;
  ip?: string | null;
  /** More for the audit log row (e.g. the repository's name). */
  audit?: Record<string, unknown>;
}

export interface TimeoutCap {
  requestedSeconds: number;
  maxSeconds: number;
  tier: string;
}

/** The plan lowered the requested `--parallel`. */
export interface ParallelCap {
  requested: number;
  max: number;
  tier: string;
}

export type Admission =
  | {
      admitted: true;
      job: BisectJob;
      created: boolean;
      timeoutCap: TimeoutCap | null;
      parallelCap: ParallelCap | null;
    }
  | { admitted: false; reason: "inactive"; message: string }
  | {
      admitted: false;
      reason: "quota";
      used: number;
      limit: number;
      tier: string;
      resetsAt: Date;
      /** The plan's cap on automatic bisections was reached (not the one on all jobs). */
      automatic?: boolean;
    }
  | { admitted: false; reason: "still-active"; job: BisectJob };

export interface AdmissionSettings {
  /** RUNNER_STEP_TIMEOUT_SECONDS: the per-run timeout when none is asked for. */
  defaultTimeoutSeconds: number;
}

/**
 * The per-run timeout within the plan: its longest run, and its maximum duration (which also
 * bounds the whole job).
 */
export function capTimeout(
  requested: number | undefined,
  plan: Pick<RateLimit, "maxDurationSeconds" | "runTimeoutSeconds" | "tier">,
  settings: AdmissionSettings,
): { options: Pick<JobOptions, "timeoutSeconds" | "maxDurationSeconds">; cap: TimeoutCap | null } {
  const wanted = requested ?? settings.defaultTimeoutSeconds;
  const maxSeconds = Math.min(plan.runTimeoutSeconds, plan.maxDurationSeconds);
  const timeoutSeconds = Math.min(wanted, maxSeconds);
  return {
    options: { timeoutSeconds, maxDurationSeconds: plan.maxDurationSeconds },
    cap:
      timeoutSeconds < wanted && requested !== undefined
        ? { requestedSeconds: wanted, maxSeconds, tier: plan.tier }
        : null,
  };
}

/** Automatic jobs of the installation created this month (under the usage row's lock). */
async function automaticJobsThisMonth(
  trx: Knex.Transaction,
  installationId: number,
  month: string,
): Promise<number> {
  const [row] = await trx("bisect_jobs")
    .where({ installationId, source: "auto" })
    .where("createdAt", ">=", `${month}T00:00:00Z`)
    .count<{ count: string }[]>("* as count");
  return Number(row?.count ?? 0);
}

/** The resources of one run on the plan, as stored with a job (the runner caps them again). */
export function planResources(
  plan: Pick<RateLimit, "runMemoryMb" | "runCpus" | "runWorkMb">,
): NonNullable<JobOptions["resources"]> {
  return { memoryMb: plan.runMemoryMb, cpus: plan.runCpus, workMb: plan.runWorkMb };
}

/** The first instant of the next UTC month: when a monthly quota resets. */
export function quotaResetsAt(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}

export async function admitJob(
  knex: Knex,
  request: AdmissionRequest,
  settings: AdmissionSettings,
): Promise<Admission> {
  const { authority, requestedTimeoutSeconds, ip, audit, ...spec } = request;
  if (spec.installationId != null) {
    if (authority.kind !== "operator" && authority.repositoryId !== spec.repositoryId)
      throw new Error("admission: the request was vouched for another repository");
  }
  return knex.transaction(async (trx) => {
    if (spec.retryOfJobId) {
      const previous = await BisectJob.query(trx).findById(spec.retryOfJobId).forUpdate();
      if (previous && !previous.isFinal)
        return { admitted: false, reason: "still-active", job: previous };
    }
    let options = spec.options;
    let timeoutCap: TimeoutCap | null = null;
    let parallelCap: ParallelCap | null = null;
    let plan: RateLimit | undefined;
    const month = monthOf(new Date());
    if (spec.installationId != null) {
      const installation = await Installation.query(trx).findById(spec.installationId).forUpdate();
      if (!installation || installation.deletedAt || installation.suspendedAt) {
        return {
          admitted: false,
          reason: "inactive",
          message: `installation ${spec.installationId} is ${installation?.deletedAt || !installation ? "uninstalled" : "suspended"}`,
        };
      }
      plan = await RateLimit.query(trx).findById(installation.tier);
      if (!plan) throw new Error(`no plan ${installation.tier} in rate_limits`);
      const capped = capTimeout(requestedTimeoutSeconds, plan, settings);
      // Network for the test runs only where the operator allows it for the plan.
      options = {
        ...options,
        ...capped.options,
        network: Boolean(options.network && plan.testNetwork),
        resources: planResources(plan),
      };
      timeoutCap = capped.cap;
      const requested = options.parallel ?? 1;
      if (requested > plan.maxParallel) {
        options = { ...options, parallel: plan.maxParallel };
        parallelCap = { requested, max: plan.maxParallel, tier: plan.tier };
      }
      // The usage row is locked for the rest of the transaction: parallel requests queue here.
      const used = await UsageStat.reserve(trx, installation.id, month);
      if (plan.jobsPerMonth !== null && used >= plan.jobsPerMonth) {
        return {
          admitted: false,
          reason: "quota",
          used,
          limit: plan.jobsPerMonth,
          tier: plan.tier,
          resetsAt: quotaResetsAt(new Date()),
        };
      }
      if (authority.kind === "automatic" && plan.autoJobsPerMonth !== null) {
        const automatic = await automaticJobsThisMonth(trx, installation.id, month);
        if (automatic >= plan.autoJobsPerMonth)
          return {
            admitted: false,
            reason: "quota",
            used: automatic,
            limit: plan.autoJobsPerMonth,
            tier: plan.tier,
            resetsAt: quotaResetsAt(new Date()),
            automatic: true,
          };
      }
    } else if (requestedTimeoutSeconds !== undefined || options.timeoutSeconds === undefined) {
      options = {
        ...options,
        timeoutSeconds: requestedTimeoutSeconds ?? settings.defaultTimeoutSeconds,
      };
    }
    const { job, created } = await createJob(trx, {
      ...spec,
      options,
      requesterLogin: authority.kind === "automatic" ? null : authority.login,
      requesterId: authority.kind === "writer" ? (authority.githubId ?? null) : null,
    });
    if (created) {
      if (spec.installationId != null) await UsageStat.countJob(trx, spec.installationId, month);
      await AuditLogEntry.record(trx, {
        actor: authority.login,
        action: spec.retryOfJobId ? "job.retry" : "job.create",
        subjectType: "bisect_job",
        subjectId: String(spec.retryOfJobId ?? job.id),
        details: {
          jobId: job.id,
          source: spec.source,
          ...(spec.issueNumber ? { issue: spec.issueNumber } : {}),
          ...(spec.triggerCommentId ? { commentId: spec.triggerCommentId } : {}),
          ...(plan ? { tier: plan.tier } : {}),
          ...audit,
        },
        ip: ip ?? null,
      });
    }
    return { admitted: true, job, created, timeoutCap, parallelCap };
  });
}
