// JSON shapes as GitHub's REST API and webhooks send them, built from plain data. Shared by the
// stand-in server and the webhook payload builders so both agree on every field.

export interface Urls {
  /** Web base, e.g. `https://github.com` or `http://127.0.0.1:PORT`. */
  web: string;
  /** REST base, e.g. `https://api.github.com` or `http://127.0.0.1:PORT/api/v3`. */
  api: string;
}

export const GITHUB_DOT_COM: Urls = { web: "https://github.com", api: "https://api.github.com" };

export type AccountType = "User" | "Organization" | "Bot";

export interface AccountData {
  login: string;
  id: number;
  type?: AccountType;
  name?: string | null;
  email?: string | null;
  avatarUrl?: string;
}

/** GitHub timestamps carry whole seconds: `2026-11-02T10:11:12Z`. */
export function isoSeconds(date: Date | number = Date.now()): string {
  return new Date(date).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function nodeId(kind: string, id: number): string {
  const prefix: Record<string, string> = {
    User: "MDQ6VXNlcg",
    Organization: "MDEyOk9yZ2FuaXphdGlvbg",
    Bot: "MDM6Qm90",
    Repository: "MDEwOlJlcG9zaXRvcnk",
    IssueComment: "IC_kwDO",
    Issue: "I_kwDO",
    Reaction: "REA_lAHO",
    Installation: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u",
    Integration: "MDExOkludGVncmF0aW9u",
    PullRequest: "PR_kwDO",
    Commit: "C_kwDO",
  };
  return `${prefix[kind] ?? kind}${Buffer.from(String(id)).toString("base64url")}`;
}

export function userShape(account: AccountData, urls: Urls = GITHUB_DOT_COM) {
  const type = account.type ?? "User";
  const login = account.login;
  const api = `${urls.api}/users/${encodeURIComponent(login)}`;
  return {
    login,
    id: account.id,
    node_id: nodeId(type, account.id),
    avatar_url: account.avatarUrl ?? `https://avatars.githubusercontent.com/u/${account.id}?v=4`,
    gravatar_id: "",
    url: api,
    html_url:
      type === "Bot" ? `${urls.web}/apps/${login.replace(/\[bot\]$/, "")}` : `${urls.web}/${login}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type,
    user_view_type: "public",
    site_admin: false,
  };
}

export interface RepositoryData {
  id: number;
  owner: AccountData;
  name: string;
  private: boolean;
  defaultBranch: string;
  description?: string | null;
  createdAt?: string;
  pushedAt?: string;
}

export function repositoryShape(repo: RepositoryData, urls: Urls = GITHUB_DOT_COM) {
  const fullName = `${repo.owner.login}/${repo.name}`;
  const api = `${urls.api}/repos/${fullName}`;
  const html = `${urls.web}/${fullName}`;
  const created = repo.createdAt ?? "2024-01-15T09:30:00Z";
  const host = new URL(urls.web).host;
  return {
    id: repo.id,
    node_id: nodeId("Repository", repo.id),
    name: repo.name,
    full_name: fullName,
    private: repo.private,
    owner: userShape(repo.owner, urls),
    html_url: html,
    description: repo.description ?? null,
    fork: false,
    url: api,
    forks_url: `${api}/forks`,
    keys_url: `${api}/keys{/key_id}`,
    collaborators_url: `${api}/collaborators{/collaborator}`,
    teams_url: `${api}/teams`,
    hooks_url: `${api}/hooks`,
    issue_events_url: `${api}/issues/events{/number}`,
    events_url: `${api}/events`,
    assignees_url: `${api}/assignees{/user}`,
    branches_url: `${api}/branches{/branch}`,
    tags_url: `${api}/tags`,
    blobs_url: `${api}/git/blobs{/sha}`,
    git_tags_url: `${api}/git/tags{/sha}`,
    git_refs_url: `${api}/git/refs{/sha}`,
    trees_url: `${api}/git/trees{/sha}`,
    statuses_url: `${api}/statuses/{sha}`,
    languages_url: `${api}/languages`,
    stargazers_url: `${api}/stargazers`,
    contributors_url: `${api}/contributors`,
    subscribers_url: `${api}/subscribers`,
    subscription_url: `${api}/subscription`,
    commits_url: `${api}/commits{/sha}`,
    git_commits_url: `${api}/git/commits{/sha}`,
    comments_url: `${api}/comments{/number}`,
    issue_comment_url: `${api}/issues/comments{/number}`,
    contents_url: `${api}/contents/{+path}`,
    compare_url: `${api}/compare/{base}...{head}`,
    merges_url: `${api}/merges`,
    archive_url: `${api}/{archive_format}{/ref}`,
    downloads_url: `${api}/downloads`,
    issues_url: `${api}/issues{/number}`,
    pulls_url: `${api}/pulls{/number}`,
    milestones_url: `${api}/milestones{/number}`,
    notifications_url: `${api}/notifications{?since,all,participating}`,
    labels_url: `${api}/labels{/name}`,
    releases_url: `${api}/releases{/id}`,
    deployments_url: `${api}/deployments`,
    created_at: created,
    updated_at: repo.pushedAt ?? created,
    pushed_at: repo.pushedAt ?? created,
    git_url: `git://${host}/${fullName}.git`,
    ssh_url: `git@${host}:${fullName}.git`,
    clone_url: `${html}.git`,
    svn_url: html,
    homepage: null,
    size: 0,
    stargazers_count: 0,
    watchers_count: 0,
    language: null,
    has_issues: true,
    has_projects: true,
    has_downloads: true,
    has_wiki: true,
    has_pages: false,
    has_discussions: false,
    forks_count: 0,
    mirror_url: null,
    archived: false,
    disabled: false,
    open_issues_count: 0,
    license: null,
    allow_forking: true,
    is_template: false,
    web_commit_signoff_required: false,
    topics: [] as string[],
    visibility: repo.private ? "private" : "public",
    forks: 0,
    open_issues: 0,
    watchers: 0,
    default_branch: repo.defaultBranch,
  };
}

/** The short repository form used in installation payloads (`repositories`, `repositories_added`). */
export function installationRepositoryShape(repo: {
  id: number;
  owner: string;
  name: string;
  private: boolean;
}) {
  return {
    id: repo.id,
    node_id: nodeId("Repository", repo.id),
    name: repo.name,
    full_name: `${repo.owner}/${repo.name}`,
    private: repo.private,
  };
}

export type Permissions = Record<string, "read" | "write" | "admin">;

export interface InstallationData {
  id: number;
  account: AccountData;
  appId: number;
  appSlug: string;
  clientId?: string;
  repositorySelection: "all" | "selected";
  permissions: Permissions;
  events: string[];
  createdAt?: string;
  updatedAt?: string;
  suspendedAt?: string | null;
  suspendedBy?: AccountData | null;
}

export function installationShape(inst: InstallationData, urls: Urls = GITHUB_DOT_COM) {
  const accountType = inst.account.type ?? "User";
  const created = inst.createdAt ?? "2024-01-15T09:30:00Z";
  return {
    id: inst.id,
    client_id: inst.clientId ?? null,
    account: userShape(inst.account, urls),
    repository_selection: inst.repositorySelection,
    access_tokens_url: `${urls.api}/app/installations/${inst.id}/access_tokens`,
    repositories_url: `${urls.api}/installation/repositories`,
    html_url:
      accountType === "Organization"
        ? `${urls.web}/organizations/${inst.account.login}/settings/installations/${inst.id}`
        : `${urls.web}/settings/installations/${inst.id}`,
    app_id: inst.appId,
    app_slug: inst.appSlug,
    target_id: inst.account.id,
    target_type: accountType,
    permissions: inst.permissions,
    events: inst.events,
    created_at: created,
    updated_at: inst.updatedAt ?? created,
    single_file_name: null,
    has_multiple_single_files: false,
    single_file_paths: [] as string[],
    suspended_by: inst.suspendedBy ? userShape(inst.suspendedBy, urls) : null,
    suspended_at: inst.suspendedAt ?? null,
  };
}

export interface CommentData {
  id: number;
  owner: string;
  repo: string;
  issueNumber: number;
  body: string;
  user: AccountData;
  authorAssociation: string;
  createdAt: string;
  updatedAt: string;
  /** Set when a GitHub App wrote the comment. */
  viaApp?: { id: number; slug: string; owner: AccountData; name: string; clientId?: string } | null;
  reactions?: Record<string, number>;
}

export const REACTION_CONTENTS = [
  "+1",
  "-1",
  "laugh",
  "confused",
  "heart",
  "hooray",
  "rocket",
  "eyes",
] as const;
export type ReactionContent = (typeof REACTION_CONTENTS)[number];

export function reactionRollup(url: string, counts: Partial<Record<string, number>> = {}) {
  const get = (k: string) => counts[k] ?? 0;
  return {
    url,
    total_count: REACTION_CONTENTS.reduce((n, k) => n + get(k), 0),
    "+1": get("+1"),
    "-1": get("-1"),
    laugh: get("laugh"),
    hooray: get("hooray"),
    confused: get("confused"),
    heart: get("heart"),
    rocket: get("rocket"),
    eyes: get("eyes"),
  };
}

export function appShape(
  app: { id: number; slug: string; name: string; owner: AccountData; clientId?: string },
  permissions: Permissions,
  events: string[],
  urls: Urls = GITHUB_DOT_COM,
  installationsCount?: number,
) {
  return {
    id: app.id,
    slug: app.slug,
    node_id: nodeId("Integration", app.id),
    client_id: app.clientId,
    owner: userShape(app.owner, urls),
    name: app.name,
    description: "",
    external_url: `${urls.web}/${app.owner.login}`,
    html_url: `${urls.web}/apps/${app.slug}`,
    created_at: "2024-01-10T08:00:00Z",
    updated_at: "2024-01-10T08:00:00Z",
    permissions,
    events,
    ...(installationsCount === undefined ? {} : { installations_count: installationsCount }),
  };
}

export function commentShape(c: CommentData, urls: Urls = GITHUB_DOT_COM) {
  const repoApi = `${urls.api}/repos/${c.owner}/${c.repo}`;
  const url = `${repoApi}/issues/comments/${c.id}`;
  return {
    url,
    html_url: `${urls.web}/${c.owner}/${c.repo}/issues/${c.issueNumber}#issuecomment-${c.id}`,
    issue_url: `${repoApi}/issues/${c.issueNumber}`,
    id: c.id,
    node_id: nodeId("IssueComment", c.id),
    user: userShape(c.user, urls),
    created_at: c.createdAt,
    updated_at: c.updatedAt,
    author_association: c.authorAssociation,
    body: c.body,
    reactions: reactionRollup(`${url}/reactions`, c.reactions),
    performed_via_github_app: c.viaApp ? appShape(c.viaApp, {}, [], urls) : null,
  };
}
