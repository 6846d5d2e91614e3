// The one status comment per GitHub job: created when the job is queued, edited as it
// progresses (at most one edit per THROTTLE_MS while it runs; the final result at once).
import { createHash } from "node:crypto";
import type { Octokit } from "@octokit/rest";
import type { Knex } from "knex";
import {
  BisectJob,
  BisectStep,
  Installation,
  RateLimit,
  Repository,
  UsageStat,
  monthOf,
} from "../../db/models";
import { enqueue } from "../catalog";
import type { WorkerContext } from "../worker-context";
import { githubApp, httpStatus, retryDelayMs, type GitHubApp } from "./app-client";
import {
  renderStatusComment,
  statusMarker,
  type CommitDetails,
  type QuotaView,
  type StatusCommentInput,
} from "./render";
import type { StatusCommentCache } from "./status-cache";

/** While a job runs, its comment is edited at most this often. */
export const THROTTLE_MS = 10_000;

/** Enqueues a (re)render of a job's status comment; pending ones coalesce per job. */
export async function enqueueStatusComment(
  db: Knex | Knex.Transaction,
  jobId: number,
  options: { runAt?: Date; retry?: number } = {},
): Promise<void> {
  await enqueue(
    db,
    "github__status_comment",
    options.retry ? { jobId, retry: options.retry } : { jobId },
    { runAt: options.runAt },
  );
}

export interface SyncOptions {
  /** Ignore the throttle (the first render at intake). */
  force?: boolean;
  /** A previous attempt may have created the comment without recording it: look for it first. */
  recover?: boolean;
  /** Shown in the first render only: the plan lowered the requested per-run timeout. */
  timeoutCap?: StatusCommentInput["timeoutCap"];
  /** Likewise: the plan lowered the requested --parallel. */
  parallelCap?: StatusCommentInput["parallelCap"];
}

export type SyncResult =
  | { action: "created" | "edited" | "unchanged"; commentId: number }
  | { action: "skipped"; reason: string }
  | { action: "throttled"; retryAt: Date };

export interface Target {
  job: BisectJob;
  repo: Repository;
  installation: Installation;
}

async function loadTarget(knex: Knex, jobId: number): Promise<Target | string> {
  const job = await BisectJob.query(knex).findById(jobId);
  if (!job) return "no such job";
  if (job.source !== "github" || !job.repositoryId || !job.issueNumber)
    return "not a job from a GitHub issue";
  const repo = await Repository.query(knex).findById(job.repositoryId);
  if (!repo || repo.removedAt) return "the repository was removed from the installation";
  const installation = await Installation.query(knex).findById(repo.installationId);
  if (!installation || installation.deletedAt) return "the app is no longer installed";
  if (installation.suspendedAt) return "the installation is suspended";
  return { job, repo, installation };
}

/** Renders the job's status comment from its rows and creates or edits it on GitHub. */
export async function syncStatusComment(
  ctx: WorkerContext,
  jobId: number,
  options: SyncOptions = {},
): Promise<SyncResult> {
  const target = await loadTarget(ctx.knex, jobId);
  if (typeof target === "string") return { action: "skipped", reason: target };
  // A verification has no comment of its own: it edits the comment of the job it checks.
  const checked = target.job.options.verify?.jobId;
  if (checked) return syncStatusComment(ctx, checked, { force: true });
  const { job, repo, installation } = target;
  const app = githubApp(ctx);
  const now = Date.now();
  const last = ctx.statusComments.lastEdit(jobId);
  if (
    !job.isFinal &&
    !options.force &&
    job.statusCommentId &&
    last &&
    now - last.at < THROTTLE_MS
  ) {
    return { action: "throttled", retryAt: new Date(last.at + THROTTLE_MS) };
  }

  const gh = app.client({
    installationId: installation.id,
    repositoryId: repo.id,
    granted: installation.permissions,
  });
  const body = renderStatusComment(await renderInput(ctx, app, gh, target, options));
  const digest = createHash("sha256").update(body).digest("hex");
  const issue = { owner: repo.owner, repo: repo.name, issue_number: job.issueNumber! };

  let commentId = job.statusCommentId;
  if (commentId && last?.digest === digest) return { action: "unchanged", commentId };
  if (!commentId && options.recover) {
    commentId = await findStatusComment(gh, issue, job.id, app.botLogin);
    if (commentId) await claimCommentId(ctx.knex, job.id, commentId);
  }
  if (commentId) {
    try {
      await gh.rest.issues.updateComment({
        owner: repo.owner,
        repo: repo.name,
        comment_id: commentId,
        body,
      });
      ctx.statusComments.rememberEdit(jobId, digest);
      return { action: "edited", commentId };
    } catch (error) {
      // Someone deleted the status comment: post a new one.
      if (httpStatus(error) !== 404) throw error;
      await ctx
        .knex("bisect_jobs")
        .where({ id: job.id, statusCommentId: commentId })
        .update({ statusCommentId: null });
    }
  }
  const { data } = await gh.rest.issues.createComment({ ...issue, body });
  const winner = await claimCommentId(ctx.knex, job.id, data.id);
  if (winner !== data.id) {
    // Another render created one at the same time: keep theirs, and bring it up to date from
    // the rows as they are now (this render may be older than theirs).
    await gh.rest.issues.deleteComment({ owner: repo.owner, repo: repo.name, comment_id: data.id });
    return syncStatusComment(ctx, jobId, { force: true });
  }
  ctx.statusComments.rememberEdit(jobId, digest);
  return { action: "created", commentId: data.id };
}

/** Records the comment id unless another one was recorded first; returns the one that stands. */
async function claimCommentId(knex: Knex, jobId: number, commentId: number): Promise<number> {
  const updated = await knex("bisect_jobs")
    .where({ id: jobId })
    .whereNull("statusCommentId")
    .update({ statusCommentId: commentId });
  if (updated === 1) return commentId;
  const row = await knex("bisect_jobs").where({ id: jobId }).first("statusCommentId");
  return Number(row?.statusCommentId ?? commentId);
}

async function findStatusComment(
  gh: Octokit,
  issue: { owner: string; repo: string; issue_number: number },
  jobId: number,
  botLogin: string,
): Promise<number | null> {
  const marker = statusMarker(jobId);
  for (let page = 1; page <= 10; page++) {
    const { data } = await gh.rest.issues.listComments({ ...issue, per_page: 100, page });
    const mine = data.find((c) => c.user?.login === botLogin && c.body?.includes(marker));
    if (mine) return mine.id;
    if (data.length < 100) break;
  }
  return null;
}

export async function renderInput(
  ctx: WorkerContext,
  app: GitHubApp,
  gh: Octokit,
  target: Target,
  options: SyncOptions,
): Promise<StatusCommentInput> {
  const { job, repo, installation } = target;
  const steps = await BisectStep.query(ctx.knex).where({ bisectJobId: job.id }).modify("inOrder");
  const input: StatusCommentInput = {
    job,
    steps,
    repo: { owner: repo.owner, name: repo.name },
    webUrl: app.config.webUrl,
    publicUrl: ctx.config.publicUrl,
    now: new Date(),
    timeoutCap: options.timeoutCap ?? null,
    parallelCap: options.parallelCap ?? null,
  };
  if (job.status === "queued") {
    input.quota = await quotaOf(ctx.knex, installation);
    input.runSecondsEstimate = await typicalRunSeconds(ctx.knex, repo.id);
  } else if (job.status === "running") {
    input.runSecondsEstimate = await typicalRunSeconds(ctx.knex, repo.id);
  }
  if (job.culpritSha && job.isFinal)
    input.culprit = await commitDetails(ctx.statusComments, gh, repo, job.culpritSha);
  const graph = job.graph as { commits?: Record<string, { parents: string[] }> } | null;
  if (job.culpritSha) input.culpritParent = graph?.commits?.[job.culpritSha]?.parents[0] ?? null;
  const verification = await BisectJob.query(ctx.knex)
    .whereRaw("(options->'verify'->>'jobId')::bigint = ?", [job.id])
    .modify("newestFirst")
    .first();
  if (verification)
    input.verification = {
      job: verification,
      steps: await BisectStep.query(ctx.knex)
        .where({ bisectJobId: verification.id })
        .modify("inOrder"),
    };
  return input;
}

export async function quotaOf(knex: Knex, installation: Installation): Promise<QuotaView | null> {
  const plan = await RateLimit.query(knex).findById(installation.tier);
  if (!plan) return null;
  const usage = await UsageStat.query(knex).findOne({
    installationId: installation.id,
    month: monthOf(new Date()),
  });
  const [active] = await knex("bisect_jobs")
    .where({ installationId: installation.id })
    .whereIn("status", ["preparing", "running"])
    .count<{ count: number }[]>("* as count");
  return {
    tier: plan.tier,
    used: usage?.jobs ?? 0,
    limit: plan.jobsPerMonth,
    active: Number(active?.count ?? 0),
    maxConcurrent: plan.maxConcurrent,
  };
}

/** Average seconds of the repository's recent runs (null when it has none yet). */
async function typicalRunSeconds(knex: Knex, repositoryId: number): Promise<number | null> {
  const { rows } = await knex.raw<{ rows: { avg: number | null }[] }>(
    `select avg(duration_ms) / 1000.0 as avg from (
       select s.duration_ms from bisect_steps s join bisect_jobs j on j.id = s.bisect_job_id
        where j.repository_id = ? and s.status = 'done' and s.duration_ms is not null
        order by s.id desc limit 200) recent`,
    [repositoryId],
  );
  const avg = rows[0]?.avg;
  return avg === null || avg === undefined ? null : Number(avg);
}

/** Title, author and date of a commit, and the pull request that brought it in (if any). */
export async function commitDetails(
  cache: StatusCommentCache,
  gh: Octokit,
  repo: Repository,
  sha: string,
): Promise<CommitDetails | null> {
  const key = `${repo.id}:${sha}`;
  const cached = cache.commit(key);
  if (cached) return cached;
  let data;
  try {
    ({ data } = await gh.rest.repos.getCommit({
      owner: repo.owner,
      repo: repo.name,
      ref: sha,
      per_page: 1,
    }));
  } catch (error) {
    const status = httpStatus(error);
    if (status === 404 || status === 422) return null;
    throw error;
  }
  let pull: CommitDetails["pull"] = null;
  try {
    const { data: pulls } = await gh.rest.repos.listPullRequestsAssociatedWithCommit({
      owner: repo.owner,
      repo: repo.name,
      commit_sha: sha,
      per_page: 10,
    });
    const chosen = pulls.find((p) => p.merged_at) ?? pulls[0];
    if (chosen) pull = { number: chosen.number, title: chosen.title, url: chosen.html_url };
  } catch (error) {
    // Without pull_requests:read (older installations) the link is left out.
    const status = httpStatus(error);
    if (retryDelayMs(error, 0) !== null || (status !== 403 && status !== 404 && status !== 422))
      throw error;
  }
  const details: CommitDetails = {
    sha,
    title: data.commit.message.split("\n")[0] ?? "",
    authorName: data.commit.author?.name ?? null,
    authorLogin: data.author && "login" in data.author ? data.author.login : null,
    date: data.commit.author?.date ?? null,
    pull,
  };
  cache.rememberCommit(key, details);
  return details;
}
