// `/bisect` comments: who may ask, what the plan allows, what the repository configures, and
// the job that results (or a reply saying exactly why not). Every step is safe to repeat: the
// task handling a delivery may run again after a failure part-way through. What is said to and
// read from GitHub on the comment's thread is in conversation.ts.
import { BisectJob, type JobOptions } from "../../db/models";
import { cancelJob } from "../bisection/control";
import { admitJob, type AdmissionRequest } from "../bisection/admission";
import type { WorkerContext } from "../worker-context";
import { githubApp } from "./app-client";
import { normalizePredicate, PredicateError, type Predicate } from "../../runner/engine";
import { storedPredicate } from "../farm/predicate";
import { verifyTargetOf } from "../farm/verify";
import {
  mergePredicateFields,
  EXAMPLE,
  parseCommand,
  PREDICATE_FLAGS,
  predicateFieldsOf,
  renamePredicateFields,
  type BisectRequest,
} from "./command";
import type { Handled } from "./installations";
import { isBot, type IssueCommentEvent } from "./payloads";
import { renderStatusList } from "./render";
import {
  cancelReply,
  cannotVerifyReply,
  configErrorReply,
  helpReply,
  missingCommandReply,
  noJobReply,
  parseErrorReply,
  quotaReply,
  stillActiveReply,
  unknownRevisionReply,
} from "./replies";
import { CONFIG_PATH, type RepoConfig } from "./repo-config";
import { cacheOption } from "../../runner/settings/cache-paths";
import {
  answerUntrusted,
  openConversation,
  readRepoConfig,
  reply,
  revisionExists,
  rootFiles,
  trusted,
  type Conversation,
} from "./conversation";
import { chooseEcosystem } from "./zero-config";
import { networkSwitches } from "../../runner/settings/network";
import { enqueueStatusComment, syncStatusComment, type SyncOptions } from "./status-comment";

export async function handleIssueComment(
  ctx: WorkerContext,
  event: IssueCommentEvent,
  deliveryId: string,
  options: { retrying?: boolean } = {},
): Promise<Handled> {
  if (event.action !== "created")
    return { status: "ignored", note: `issue_comment ${event.action}` };
  const { comment } = event;
  if (isBot(comment.user))
    return { status: "ignored", note: `comment by the bot ${comment.user.login}` };
  const parsed = parseCommand(comment.body ?? "");
  if (parsed.kind === "none")
    return { status: "ignored", note: "no /bisect command in the comment" };

  const conv = await openConversation(ctx, event, deliveryId, options.retrying ?? false);
  if ("status" in conv) return conv;

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
    case "verify":
      return verify(conv, parsed.jobId);
    case "bisect":
      return start(conv, parsed);
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
    await reply(conv, stillActiveReply(conv.login, job.id, job.status));
    return { status: "processed", note: `job ${job.id} still active` };
  }
  return admit(conv, {
    goodRef: job.goodRef,
    badRef: job.badRef,
    command: job.command,
    setupCommand: job.setupCommand,
    options: job.options,
    requestedTimeoutSeconds: job.options.timeoutSeconds,
    retryOfJobId: job.id,
  });
}

/**
 * `/bisect verify [job]`: a follow-up job re-runs the culprit and its parent; what it measures is
 * shown in the checked job's status comment (edited), not in a comment of its own.
 */
async function verify(conv: Conversation, jobId: number | undefined): Promise<Handled> {
  const { knex } = conv.ctx;
  const existing = await BisectJob.query(knex).findOne({ triggerCommentId: conv.event.comment.id });
  if (existing?.options.verify) return verifying(conv, existing.options.verify.jobId, existing);
  const job = jobId
    ? await BisectJob.query(knex).findOne({ id: jobId, repositoryId: conv.repo.id })
    : await BisectJob.query(knex)
        .where({ repositoryId: conv.repo.id, issueNumber: conv.event.issue.number })
        .whereRaw("not (options \\? 'verify')")
        .modify("newestFirst")
        .first();
  if (!job) {
    await reply(conv, noJobReply(conv.login, jobId));
    return { status: "processed", note: "nothing to verify" };
  }
  if (!job.isFinal) {
    await reply(conv, stillActiveReply(conv.login, job.id, job.status));
    return { status: "processed", note: `job ${job.id} still active` };
  }
  // One verification of a job at a time.
  const running = await BisectJob.query(knex)
    .whereRaw("(options->'verify'->>'jobId')::bigint = ?", [job.id])
    .modify("active")
    .first();
  if (running) {
    await reply(conv, stillActiveReply(conv.login, running.id, running.status));
    return { status: "processed", note: `job ${running.id} already verifies job ${job.id}` };
  }
  const target = verifyTargetOf(job);
  if (typeof target === "string") {
    await reply(conv, cannotVerifyReply(conv.login, job.id, target));
    return { status: "processed", note: `job ${job.id} cannot be verified` };
  }
  return admit(
    conv,
    {
      goodRef: target.parent,
      badRef: target.culprit,
      command: job.command,
      setupCommand: job.setupCommand,
      options: { ...job.options, verify: target },
      requestedTimeoutSeconds: job.options.timeoutSeconds,
    },
    (verification) => verifying(conv, job.id, verification),
  );
}

async function verifying(
  conv: Conversation,
  jobId: number,
  verification: BisectJob,
): Promise<Handled> {
  await syncStatusComment(conv.ctx, jobId, { force: true });
  return { status: "processed", note: `job ${verification.id} verifies job ${jobId}` };
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
  // What runs may reach and what they run on are the repository's choice on its default branch,
  // never a revision's: the bad revision can be any commit, one pushed to a fork's pull request
  // included. Everything else (setup, command, runs, pathspec) is read at the bad revision.
  const defaultBranch = conv.event.repository.default_branch ?? undefined;
  const policy = defaultBranch === request.bad ? config : await readRepoConfig(conv, defaultBranch);
  if (!policy.ok) {
    await reply(
      conv,
      configErrorReply(conv.login, defaultBranch ?? "the default branch", policy.problems),
    );
    return { status: "processed", note: `invalid ${CONFIG_PATH} on the default branch` };
  }
  const cfg: RepoConfig = config.config;
  // The comment's options override the file's; together they must still make sense.
  let predicate: Predicate;
  try {
    predicate = normalizePredicate(
      mergePredicateFields(cfg.predicate ?? {}, predicateFieldsOf(request)),
    );
  } catch (error) {
    if (!(error instanceof PredicateError)) throw error;
    const message = `${renamePredicateFields(error.message, PREDICATE_FLAGS)} (with the settings of \`${CONFIG_PATH}\` at ${request.bad}).`;
    await reply(conv, parseErrorReply(conv.login, message, EXAMPLE));
    return { status: "processed", note: "options disagree with the repository's settings" };
  }
  // Neither an image nor a setup configured: pick both from the files at the bad revision's root.
  const chosen =
    !policy.config.image && !cfg.setup
      ? chooseEcosystem(conv.ctx.config, await rootFiles(conv, request.bad))
      : null;
  const zero = chosen?.zero;
  // The operator's variables for the ecosystem, then the repository's (which win).
  const env = { ...chosen?.env, ...cfg.env };
  const image = policy.config.image ?? zero?.image;
  const network = networkSwitches(policy.config.network ?? zero?.network ?? "none");
  const options: JobOptions = {
    runs: predicate.runs,
    failThreshold: predicate.failThreshold,
    predicate: storedPredicate(predicate),
    parallel: request.parallel ?? 1,
    firstParent: request.firstParent,
    network: network.network,
    ...(network.setupNetwork ? { setupNetwork: true } : {}),
    ...(image ? { image } : {}),
    ...(zero ? { zeroConfig: zero } : {}),
    ...(cfg.pathspec ? { pathspec: cfg.pathspec } : {}),
    ...(Object.keys(env).length > 0 ? { env } : {}),
    // The repository's `cache:`, else the paths the ecosystem's builds keep (a build directory).
    ...cacheOption(cfg.cache ?? chosen?.cache),
  };
  return admit(conv, {
    goodRef: request.good,
    badRef: request.bad,
    command,
    setupCommand: cfg.setup ?? zero?.setup ?? null,
    options,
    requestedTimeoutSeconds: request.timeoutSeconds ?? cfg.timeout,
  });
}

/** Admits the job (the one admission path: plan, quota, audit) and posts its status. */
async function admit(
  conv: Conversation,
  spec: Pick<
    AdmissionRequest,
    | "goodRef"
    | "badRef"
    | "command"
    | "setupCommand"
    | "options"
    | "retryOfJobId"
    | "requestedTimeoutSeconds"
  >,
  /** What to do once admitted (default: post the job's status comment). */
  admitted?: (job: BisectJob) => Promise<Handled>,
): Promise<Handled> {
  const { ctx, event, installation } = conv;
  const admission = await admitJob(
    ctx.knex,
    {
      ...spec,
      // The trust gate (trusted()) confirmed write access to this repository.
      authority: {
        kind: "writer",
        login: conv.login,
        githubId: event.comment.user.id,
        repositoryId: conv.repo.id,
      },
      source: "github",
      installationId: installation.id,
      repositoryId: conv.repo.id,
      issueNumber: event.issue.number,
      triggerCommentId: event.comment.id,
      deliveryId: conv.deliveryId,
      audit: { repository: `${conv.repo.owner}/${conv.repo.name}` },
    },
    { defaultTimeoutSeconds: ctx.config.RUNNER_STEP_TIMEOUT_SECONDS },
  );
  if (admission.admitted && admitted) return admitted(admission.job);
  if (admission.admitted)
    return queued(conv, admission.job, admission.created, {
      timeoutCap: admission.timeoutCap,
      parallelCap: admission.parallelCap,
    });
  switch (admission.reason) {
    case "quota":
      await reply(
        conv,
        quotaReply(conv.login, {
          used: admission.used,
          limit: admission.limit,
          tier: admission.tier,
          resetsAt: admission.resetsAt,
        }),
      );
      return {
        status: "processed",
        note: `monthly quota reached (${admission.used}/${admission.limit})`,
      };
    case "still-active":
      await reply(conv, stillActiveReply(conv.login, admission.job.id, admission.job.status));
      return { status: "processed", note: `job ${admission.job.id} still active` };
    case "inactive":
      return { status: "ignored", note: admission.message };
  }
}

/** The job exists: make sure its status comment does too (it may be a second delivery or a retry). */
async function queued(
  conv: Conversation,
  job: BisectJob,
  created: boolean,
  caps: Pick<SyncOptions, "timeoutCap" | "parallelCap"> = {},
): Promise<Handled> {
  if (created || !job.statusCommentId) {
    await syncStatusComment(conv.ctx, job.id, {
      force: true,
      recover: conv.retrying || !created,
      ...caps,
    });
  }
  return {
    status: "processed",
    note: created ? `job ${job.id} queued` : `job ${job.id} already existed`,
  };
}
