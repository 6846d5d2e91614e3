// A local HTTP server that speaks the parts of GitHub the product uses: the REST API under
// `/api/v3` (GitHub Enterprise Server layout), the OAuth web flow, and git smart-HTTP for
// repositories on disk. Tests point GITHUB_API_URL / GITHUB_URL at it and inspect what it saw.
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { execFileSync } from "node:child_process";
import { resolveCommit, runGit } from "./git";
import { checksModule, CHECKS_LATE_ROUTES, CHECKS_ROUTES } from "./checks";
import { isoSeconds } from "./shapes";
import { createCore } from "./core";
import { registerApps } from "./apps";
import { registerIssues } from "./issues";
import { registerOAuth } from "./oauth";
import { registerPulls } from "./pulls";
import { requestHandling } from "./requests";
import { registerContents, registerRepositories } from "./repositories";
import { registerSmartHttp } from "./smart-http";
import { registerUsers } from "./users";
import {
  type StandInOptions,
  type CommentView,
  type TokenView,
  type StandIn,
  type RepoState,
  type InstallationToken,
  type CommentState,
  type Actor,
  type Ctx,
  lc,
  HttpFailure,
} from "./model";

export { makeAppKey } from "./jwt";
export type { Urls } from "./shapes";
export { compilePattern } from "./model";
export type {
  AccessLevel,
  RepoRole,
  AppInput,
  InstallationInput,
  RepositoryInput,
  UserInput,
  OAuthAppInput,
  PullInput,
  StandInOptions,
  AuthKind,
  RequestRecord,
  FaultSpec,
  CannedResponse,
  CommentView,
  ReactionView,
  TokenView,
  StandIn,
} from "./model";

export async function startGitHubStandIn(options: StandInOptions = {}): Promise<StandIn> {
  const core = createCore();
  const {
    git,
    accounts,
    repos,
    installations,
    roles,
    pulls,
    oauthApps,
    installationTokens,
    oauthTokens,
    comments,
    reactions,
    log,
    faults,
    extraRoutes,
    account,
    newCommentId,
    accountData,
    setApp,
    addUser,
    addRepository,
    addInstallation,
    repoOf,
    fullName,
    repoData,
    actorFor,
    requireRepo,
    json,
    paginate,
    bodyObject,
    commentAuthor,
    association,
    issueOAuthToken,
    issueInstallationToken,
    routes,
    route,
    API,
  } = core;
  registerApps(core);
  registerRepositories(core);
  registerIssues(core);

  // Checks, statuses and commit comments (tests/github-stand-in/checks.ts): before commits/:ref+.
  const checks = checksModule<Ctx, Actor, RepoState>({
    route,
    actorFor,
    requireRepo,
    json,
    paginate,
    param: (ctx, name) => ctx.params[name] ?? "",
    query: (ctx, name) => ctx.url.searchParams.get(name),
    body: bodyObject,
    fail: (status, message, extra) => new HttpFailure(status, message, extra),
    resolve: (repo, ref) => resolveCommit(repo.path, ref, git.env),
    relation: async (repo, base, head) => {
      if ((await runGit(repo.path, ["merge-base", base, head], git.env)).code !== 0) return null;
      const counted = await runGit(
        repo.path,
        ["rev-list", "--left-right", "--count", `${base}...${head}`],
        git.env,
      );
      const [behind, ahead] = counted.stdout.toString("utf8").trim().split(/\s+/).map(Number);
      return { ahead: ahead ?? 0, behind: behind ?? 0 };
    },
    repoJson: repoData,
    repoByName: repoOf,
    author: (actor) => {
      const { login } = commentAuthor(actor);
      return { login, account: accountData(account(login, "User")) };
    },
    account: (login) => accountData(account(login, "User")),
    urls: () => core.urls,
  });
  checks.register();
  registerPulls(core);
  registerContents(core);
  registerUsers(core);
  registerOAuth(core);
  registerSmartHttp(core);

  checks.registerLate();
  const { patternTest, methodMatches, handle } = requestHandling(core, options);

  // ---- start ----

  setApp(options.app ?? { id: 1001, slug: "bisect-bot" });
  for (const u of options.users ?? []) addUser(u);
  for (const r of options.repositories ?? []) addRepository(r);
  for (const i of options.installations ?? []) addInstallation(i);
  for (const o of options.oauthApps ?? []) oauthApps.set(o.clientId, o);
  if (options.oauthUser) core.oauthUser = account(options.oauthUser, "User").login;

  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const web = `http://127.0.0.1:${port}`;
  core.urls = { web, api: `${web}${API}` };

  function tokenView(t: InstallationToken): TokenView {
    const inst = installations.get(t.installationId);
    const view = {
      installationId: t.installationId,
      permissions: { ...t.permissions },
      repositories:
        t.repositoryIds === null
          ? ("all" as const)
          : [...repos.values()].filter((r) => t.repositoryIds!.includes(r.id)).map(fullName),
      repositorySelection: (t.repositoryIds !== null || inst?.repositories ? "selected" : "all") as
        "all" | "selected",
      createdAt: isoSeconds(t.createdAt),
      expiresAt: isoSeconds(t.expiresAt),
      expired: t.expiresAt <= Date.now(),
      revoked: t.revoked,
    };
    Object.defineProperty(view, "token", { value: t.token, enumerable: false });
    return view as TokenView;
  }

  function commentView(c: CommentState): CommentView {
    return {
      id: c.id,
      body: c.body,
      user: c.author,
      htmlUrl: `${core.urls.web}/${c.owner}/${c.repo}/issues/${c.issue}#issuecomment-${c.id}`,
      createdAt: c.createdAt,
      updatedAt: c.updatedAt,
      edits: c.history.length,
      history: [...c.history],
      deleted: c.deleted,
    };
  }

  const standIn: StandIn = {
    urls: core.urls,
    get app() {
      return {
        id: core.app.id,
        slug: core.app.slug,
        name: core.app.name,
        clientId: core.app.clientId,
        clientSecret: core.app.clientSecret,
        botLogin: `${core.app.slug}[bot]`,
        botUserId: core.app.botUserId,
        privateKey: core.app.privateKey,
      };
    },
    setApp,
    addUser,
    addRepository,
    removeRepository(owner, name) {
      repos.delete(lc(`${owner}/${name}`));
    },
    addInstallation,
    updateInstallation(id, patch) {
      const inst = installations.get(id);
      if (!inst) throw new Error(`no installation ${id}`);
      if (patch.account) {
        const acc = account(patch.account.login, patch.account.type ?? "Organization");
        inst.account = acc.login;
      }
      if (patch.repositories !== undefined)
        inst.repositories = patch.repositories ? patch.repositories.map(lc) : null;
      if (patch.permissions) inst.permissions = { ...patch.permissions };
      if (patch.events) inst.events = [...patch.events];
      if (patch.members) inst.members = new Set(patch.members.map(lc));
      if (patch.suspended !== undefined) inst.suspendedAt = patch.suspended ? isoSeconds() : null;
      inst.updatedAt = isoSeconds();
    },
    removeInstallation(id) {
      installations.delete(id);
    },
    suspendInstallation(id, suspended = true) {
      standIn.updateInstallation(id, { suspended });
    },
    setPermission(owner, repo, login, rl) {
      const r = repoOf(owner, repo);
      if (!r) throw new Error(`no repository ${owner}/${repo} in the stand-in`);
      const existing = accounts.get(lc(login));
      if (!existing) addUser({ login });
      roles.set(`${lc(fullName(r))}\0${lc(login)}`, rl);
    },
    setPullsForCommit(owner, repo, ref, list) {
      const r = repoOf(owner, repo);
      if (!r) throw new Error(`no repository ${owner}/${repo} in the stand-in`);
      const sha = execFileSync(
        "git",
        ["-C", r.path, "rev-parse", "--verify", "--end-of-options", `${ref}^{commit}`],
        {
          env: git.env,
          encoding: "utf8",
        },
      ).trim();
      pulls.set(`${lc(fullName(r))}\0${sha}`, [...list]);
    },
    addOAuthApp(o) {
      oauthApps.set(o.clientId, { ...o });
    },
    setOAuthUser(login) {
      core.oauthUser = login === null ? null : account(login, "User").login;
    },
    denyNextOAuth() {
      core.denyOAuth = true;
    },
    issueInstallationToken(installationId, scope) {
      return issueInstallationToken(installationId, scope).record.token;
    },
    issueOAuthToken(login, clientId, scopes) {
      return issueOAuthToken(login, clientId, scopes);
    },
    expireInstallationTokens() {
      const past = Date.now() - 1000;
      for (const t of installationTokens.values()) t.expiresAt = Math.min(t.expiresAt, past);
    },
    revokeToken(token) {
      const t = installationTokens.get(token) ?? oauthTokens.get(token);
      if (t) t.revoked = true;
    },
    seedComment(owner, repo, issue, input) {
      const r = repoOf(owner, repo);
      if (!r) throw new Error(`no repository ${owner}/${repo} in the stand-in`);
      const user = accounts.get(lc(input.user)) ?? account(input.user, "User");
      const id = input.id ?? newCommentId();
      if (comments.has(id)) throw new Error(`comment ${id} already exists`);
      const now = isoSeconds();
      const c: CommentState = {
        id,
        owner: r.owner,
        repo: r.name,
        issue,
        body: input.body,
        author: user.login,
        viaApp: false,
        authorAssociation: association(r, user.login),
        createdAt: now,
        updatedAt: now,
        history: [],
        deleted: false,
      };
      comments.set(id, c);
      return commentView(c);
    },
    comments(owner, repo, issue) {
      return [...comments.values()]
        .filter((c) => c.issue === issue && lc(`${c.owner}/${c.repo}`) === lc(`${owner}/${repo}`))
        .sort((a, b) => a.id - b.id)
        .map(commentView);
    },
    reactions(owner, repo, target) {
      const key =
        "commentId" in target
          ? `comment:${target.commentId}`
          : `issue:${lc(`${owner}/${repo}`)}#${target.issue}`;
      return reactions
        .filter((r) => r.target === key)
        .map((r) => ({ id: r.id, content: r.content, user: r.user, createdAt: r.createdAt }));
    },
    tokensIssued() {
      return [...installationTokens.values()].map(tokenView);
    },
    oauthTokensIssued() {
      return [...oauthTokens.values()].map((t) => {
        const view = {
          login: t.login,
          clientId: t.clientId,
          scopes: [...t.scopes],
          createdAt: isoSeconds(t.createdAt),
        };
        Object.defineProperty(view, "token", { value: t.token, enumerable: false });
        return view as typeof view & { readonly token: string };
      });
    },
    requests(filter) {
      const test = filter?.path === undefined ? () => true : patternTest(filter.path);
      return log.filter(
        (r) =>
          methodMatches(filter?.method, r.method) &&
          test(r.path, r.path === API || r.path.startsWith(`${API}/`)),
      );
    },
    clearRequests() {
      log.length = 0;
    },
    routes() {
      return routes.map((r) => `${r.method} ${r.pattern}`);
    },
    allow(method, pathPattern, respond) {
      extraRoutes.push({ method: method.toUpperCase(), test: patternTest(pathPattern), respond });
    },
    allowOnly(list) {
      core.allowedOnly = list.map(([method, p]) => ({
        method: method.toUpperCase(),
        test: patternTest(p),
      }));
    },
    resetAllowed() {
      core.allowedOnly = null;
      extraRoutes.length = 0;
    },
    unexpected() {
      return log.filter((r) => r.unexpected);
    },
    assertNoUnexpected() {
      const bad = log.filter((r) => r.unexpected);
      if (bad.length === 0) return;
      const lines = bad.map((r) => {
        const q = Object.keys(r.query).length ? `?${new URLSearchParams(r.query).toString()}` : "";
        return `  ${r.method} ${r.path}${q} → ${r.status || "(pending)"} [auth: ${r.auth}]${r.note ? ` — ${r.note}` : ""}`;
      });
      throw new Error(
        `GitHub stand-in received ${bad.length} unexpected request(s):\n${lines.join("\n")}`,
      );
    },
    failNext(spec) {
      const rateLimit = spec.rateLimit ?? spec.status === 429;
      faults.push({
        method: spec.method?.toUpperCase(),
        test:
          spec.path instanceof RegExp
            ? (p) => (spec.path as RegExp).test(p)
            : (p) => patternTest(spec.path)(p, p.startsWith(API)),
        status: spec.status,
        remaining: spec.times ?? 1,
        rateLimit,
        secondary: spec.secondary ?? false,
        retryAfter: spec.retryAfter ?? 60,
      });
    },
    clearFaults() {
      faults.length = 0;
    },
    checks: checks.api,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      git.dispose();
    },
  };
  return standIn;
}

/** The routes the stand-in serves; all are allowed unless a test narrows them with `allowOnly`. */
export const DEFAULT_ROUTES: readonly string[] = [
  "GET /api/v3/app",
  "GET /api/v3/app/installations",
  "GET /api/v3/app/installations/:installation_id",
  "POST /api/v3/app/installations/:installation_id/access_tokens",
  "GET /api/v3/repos/:owner/:repo/installation",
  "GET /api/v3/installation/repositories",
  "GET /api/v3/rate_limit",
  "GET /api/v3/repos/:owner/:repo",
  "GET /api/v3/repos/:owner/:repo/collaborators/:username/permission",
  "GET /api/v3/repos/:owner/:repo/issues/:issue_number/comments",
  "POST /api/v3/repos/:owner/:repo/issues/:issue_number/comments",
  "GET /api/v3/repos/:owner/:repo/issues/comments/:comment_id",
  "PATCH /api/v3/repos/:owner/:repo/issues/comments/:comment_id",
  "DELETE /api/v3/repos/:owner/:repo/issues/comments/:comment_id",
  "POST /api/v3/repos/:owner/:repo/issues/comments/:comment_id/reactions",
  "POST /api/v3/repos/:owner/:repo/issues/:issue_number/reactions",
  ...CHECKS_ROUTES,
  "GET /api/v3/repos/:owner/:repo/commits/:commit_sha/pulls",
  "GET /api/v3/repos/:owner/:repo/commits/:ref+",
  "GET /api/v3/repos/:owner/:repo/contents/:path*",
  "GET /api/v3/user",
  "GET /api/v3/user/installations",
  "GET /api/v3/user/installations/:installation_id/repositories",
  "POST /settings/apps/new",
  "POST /api/v3/app-manifests/:code/conversions",
  "GET /login/oauth/authorize",
  "POST /login/oauth/access_token",
  "GET /:owner/:repo/info/refs",
  "POST /:owner/:repo/git-upload-pack",
  ...CHECKS_LATE_ROUTES,
];
