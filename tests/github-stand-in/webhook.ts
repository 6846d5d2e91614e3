// Webhook deliveries as GitHub sends them to a GitHub App: the signature and headers, and payload
// builders for the events the product subscribes to. Field names follow GitHub's payloads.
import { createHmac } from "node:crypto";
import {
  GITHUB_DOT_COM,
  installationRepositoryShape,
  installationShape,
  nodeId,
  reactionRollup,
  repositoryShape,
  userShape,
  type Permissions,
  type Urls,
} from "./shapes";

/** `X-Hub-Signature-256` for a raw body: `sha256=` + hex HMAC-SHA256 with the webhook secret. */
export function signWebhook(body: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
}

/** The headers of a delivery: event, delivery id, signature and content type. */
export function webhookHeaders(
  event: string,
  deliveryId: string,
  body: string,
  secret: string,
): Record<string, string> {
  return {
    "content-type": "application/json",
    "x-github-event": event,
    "x-github-delivery": deliveryId,
    "x-hub-signature-256": signWebhook(body, secret),
  };
}

export interface PersonRef {
  login: string;
  id: number;
  type?: "User" | "Bot" | "Organization";
}

export interface RepoRef {
  owner: string;
  name: string;
  id: number;
  private?: boolean;
  ownerId?: number;
  ownerType?: "User" | "Organization";
  defaultBranch?: string;
}

export type AuthorAssociation =
  | "OWNER"
  | "MEMBER"
  | "COLLABORATOR"
  | "CONTRIBUTOR"
  | "FIRST_TIME_CONTRIBUTOR"
  | "FIRST_TIMER"
  | "MANNEQUIN"
  | "NONE";

const FIXED_TIME = "2026-11-02T10:15:30Z";

function person(p: PersonRef, urls: Urls) {
  return userShape({ login: p.login, id: p.id, type: p.type ?? "User" }, urls);
}

function ownerId(repo: RepoRef): number {
  return repo.ownerId ?? 100000 + (repo.id % 100000);
}

function repository(repo: RepoRef, urls: Urls) {
  return repositoryShape(
    {
      id: repo.id,
      owner: { login: repo.owner, id: ownerId(repo), type: repo.ownerType ?? "Organization" },
      name: repo.name,
      private: repo.private ?? true,
      defaultBranch: repo.defaultBranch ?? "main",
      createdAt: "2024-01-15T09:30:00Z",
      pushedAt: FIXED_TIME,
    },
    urls,
  );
}

export interface IssueCommentInput {
  action: "created" | "edited" | "deleted";
  installationId: number;
  repo: RepoRef;
  issue: {
    number: number;
    title: string;
    id?: number;
    body?: string | null;
    state?: "open" | "closed";
    user?: PersonRef;
    /** The issue is a pull request (adds `issue.pull_request`). */
    pullRequest?: boolean;
    labels?: string[];
    locked?: boolean;
    comments?: number;
  };
  comment: {
    id: number;
    body: string;
    user: PersonRef;
    author_association: AuthorAssociation | string;
    created_at?: string;
    updated_at?: string;
  };
  /** For `edited`: the previous body. */
  changes?: { body?: { from: string } };
  /** Defaults to the comment's author. */
  sender?: PersonRef;
  urls?: Urls;
}

export function issueCommentPayload(input: IssueCommentInput) {
  const urls = input.urls ?? GITHUB_DOT_COM;
  const { repo, issue, comment } = input;
  const fullName = `${repo.owner}/${repo.name}`;
  const repoApi = `${urls.api}/repos/${fullName}`;
  const issueApi = `${repoApi}/issues/${issue.number}`;
  const issueHtml = `${urls.web}/${fullName}/${issue.pullRequest ? "pull" : "issues"}/${issue.number}`;
  const issueId = issue.id ?? 3000000000 + repo.id * 10 + issue.number;
  const issueUser = issue.user ?? comment.user;
  const created = comment.created_at ?? FIXED_TIME;
  const updated = comment.updated_at ?? created;
  const commentApi = `${repoApi}/issues/comments/${comment.id}`;
  const payload: Record<string, unknown> = {
    action: input.action,
    issue: {
      url: issueApi,
      repository_url: repoApi,
      labels_url: `${issueApi}/labels{/name}`,
      comments_url: `${issueApi}/comments`,
      events_url: `${issueApi}/events`,
      html_url: issueHtml,
      id: issueId,
      node_id: nodeId("Issue", issueId),
      number: issue.number,
      title: issue.title,
      user: person(issueUser, urls),
      labels: (issue.labels ?? []).map((name, i) => ({
        id: 6000000000 + i,
        node_id: nodeId("Label", 6000000000 + i),
        url: `${repoApi}/labels/${encodeURIComponent(name)}`,
        name,
        color: "ededed",
        default: false,
        description: null,
      })),
      state: issue.state ?? "open",
      locked: issue.locked ?? false,
      assignee: null,
      assignees: [],
      milestone: null,
      comments: issue.comments ?? 1,
      created_at: "2026-11-01T08:00:00Z",
      updated_at: updated,
      closed_at: issue.state === "closed" ? updated : null,
      author_association: "OWNER",
      type: null,
      active_lock_reason: null,
      ...(issue.pullRequest
        ? {
            draft: false,
            pull_request: {
              url: `${repoApi}/pulls/${issue.number}`,
              html_url: `${urls.web}/${fullName}/pull/${issue.number}`,
              diff_url: `${urls.web}/${fullName}/pull/${issue.number}.diff`,
              patch_url: `${urls.web}/${fullName}/pull/${issue.number}.patch`,
              merged_at: null,
            },
          }
        : {}),
      body: issue.body ?? null,
      reactions: reactionRollup(`${issueApi}/reactions`),
      timeline_url: `${issueApi}/timeline`,
      performed_via_github_app: null,
      state_reason: null,
    },
    comment: {
      url: commentApi,
      html_url: `${issueHtml}#issuecomment-${comment.id}`,
      issue_url: issueApi,
      id: comment.id,
      node_id: nodeId("IssueComment", comment.id),
      user: person(comment.user, urls),
      created_at: created,
      updated_at: updated,
      author_association: comment.author_association,
      body: comment.body,
      reactions: reactionRollup(`${commentApi}/reactions`),
      performed_via_github_app: null,
    },
    repository: repository(repo, urls),
    sender: person(input.sender ?? comment.user, urls),
    installation: {
      id: input.installationId,
      node_id: nodeId("Installation", input.installationId),
    },
  };
  if (input.action === "edited") {
    payload.changes = input.changes ?? { body: { from: "" } };
    // GitHub puts `changes` right after `action`.
    const { action, changes, ...rest } = payload;
    return { action, changes, ...rest };
  }
  return payload;
}

export interface AccountRef {
  login: string;
  id: number;
  type?: "User" | "Organization";
}

export interface RepoLite {
  id: number;
  name: string;
  /** Defaults to the installation account. */
  owner?: string;
  private?: boolean;
}

export interface InstallationEventInput {
  installationId: number;
  account: AccountRef;
  appId: number;
  appSlug?: string;
  clientId?: string;
  /** Repositories listed in `created` / `deleted` (and the selection is "selected" when given). */
  repositories?: RepoLite[];
  repositorySelection?: "all" | "selected";
  permissions?: Permissions;
  events?: string[];
  /** Defaults to the account (for a User) or a person `octocat`. */
  sender?: PersonRef;
  urls?: Urls;
}

const DEFAULT_PERMISSIONS: Permissions = {
  contents: "read",
  issues: "write",
  metadata: "read",
  pull_requests: "read",
};

function installationObject(
  input: InstallationEventInput,
  suspended: boolean,
  sender: PersonRef,
  urls: Urls,
) {
  return installationShape(
    {
      id: input.installationId,
      account: {
        login: input.account.login,
        id: input.account.id,
        type: input.account.type ?? "Organization",
      },
      appId: input.appId,
      appSlug: input.appSlug ?? "bisect-bot",
      clientId: input.clientId ?? "Iv23liBisectBot0001",
      repositorySelection: input.repositorySelection ?? (input.repositories ? "selected" : "all"),
      permissions: input.permissions ?? DEFAULT_PERMISSIONS,
      events: input.events ?? ["issue_comment"],
      createdAt: "2026-11-02T10:00:00Z",
      updatedAt: FIXED_TIME,
      suspendedAt: suspended ? FIXED_TIME : null,
      suspendedBy: suspended ? { login: sender.login, id: sender.id, type: "User" } : null,
    },
    urls,
  );
}

function defaultSender(account: AccountRef): PersonRef {
  return account.type === "User"
    ? { login: account.login, id: account.id }
    : { login: "octocat", id: 583231 };
}

function liteRepos(list: RepoLite[], account: AccountRef) {
  return list.map((r) =>
    installationRepositoryShape({
      id: r.id,
      owner: r.owner ?? account.login,
      name: r.name,
      private: r.private ?? true,
    }),
  );
}

export type InstallationAction =
  "created" | "deleted" | "suspend" | "unsuspend" | "new_permissions_accepted";

export function installationPayload(action: InstallationAction, input: InstallationEventInput) {
  const urls = input.urls ?? GITHUB_DOT_COM;
  const sender = input.sender ?? defaultSender(input.account);
  return {
    action,
    installation: installationObject(input, action === "suspend", sender, urls),
    ...(action === "created" || action === "deleted"
      ? { repositories: liteRepos(input.repositories ?? [], input.account) }
      : {}),
    ...(action === "created" ? { requester: null } : {}),
    sender: person(sender, urls),
  };
}

export interface InstallationRepositoriesInput extends Omit<
  InstallationEventInput,
  "repositories"
> {
  action: "added" | "removed";
  added?: RepoLite[];
  removed?: RepoLite[];
}

export function installationRepositoriesPayload(input: InstallationRepositoriesInput) {
  const urls = input.urls ?? GITHUB_DOT_COM;
  const sender = input.sender ?? defaultSender(input.account);
  return {
    action: input.action,
    installation: installationObject(
      { ...input, repositorySelection: input.repositorySelection ?? "selected" },
      false,
      sender,
      urls,
    ),
    repository_selection: input.repositorySelection ?? "selected",
    repositories_added: liteRepos(input.added ?? [], input.account),
    repositories_removed: liteRepos(input.removed ?? [], input.account),
    requester: null,
    sender: person(sender, urls),
  };
}

export interface PingInput {
  appId: number;
  hookId?: number;
  events?: string[];
  /** The webhook URL configured for the app. */
  url?: string;
  zen?: string;
  urls?: Urls;
}

export function pingPayload(input: PingInput) {
  const urls = input.urls ?? GITHUB_DOT_COM;
  const hookId = input.hookId ?? 480000001;
  return {
    zen: input.zen ?? "Keep it logically awesome.",
    hook_id: hookId,
    hook: {
      type: "App",
      id: hookId,
      name: "web",
      active: true,
      events: input.events ?? ["issue_comment", "installation", "installation_repositories"],
      config: {
        content_type: "json",
        insecure_ssl: "0",
        secret: "********",
        url: input.url ?? "https://bisect.example.com/webhooks/github",
      },
      updated_at: FIXED_TIME,
      created_at: FIXED_TIME,
      app_id: input.appId,
      deliveries_url: `${urls.api}/app/hook/deliveries`,
    },
  };
}
