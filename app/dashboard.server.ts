// The dashboard's reads: jobs (filtered, paginated), usage against the plan, one job with its steps.
// Every function takes a Viewer and only ever reads inside `viewer.installationIds`; jobs only
// from the repositories GitHub lists for the viewer.
import { z } from "zod";
import {
  FINAL_STATUSES,
  JOB_STATUSES,
  monthOf,
  type BisectJob,
  type JobStatus,
} from "../db/models";
import { automaticOff } from "./automatic.server";
import { viewerRepositories, visibleRepositoryIds, type Viewer } from "./access.server";
import { bisectionPicture, type Picture } from "./bisection-picture";
import { getConfig } from "./config.server";
import { getDb } from "./db.server";
import { runResources, type RunResources } from "../jobs/farm/policy";

export const PAGE_SIZE = 25;

const optionalId = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/)
  .transform(Number)
  .optional()
  .catch(undefined);

const filtersSchema = z.object({
  status: z.enum(JOB_STATUSES).optional().catch(undefined),
  repo: optionalId,
  before: optionalId,
  after: optionalId,
});
export type JobFilters = z.output<typeof filtersSchema>;

/** Filters from a query string; anything invalid is ignored rather than an error. */
export function parseJobFilters(params: URLSearchParams): JobFilters {
  const raw: Record<string, string> = {};
  for (const key of ["status", "repo", "before", "after"]) {
    const value = params.get(key);
    if (value) raw[key] = value;
  }
  return filtersSchema.parse(raw);
}

export interface JobRow {
  id: number;
  status: JobStatus;
  outcome: string | null;
  repository: string | null;
  issueNumber: number | null;
  requesterLogin: string | null;
  /** `auto`: started by a check turning red, not by a person. */
  source: string;
  goodRef: string;
  badRef: string;
  command: string;
  culpritSha: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface JobPage {
  jobs: JobRow[];
  /** Cursor for the previous (newer) page, or null on the first page. */
  newer: number | null;
  /** Cursor for the next (older) page, or null on the last page. */
  older: number | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** One row of the job list's query (bisect_jobs joined with its repository). */
interface JobListRow {
  id: number;
  status: JobStatus;
  outcome: string | null;
  issueNumber: number | null;
  requesterLogin: string | null;
  source: string;
  goodRef: string;
  badRef: string;
  command: string;
  culpritSha: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  owner: string | null;
  name: string | null;
}

export async function listJobs(viewer: Viewer, filters: JobFilters): Promise<JobPage> {
  if (viewer.installationIds.size === 0) return { jobs: [], newer: null, older: null };
  const repositoryIds = await visibleRepositoryIds(viewer);
  if (repositoryIds.length === 0) return { jobs: [], newer: null, older: null };
  const db = getDb();
  const forward = filters.after === undefined; // newest first, optionally older than `before`
  const query = db("bisectJobs as j")
    .leftJoin("repositories as r", "r.id", "j.repositoryId")
    .whereIn("j.installationId", [...viewer.installationIds])
    .whereRaw("j.repository_id = any(?::bigint[])", [repositoryIds])
    .select<JobListRow[]>(
      "j.id",
      "j.status",
      "j.outcome",
      "j.issueNumber",
      "j.requesterLogin",
      "j.source",
      "j.goodRef",
      "j.badRef",
      db.raw("left(j.command, 200) as command"),
      "j.culpritSha",
      "j.createdAt",
      "j.finishedAt",
      "r.owner",
      "r.name",
    )
    .limit(PAGE_SIZE + 1);
  if (filters.status) query.where("j.status", filters.status);
  if (filters.repo) query.where("j.repositoryId", filters.repo);
  if (forward) {
    if (filters.before !== undefined) query.where("j.id", "<", filters.before);
    query.orderBy("j.id", "desc");
  } else {
    query.where("j.id", ">", filters.after!).orderBy("j.id", "asc");
  }
  const rows = await query;
  const more = rows.length > PAGE_SIZE;
  const page = rows.slice(0, PAGE_SIZE);
  if (!forward) page.reverse();
  const jobs: JobRow[] = page.map((r) => ({
    id: r.id,
    status: r.status,
    outcome: r.outcome ?? null,
    repository: r.owner ? `${r.owner}/${r.name}` : null,
    issueNumber: r.issueNumber ?? null,
    requesterLogin: r.requesterLogin ?? null,
    source: r.source,
    goodRef: r.goodRef,
    badRef: r.badRef,
    command: r.command,
    culpritSha: (r.culpritSha ?? null)?.trim() ?? null,
    createdAt: iso(r.createdAt)!,
    finishedAt: iso(r.finishedAt),
  }));
  const first = jobs[0]?.id ?? null;
  const last = jobs[jobs.length - 1]?.id ?? null;
  return forward
    ? { jobs, newer: filters.before !== undefined ? first : null, older: more ? last : null }
    : { jobs, newer: more ? first : null, older: last };
}

export interface MonthUsage {
  /** 'YYYY-MM' */
  month: string;
  jobs: number;
  computeMinutes: number;
}

export interface InstallationUsage {
  installationId: number;
  accountLogin: string;
  tier: string;
  jobsPerMonth: number | null;
  maxDurationMinutes: number;
  maxConcurrent: number;
  /** What one run gets on the plan (within the runner's own limits). */
  run: RunResources & { timeoutMinutes: number };
  running: number;
  thisMonth: MonthUsage;
  /** The last six months, oldest first (this month last). */
  history: MonthUsage[];
}

/** The first days of the last `count` months (UTC), oldest first. */
export function lastMonths(now: Date, count: number): string[] {
  const months: string[] = [];
  for (let k = count - 1; k >= 0; k--)
    months.push(monthOf(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - k, 1))));
  return months;
}

/** An installation's plan (installations joined with rate_limits). */
interface PlanRow {
  id: number;
  tier: string;
  jobsPerMonth: number | null;
  maxDurationSeconds: number;
  maxConcurrent: number;
  runMemoryMb: number;
  runCpus: number;
  runWorkMb: number;
  runTimeoutSeconds: number;
}

/** One month of an installation's usage_stats. */
interface UsageRow {
  installationId: number;
  month: string;
  jobs: number;
  computeSeconds: number;
}

/** How many jobs an installation has running (PostgreSQL counts as a string). */
interface RunningRow {
  installationId: number;
  count: number | string;
}

export async function usageByInstallation(
  viewer: Viewer,
  now = new Date(),
): Promise<InstallationUsage[]> {
  if (viewer.installations.length === 0) return [];
  const db = getDb();
  const ids = viewer.installations.map((i) => i.id);
  const months = lastMonths(now, 6);
  const [plans, usage, running] = await Promise.all([
    db("installations as i")
      .join("rateLimits as p", "p.tier", "i.tier")
      .whereIn("i.id", ids)
      .select<PlanRow[]>(
        "i.id",
        "i.tier",
        "p.jobsPerMonth",
        "p.maxDurationSeconds",
        "p.maxConcurrent",
        "p.runMemoryMb",
        "p.runCpus",
        "p.runWorkMb",
        "p.runTimeoutSeconds",
      ),
    db("usageStats")
      .whereIn("installationId", ids)
      .where("month", ">=", months[0]!)
      .select<UsageRow[]>("installationId", "month", "jobs", "computeSeconds"),
    db("bisectJobs")
      .whereIn("installationId", ids)
      .whereIn("status", ["preparing", "running"])
      .groupBy("installationId")
      .select("installationId")
      .count<RunningRow[]>({ count: "*" }),
  ]);
  const planOf = new Map(plans.map((p) => [p.id, p]));
  const config = getConfig();
  const runningOf = new Map(running.map((r) => [r.installationId, Number(r.count)]));
  return viewer.installations.map((inst) => {
    const plan = planOf.get(inst.id);
    const history = months.map((month) => {
      const row = usage.find((u) => u.installationId === inst.id && u.month === month);
      return {
        month: month.slice(0, 7),
        jobs: row?.jobs ?? 0,
        computeMinutes: Math.round((row?.computeSeconds ?? 0) / 60),
      };
    });
    return {
      installationId: inst.id,
      accountLogin: inst.accountLogin,
      tier: plan?.tier ?? inst.tier,
      jobsPerMonth: plan ? plan.jobsPerMonth : null,
      maxDurationMinutes: Math.round((plan?.maxDurationSeconds ?? 0) / 60),
      maxConcurrent: plan?.maxConcurrent ?? 1,
      run: {
        ...runResources(
          config,
          plan && { memoryMb: plan.runMemoryMb, cpus: plan.runCpus, workMb: plan.runWorkMb },
        ),
        timeoutMinutes: Math.round(
          Math.min(
            plan?.runTimeoutSeconds ?? Infinity,
            plan?.maxDurationSeconds ?? Infinity,
            config.RUNNER_STEP_TIMEOUT_SECONDS,
          ) / 60,
        ),
      },
      running: runningOf.get(inst.id) ?? 0,
      thisMonth: history[history.length - 1]!,
      history,
    };
  });
}

export interface DashboardStep {
  id: number;
  sha: string;
  round: number;
  attempt: number;
  status: string;
  verdict: "good" | "bad" | "skip" | "error" | null;
  reason: string | null;
  exitCode: number | null;
  durationMs: number | null;
  host: string | null;
  /** The log excerpt, or its last LOG_TAIL_CHARS characters on the job page (see logLength). */
  logExcerpt: string | null;
  /** Characters in the whole stored excerpt. */
  logLength: number;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface DashboardJob {
  id: number;
  status: JobStatus;
  active: boolean;
  outcome: string | null;
  source: string;
  installationId: number;
  repository: { owner: string; name: string; fullName: string } | null;
  issueNumber: number | null;
  requesterLogin: string | null;
  goodRef: string;
  badRef: string;
  goodSha: string | null;
  badSha: string | null;
  command: string;
  setupCommand: string | null;
  options: Record<string, unknown>;
  commitCount: number | null;
  culpritSha: string | null;
  candidates: string[] | null;
  confidence: number | null;
  explanation: string | null;
  error: string | null;
  rounds: number;
  retryOfJobId: number | null;
  /** Running time so far (active jobs: until this page was made, so server and browser show the same). */
  durationMs: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  cancelRequestedAt: string | null;
}

const trimSha = (s: string | null) => (s ? s.trim() : null);

/** One row of the job page's step query (bisect_steps joined with the runner host). */
interface StepRow {
  id: number;
  sha: string;
  round: number;
  attempt: number;
  status: string;
  verdict: DashboardStep["verdict"] | null;
  reason: string | null;
  exitCode: number | null;
  durationMs: number | null;
  host: string | null;
  logExcerpt: string | null;
  /** coalesce(length(…)) may come back as a string. */
  logLength: number | string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** The job page shows this much of each step's log; the rest is one link away. */
export const LOG_TAIL_CHARS = 4000;

export async function jobWithSteps(
  job: BisectJob,
  options: { logs: "tail" | "full" } = { logs: "full" },
): Promise<{ job: DashboardJob; steps: DashboardStep[] }> {
  const db = getDb();
  const [repository, steps] = await Promise.all([
    job.repositoryId
      ? db("repositories").where({ id: job.repositoryId }).first("owner", "name")
      : Promise.resolve(undefined),
    db("bisectSteps as s")
      .leftJoin("runnerHosts as h", "h.id", "s.runnerHostId")
      .where("s.bisectJobId", job.id)
      .orderBy([{ column: "s.round" }, { column: "s.id" }])
      .select<StepRow[]>(
        "s.id",
        "s.sha",
        "s.round",
        "s.attempt",
        "s.status",
        "s.verdict",
        "s.reason",
        "s.exitCode",
        "s.durationMs",
        "h.name as host",
        options.logs === "full"
          ? "s.logExcerpt"
          : db.raw("right(s.log_excerpt, ?) as log_excerpt", [LOG_TAIL_CHARS]),
        db.raw("coalesce(length(s.log_excerpt), 0) as log_length"),
        "s.startedAt",
        "s.finishedAt",
      ),
  ]);
  return {
    job: {
      id: job.id,
      status: job.status,
      active: !FINAL_STATUSES.includes(job.status),
      outcome: job.outcome,
      source: job.source,
      installationId: job.installationId!,
      repository: repository
        ? {
            owner: repository.owner,
            name: repository.name,
            fullName: `${repository.owner}/${repository.name}`,
          }
        : null,
      issueNumber: job.issueNumber,
      requesterLogin: job.requesterLogin,
      goodRef: job.goodRef,
      badRef: job.badRef,
      goodSha: trimSha(job.goodSha),
      badSha: trimSha(job.badSha),
      command: job.command,
      setupCommand: job.setupCommand,
      options: (job.options ?? {}) as Record<string, unknown>,
      commitCount: job.commitCount,
      culpritSha: trimSha(job.culpritSha),
      candidates: job.candidates,
      confidence: job.confidence,
      explanation: job.explanation,
      error: job.error,
      rounds: job.rounds,
      retryOfJobId: job.retryOfJobId,
      durationMs: job.startedAt
        ? (job.finishedAt ?? new Date()).getTime() - job.startedAt.getTime()
        : null,
      createdAt: job.createdAt.toISOString(),
      startedAt: iso(job.startedAt),
      finishedAt: iso(job.finishedAt),
      cancelRequestedAt: iso(job.cancelRequestedAt),
    },
    steps: steps.map((s) => ({
      id: s.id,
      sha: s.sha.trim(),
      round: s.round,
      attempt: s.attempt,
      status: s.status,
      verdict: s.verdict ?? null,
      reason: s.reason ?? null,
      exitCode: s.exitCode ?? null,
      durationMs: s.durationMs ?? null,
      host: s.host ?? null,
      logExcerpt: s.logExcerpt ?? null,
      logLength: Number(s.logLength ?? 0),
      startedAt: iso(s.startedAt),
      finishedAt: iso(s.finishedAt),
    })),
  };
}

// Pictures by job and version: a job page re-rendered by live updates recomputes the picture only
// when a step changed, and the (possibly large) commit graph is read only then.
const pictures = new Map<string, Picture>();
const MAX_PICTURES = 64;

/** The job, its steps and the picture of its bisection, for the job page. */
export async function jobPage(
  job: BisectJob,
): Promise<{ job: DashboardJob; steps: DashboardStep[]; picture: Picture; version: string }> {
  // The version is read first: anything written later changes it, and the page updates again.
  const version = await jobVersion(job.id);
  const { job: view, steps } = await jobWithSteps(job, { logs: "tail" });
  const key = `${job.id}:${version}`;
  let picture = pictures.get(key);
  if (!picture) {
    const row = await getDb()("bisectJobs").where({ id: job.id }).first("graph");
    const options = view.options as {
      firstParent?: boolean;
      runs?: number;
      failThreshold?: number;
    };
    picture = bisectionPicture({
      graph: row?.graph ?? null,
      firstParent: options.firstParent === true,
      runs: typeof options.runs === "number" ? options.runs : 1,
      failThreshold: typeof options.failThreshold === "number" ? options.failThreshold : 1,
      steps: steps.map((s) => ({ sha: s.sha, round: s.round, verdict: s.verdict })),
    });
    if (pictures.size >= MAX_PICTURES) pictures.delete(pictures.keys().next().value!);
    pictures.set(key, picture);
  }
  return { job: view, steps, picture, version };
}

/**
 * A fingerprint of everything the job page shows: it changes whenever the job or any of its steps
 * is written (updated_at is kept by a trigger). The live-update stream compares it every second.
 */
export async function jobVersion(jobId: number): Promise<string> {
  const { rows } = await getDb().raw<{
    rows: Array<{ status: string; updated: Date | null; steps: number; touched: Date | null }>;
  }>(
    // Single-word aliases: raw results keep the column names as written.
    `select j.status, j.updated_at as updated, s.steps, s.touched
       from bisect_jobs j,
            lateral (select count(*)::int as steps, max(updated_at) as touched from bisect_steps where bisect_job_id = j.id) s
      where j.id = ?`,
    [jobId],
  );
  const row = rows[0];
  if (!row) return "gone";
  return [row.status, row.updated?.getTime() ?? 0, row.steps, row.touched?.getTime() ?? 0].join(
    ":",
  );
}

export function isFinalStatus(status: string): boolean {
  return (FINAL_STATUSES as readonly string[]).includes(status);
}

export interface InstallationView {
  id: number;
  accountLogin: string;
  accountType: string;
  tier: string;
  suspended: boolean;
  repositorySelection: "all" | "selected" | null;
  /** null when GitHub could not be asked. */
  repositories: Array<{ id: number; fullName: string; private: boolean }> | null;
}

/** The viewer's installations with the repositories GitHub shows them (a failed lookup shows as null). */
export async function installationsWithRepositories(viewer: Viewer): Promise<InstallationView[]> {
  return Promise.all(
    viewer.installations.map(async (inst) => {
      let repositories: InstallationView["repositories"];
      try {
        repositories = (await viewerRepositories(viewer, inst.id))
          .map((r) => ({ id: r.id, fullName: r.full_name, private: r.private }))
          .sort((a, b) => a.fullName.localeCompare(b.fullName));
      } catch (error) {
        console.error(
          JSON.stringify({
            level: "warn",
            component: "web",
            message: "repositories lookup failed",
            installationId: inst.id,
            error: String(error),
          }),
        );
        repositories = null;
      }
      return { ...inst, repositories };
    }),
  );
}

/** Everything /dashboard shows. */
export async function dashboardOverview(viewer: Viewer, params: URLSearchParams) {
  const filters = parseJobFilters(params);
  const [installations, usage, page, automatic] = await Promise.all([
    installationsWithRepositories(viewer),
    usageByInstallation(viewer),
    listJobs(viewer, filters),
    automaticOff(viewer.installations.map((i) => i.id)),
  ]);
  const repositoryOptions = installations
    .flatMap((i) => i.repositories ?? [])
    .sort((a, b) => a.fullName.localeCompare(b.fullName))
    .map((r) => ({ id: r.id, fullName: r.fullName }));
  return { filters, installations, usage, page, repositoryOptions, automatic };
}

/** One step's whole stored log, when the step belongs to this job. */
export async function stepLog(
  jobId: number,
  stepParam: string | undefined,
): Promise<{ sha: string; log: string } | null> {
  if (!stepParam || !/^[1-9][0-9]{0,15}$/.test(stepParam)) return null;
  const row = await getDb()("bisectSteps")
    .where({ id: Number(stepParam), bisectJobId: jobId })
    .first("sha", "logExcerpt");
  return row ? { sha: String(row.sha).trim(), log: row.logExcerpt ?? "" } : null;
}
