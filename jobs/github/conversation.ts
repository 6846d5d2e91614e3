// The GitHub side of a `/bisect` comment's thread: opening it (a comment handled once, an
// active installation, the repository's client, the 👀 reaction), replies, who may ask (the
// trust gate, and its one refusal per hour), and the files read at a revision
// (`.github/bisect.yml`, the root listing). The command handling is in comments.ts.
import type { Octokit } from "@octokit/rest";
import type { Knex } from "knex";
import { AuditLogEntry, type Installation } from "../../db/models";
import type { WorkerContext } from "../worker-context";
import { githubApp, httpStatus } from "./app-client";
import { ensureInstallation, upsertRepositories, type Handled } from "./installations";
import type { IssueCommentEvent } from "./payloads";
import { notTrustedReply } from "./replies";
import { CONFIG_PATH, parseRepoConfig, type RepoConfig } from "./repo-config";

const WRITE_PERMISSIONS = new Set(["admin", "maintain", "write"]);

export interface Conversation {
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

/**
 * The thread of a new comment, with a client scoped to its repository, once the comment is
 * known to be unhandled, its installation active and the repository recorded; it is then marked
 * seen (👀). Otherwise why the comment is ignored.
 */
export async function openConversation(
  ctx: WorkerContext,
  event: IssueCommentEvent,
  deliveryId: string,
  retrying: boolean,
): Promise<Conversation | Handled> {
  const { comment, repository } = event;
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
    retrying,
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
  return conv;
}

/** How often one issue may get the refusal for untrusted commenters. */
const UNTRUSTED_REPLY_INTERVAL = "1 hour";

/**
 * Someone without write access: recorded in the audit log, and answered with one fixed text at
 * most once per issue per hour (so the bot cannot be made to spam a thread either).
 */
export async function answerUntrusted(conv: Conversation, kind: string): Promise<Handled> {
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

export async function reply(conv: Conversation, body: string): Promise<void> {
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
  await AuditLogEntry.record(knex, {
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
export async function trusted(conv: Conversation): Promise<boolean> {
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

export async function revisionExists(conv: Conversation, ref: string): Promise<boolean> {
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

/** The names at a revision's root (empty when it cannot be listed: zero configuration then picks nothing). */
export async function rootFiles(conv: Conversation, ref: string): Promise<string[]> {
  try {
    const { data } = await conv.gh.rest.repos.getContent({
      owner: conv.repo.owner,
      repo: conv.repo.name,
      path: "",
      ref,
    });
    return Array.isArray(data) ? data.map((e) => e.name) : [];
  } catch (error) {
    if (httpStatus(error) === 404) return [];
    throw error;
  }
}

export type ConfigRead = { ok: true; config: RepoConfig } | { ok: false; problems: string[] };

/** `.github/bisect.yml` at the given revision (the default branch without one); absent means no defaults. */
export async function readRepoConfig(
  conv: Conversation,
  ref: string | undefined,
): Promise<ConfigRead> {
  let data: unknown;
  try {
    ({ data } = await conv.gh.rest.repos.getContent({
      owner: conv.repo.owner,
      repo: conv.repo.name,
      path: CONFIG_PATH,
      ...(ref ? { ref } : {}),
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
