// `/bisect` comments: who may ask, what the plan allows, what the repository configures, and
// the job that results (or a reply saying exactly why not). Every step is safe to repeat: the
// task handling a delivery may run again after a failure part-way through.
import type { Octokit } from "@octokit/rest";
import type { Knex } from "knex";
import {
  AuditLogEntry,
  BisectJob,
  type Installation,
  RateLimit,
  UsageStat,
  monthOf,
  type JobOptions,
} from "../../db/models";
import { cancelJob } from "../bisection/control";
import { createJob, type NewJob } from "../bisection/intake";
import type { WorkerContext } from "../worker-context";
import { githubApp, httpStatus } from "./app-client";
import { parseCommand, type BisectRequest } from "./command";
import type { Handled } from "./installations";
import { ensureInstallation, upsertRepositories } from "./installations";
import { isBot, type IssueCommentEvent } from "./payloads";
import { renderStatusList } from "./render";
import {
  cancelReply,
  configErrorReply,
  helpReply,
  missingCommandReply,
  noJobReply,
  notTrustedReply,
  parseErrorReply,
  quotaReply,
  unknownRevisionReply,
} from "./replies";
import { CONFIG_PATH, parseRepoConfig, type RepoConfig } from "./repo-config";
import { enqueueStatusComment, syncStatusComment } from "./status-comment";

const WRITE_PERMISSIONS = new Set(["admin", "maintain", "write"]);

interface Conversation {
  ctx: WorkerContext;
  gh: Octokit;
  event: IssueCommentEvent;
  installation: Installation;
  deliveryId: string;
  repo: { id: number; owner: string; name: string };
  login: string;
  /** The delivery is being handled again: the status comment may exist without being recorded. */
  retrying: boolean;
}

export async function handleIssueComment(
  ctx: WorkerContext,
  event: IssueCommentEvent,
  deliveryId: string,
  options: { retrying?: boolean } = {},
): Promise<Handled> {
  if (event.action !== "created")
    return { status: "ignored", note: `issue_comment ${event.action}` };
  const { comment, repository } = event;
  if (isBot(comment.user))
    return { status: "ignored", note: `comment by the bot ${comment.user.login}` };
  const parsed = parseCommand(comment.body ?? "");
  if (parsed.kind === "none")
    return { status: "ignored", note: "no /bisect command in the comment" };

  const duplicate = await ctx
    .knex("webhook_deliveries")
    .where({ event: "issue_comment", status: "processed" })
    .whereNot({ id: deliveryId })
    .where("receivedAt", ">", ctx.knex.raw("now() - interval '7 days'"))
    .whereRaw("payload->'comment'->>'id' = ?", [String(comment.id)])
    .first("id");
  if (duplicate)
    return {
      status: "ignored",
      note: `comment ${comment.id} was handled in delivery ${duplicate.id}`,
    };

  const installation = await ensureInstallation(ctx.knex, event.installation.id, repository.owner);
  if (installation.deletedAt || installation.suspendedAt)
    return { status: "ignored", note: `installation ${installation.id} is not active` };
  await upsertRepositories(ctx.knex, installation.id, [
    {
      id: repository.id,
      owner: repository.owner.login,
      name: repository.name,
      private: repository.private,
      defaultBranch: repository.default_branch ?? null,
    },
  ]);

  const repo = { id: repository.id, owner: repository.owner.login, name: repository.name };
  const gh = githubApp(ctx).client({
    installationId: installation.id,
    repositoryId: repo.id,
    granted: installation.permissions,
  });
  const conv: Conversation = {
    ctx,
    gh,
    event,
    installation,
    deliveryId,
    repo,
    login: comment.user.login,
    retrying: options.retrying ?? false,
  };

  // 👀: seen. (Adding the same reaction twice is harmless.)
  try {
    await gh.rest.reactions.createForIssueComment({
      owner: repo.owner,
      repo: repo.name,
      comment_id: comment.id,
      content: "eyes",
    });
  } catch (error) {
    if (httpStatus(error) === 404)
      return { status: "ignored", note: `comment ${comment.id} no longer exists` };
    throw error;
  }

  // The trust gate comes first: an untrusted commenter's words are never echoed back, so a
  // crafted command cannot make the bot post links or mentions (see answerUntrusted).
  if (!(await trusted(conv))) return answerUntrusted(conv, parsed.kind);
  switch (parsed.kind) {
    case "error":
      await reply(conv, parseErrorReply(conv.login, parsed.message, parsed.example));
      return { status: "processed", note: "malformed command answered" };
    case "help":
      await reply(conv, helpReply());
      return { status: "processed", note: "help" };
    case "status":
      return status(conv);
  }
  switch (parsed.kind) {
    case "cancel":
      return cancel(conv, parsed.jobId);
    case "retry":
      return retry(conv, parsed.jobId);
    case "bisect":
      return start(conv, parsed);
  }
}

/** How often one issue may get the refusal for untrusted commenters. */
const UNTRUSTED_REPLY_INTERVAL = "1 hour";

/**
 * Someone without write access: recorded in the audit log, and answered with one fixed text at
 * most once per issue per hour (so the bot cannot be made to spam a thread either).
 */
async function answerUntrusted(conv: Conversation, kind: string): Promise<Handled> {
  const { ctx, repo, event } = conv;
  const repository = `${repo.owner}/${repo.name}`;
  const answer = await ctx.knex.transaction(async (trx) => {
    // One decision at a time per issue: concurrent deliveries cannot both reply.
    await trx.raw("select pg_advisory_xact_lock(hashtext(?))", [
      `untrusted-reply:${repo.id}:${event.issue.number}`,
    ]);
    const recent = await trx("audit_log")
      .where({ action: "command.refused" })
      .whereRaw("details->>'repository' = ?", [repository])
      .whereRaw("(details->>'issue')::bigint = ?", [event.issue.number])
      .whereRaw("(details->>'answered')::boolean")
      .where("createdAt", ">", trx.raw(`now() - interval '${UNTRUSTED_REPLY_INTERVAL}'`))
      .first("id");
    await audit(trx, conv.login, "command.refused", {
      repository,
      issue: event.issue.number,
      command: kind,
      association: event.comment.author_association,
      answered: !recent,
    });
    return !recent;
  });
  if (answer) await reply(conv, notTrustedReply());
  return {
    status: "processed",
    note: `${conv.login} may not ${kind}${answer ? "" : " (already answered on this issue)"}`,
  };
}

async function reply(conv: Conversation, body: string): Promise<void> {
  await conv.gh.rest.issues.createComment({
    owner: conv.repo.owner,
    repo: conv.repo.name,
    issue_number: conv.event.issue.number,
    body,
  });
}

async function audit(
  knex: Knex,
  actor: string,
  action: string,
  details: Record<string, unknown>,
  subjectId?: number,
): Promise<void> {
  await AuditLogEntry.query(knex).insert({
    actor,
    action,
    subjectType: subjectId ? "bisect_job" : "repository",
    subjectId: subjectId ? String(subjectId) : String(details.repository ?? ""),
    details,
  });
}

/**
 * Trusted associations (BISECT_TRUSTED_ASSOCIATIONS) are the fast path: anyone else is refused
 * without asking GitHub. A trusted association is then confirmed: write, maintain or admin.
 */
async function trusted(conv: Conversation): Promise<boolean> {
  const association = conv.event.comment.author_association.toUpperCase();
  if (
    !conv.ctx.config.BISECT_TRUSTED_ASSOCIATIONS.map((a) => a.toUpperCase()).includes(association)
  )
    return false;
  try {
    const { data } = await conv.gh.rest.repos.getCollaboratorPermissionLevel({
      owner: conv.repo.owner,
      repo: conv.repo.name,
      username: conv.login,
    });
    const role = (data as { role_name?: string }).role_name;
    return (
      WRITE_PERMISSIONS.has(data.permission) || (role !== undefined && WRITE_PERMISSIONS.has(role))
    );
  } catch (error) {
    if (httpStatus(error) === 404) return false;
    throw error;
  }
}

async function status(conv: Conversation): Promise<Handled> {
  const jobs = await BisectJob.query(conv.ctx.knex)
    .where({ repositoryId: conv.repo.id, issueNumber: conv.event.issue.number })
    .modify("newestFirst")
    .limit(10);
  const app = githubApp(conv.ctx);
  await reply(
    conv,
    renderStatusList(jobs, {
      publicUrl: conv.ctx.config.publicUrl,
      webUrl: app.config.webUrl,
      repo: conv.repo,
    }),
  );
  return { status: "processed", note: "status" };
}

/** The named job (of this repository), or the latest job on this issue. */
async function targetJob(
  conv: Conversation,
  jobId: number | undefined,
): Promise<BisectJob | undefined> {
  if (jobId)
    return BisectJob.query(conv.ctx.knex).findOne({ id: jobId, repositoryId: conv.repo.id });
  return BisectJob.query(conv.ctx.knex)
    .where({ repositoryId: conv.repo.id, issueNumber: conv.event.issue.number })
    .modify("newestFirst")
    .first();
}

async function cancel(conv: Conversation, jobId: number | undefined): Promise<Handled> {
  const job = await targetJob(conv, jobId);
  if (!job) {
    await reply(conv, noJobReply(conv.login, jobId));
    return { status: "processed", note: "nothing to cancel" };
  }
  const cancelled = await cancelJob(
    conv.ctx.knex,
    job.id,
    { login: conv.login },
    `cancelled by ${conv.login}`,
  );
  if (cancelled) await enqueueStatusComment(conv.ctx.knex, job.id);
  const after = cancelled ? job : await BisectJob.query(conv.ctx.knex).findById(job.id);
  await reply(
    conv,
    cancelReply(conv.login, job.id, cancelled ? "cancelled" : "already-ended", after?.status),
  );
  return {
    status: "processed",
    note: cancelled ? `job ${job.id} cancelled` : `job ${job.id} had already ended`,
  };
}

async function retry(conv: Conversation, jobId: number | undefined): Promise<Handled> {
  const existing = await BisectJob.query(conv.ctx.knex).findOne({
    triggerCommentId: conv.event.comment.id,
  });
  if (existing) return queued(conv, existing, false);
  const job = await targetJob(conv, jobId);
  if (!job) {
    await reply(conv, noJobReply(conv.login, jobId));
    return { status: "processed", note: "nothing to retry" };
  }
  if (!job.isFinal) {
    await reply(
      conv,
      `@${conv.login} bisection #${job.id} is still ${job.status}; cancel it first (\`/bisect cancel #${job.id}\`) or wait for its result.`,
    );
    return { status: "processed", note: `job ${job.id} still active` };
  }
  const plan = await planOf(conv);
  const options: JobOptions = {
    ...job.options,
    ...capTimeout(conv.ctx, job.options.timeoutSeconds, plan).options,
  };
  return create(
    conv,
    {
      goodRef: job.goodRef,
      badRef: job.badRef,
      command: job.command,
      setupCommand: job.setupCommand,
      options,
      retryOfJobId: job.id,
    },
    plan,
  );
}

async function planOf(conv: Conversation): Promise<RateLimit> {
  const plan = await RateLimit.query(conv.ctx.knex).findById(conv.installation.tier);
  if (!plan) throw new Error(`no plan ${conv.installation.tier} in rate_limits`);
  return plan;
}

/** The per-run timeout within the plan's maximum duration (which also bounds the whole job). */
function capTimeout(ctx: WorkerContext, requested: number | undefined, plan: RateLimit) {
  const wanted = requested ?? ctx.config.RUNNER_STEP_TIMEOUT_SECONDS;
  const timeoutSeconds = Math.min(wanted, plan.maxDurationSeconds);
  return {
    options: { timeoutSeconds, maxDurationSeconds: plan.maxDurationSeconds },
    cap:
      timeoutSeconds < wanted && requested !== undefined
        ? { requestedSeconds: wanted, maxSeconds: plan.maxDurationSeconds, tier: plan.tier }
        : null,
  };
}

async function start(conv: Conversation, request: BisectRequest): Promise<Handled> {
  const existing = await BisectJob.query(conv.ctx.knex).findOne({
    triggerCommentId: conv.event.comment.id,
  });
  if (existing) return queued(conv, existing, false);

  for (const [which, ref] of [
    ["good", request.good],
    ["bad", request.bad],
  ] as const) {
    if (!(await revisionExists(conv, ref))) {
      await reply(conv, unknownRevisionReply(conv.login, which, ref));
      return { status: "processed", note: `unknown ${which} revision` };
    }
  }
  const config = await readRepoConfig(conv, request.bad);
  if (!config.ok) {
    await reply(conv, configErrorReply(conv.login, request.bad, config.problems));
    return { status: "processed", note: `invalid ${CONFIG_PATH}` };
  }
  const command = request.command ?? config.config.command ?? null;
  if (!command) {
    await reply(conv, missingCommandReply(conv.login));
    return { status: "processed", note: "no test command" };
  }
  const plan = await planOf(conv);
  const { options: limits, cap } = capTimeout(
    conv.ctx,
    request.timeoutSeconds ?? config.config.timeout,
    plan,
  );
  const cfg: RepoConfig = config.config;
  const options: JobOptions = {
    runs: request.runs ?? cfg.runs ?? 1,
    parallel: request.parallel ?? 1,
    firstParent: request.firstParent,
    network: cfg.network ?? false,
    ...limits,
    ...(cfg.image ? { image: cfg.image } : {}),
    ...(cfg.pathspec ? { pathspec: cfg.pathspec } : {}),
  };
  return create(
    conv,
    {
      goodRef: request.good,
      badRef: request.bad,
      command,
      setupCommand: cfg.setup ?? null,
      options,
    },
    plan,
    cap,
  );
}

/** Creates the job within the monthly quota (counted in the same transaction) and posts its status. */
async function create(
  conv: Conversation,
  spec: Pick<
    NewJob,
    "goodRef" | "badRef" | "command" | "setupCommand" | "options" | "retryOfJobId"
  >,
  plan: RateLimit,
  cap: { requestedSeconds: number; maxSeconds: number; tier: string } | null = null,
): Promise<Handled> {
  const { ctx, event, installation } = conv;
  const month = monthOf(new Date());
  const result = await ctx.knex.transaction(async (trx) => {
    await trx("usage_stats")
      .insert({ installationId: installation.id, month, jobs: 0 })
      .onConflict(["installationId", "month"])
      .ignore();
    const usage = await UsageStat.query(trx)
      .findOne({ installationId: installation.id, month })
      .forUpdate();
    const used = usage?.jobs ?? 0;
    if (plan.jobsPerMonth !== null && used >= plan.jobsPerMonth)
      return { over: true as const, used, limit: plan.jobsPerMonth };
    const { job, created } = await createJob(trx, {
      ...spec,
      source: "github",
      installationId: installation.id,
      repositoryId: conv.repo.id,
      issueNumber: event.issue.number,
      triggerCommentId: event.comment.id,
      deliveryId: conv.deliveryId,
      requesterLogin: conv.login,
      requesterId: event.comment.user.id,
    });
    if (created) {
      await UsageStat.query(trx)
        .where({ installationId: installation.id, month })
        .increment("jobs", 1);
      await AuditLogEntry.query(trx).insert({
        actor: conv.login,
        action: spec.retryOfJobId ? "job.retry" : "job.create",
        subjectType: "bisect_job",
        subjectId: String(spec.retryOfJobId ?? job.id),
        details: {
          jobId: job.id,
          repository: `${conv.repo.owner}/${conv.repo.name}`,
          issue: event.issue.number,
          commentId: event.comment.id,
        },
      });
    }
    return { over: false as const, job, created };
  });
  if (result.over) {
    const now = new Date();
    const resetsAt = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    await reply(
      conv,
      quotaReply(conv.login, { used: result.used, limit: result.limit, tier: plan.tier, resetsAt }),
    );
    return { status: "processed", note: `monthly quota reached (${result.used}/${result.limit})` };
  }
  return queued(conv, result.job, result.created, cap);
}

/** The job exists: make sure its status comment does too (it may be a second delivery or a retry). */
async function queued(
  conv: Conversation,
  job: BisectJob,
  created: boolean,
  cap: { requestedSeconds: number; maxSeconds: number; tier: string } | null = null,
): Promise<Handled> {
  if (created || !job.statusCommentId) {
    await syncStatusComment(conv.ctx, job.id, {
      force: true,
      recover: conv.retrying || !created,
      timeoutCap: cap,
    });
  }
  return {
    status: "processed",
    note: created ? `job ${job.id} queued` : `job ${job.id} already existed`,
  };
}

async function revisionExists(conv: Conversation, ref: string): Promise<boolean> {
  try {
    await conv.gh.request("GET /repos/{owner}/{repo}/commits/{ref}", {
      owner: conv.repo.owner,
      repo: conv.repo.name,
      ref,
      headers: { accept: "application/vnd.github.sha" },
    });
    return true;
  } catch (error) {
    const status = httpStatus(error);
    if (status === 404 || status === 422) return false;
    throw error;
  }
}

type ConfigRead = { ok: true; config: RepoConfig } | { ok: false; problems: string[] };

/** `.github/bisect.yml` at the given revision; absent means no defaults. */
async function readRepoConfig(conv: Conversation, ref: string): Promise<ConfigRead> {
  let data: unknown;
  try {
    ({ data } = await conv.gh.rest.repos.getContent({
      owner: conv.repo.owner,
      repo: conv.repo.name,
      path: CONFIG_PATH,
      ref,
    }));
  } catch (error) {
    if (httpStatus(error) === 404) return { ok: true, config: {} };
    throw error;
  }
  if (
    Array.isArray(data) ||
    typeof data !== "object" ||
    data === null ||
    (data as { type?: string }).type !== "file"
  ) {
    return { ok: false, problems: [`\`${CONFIG_PATH}\` is not a file`] };
  }
  const file = data as { content?: string; encoding?: string };
  if (file.encoding !== "base64" || typeof file.content !== "string")
    return { ok: false, problems: ["the file is too large to read (over 1 MB)"] };
  return parseRepoConfig(Buffer.from(file.content, "base64").toString("utf8"));
}
