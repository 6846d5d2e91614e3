// A local HTTP server that speaks the parts of GitHub the product uses: the REST API under
// `/api/v3` (GitHub Enterprise Server layout), the OAuth web flow, and git smart-HTTP for
// repositories on disk. Tests point GITHUB_API_URL / GITHUB_URL at it and inspect what it saw.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { execFileSync } from "node:child_process";
import { resolveCommit, runGit } from "./git";
import { checksModule, CHECKS_LATE_ROUTES, CHECKS_ROUTES } from "./checks";
import { isoSeconds } from "./shapes";
import { createCore } from "./core";
import {
  type StandInOptions,
  type RequestRecord,
  type CommentView,
  type TokenView,
  type StandIn,
  type RepoState,
  type InstallationToken,
  type CommentState,
  type Fault,
  type Actor,
  type Ctx,
  type Route,
  DOCS,
  lc,
  compilePattern,
  redact,
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

import { registerApps } from "./apps";
import { registerIssues } from "./issues";
import { registerOAuth } from "./oauth";
import { registerPulls } from "./pulls";
import { registerContents, registerRepositories } from "./repositories";
import { registerSmartHttp } from "./smart-http";
import { registerUsers } from "./users";

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
    classify,
    actorFor,
    requireRepo,
    send,
    apiHeaders,
    json,
    sendFailure,
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

  // ---- expectations ----

  function patternTest(pattern: string | RegExp): (path: string, isApi: boolean) => boolean {
    if (pattern instanceof RegExp) return (path) => pattern.test(path);
    const { regex } = compilePattern(pattern);
    if (pattern.startsWith(API)) return (path) => regex.test(path);
    return (path, isApi) => regex.test(isApi ? path.slice(API.length) || "/" : path);
  }

  function methodMatches(expected: string | undefined, actual: string): boolean {
    return !expected || expected === "*" || expected.toUpperCase() === actual;
  }

  function isAllowed(method: string, path: string, isApi: boolean): boolean {
    if (extraRoutes.some((r) => methodMatches(r.method, method) && r.test(path, isApi)))
      return true;
    if (core.allowedOnly === null) return true;
    return core.allowedOnly.some((r) => methodMatches(r.method, method) && r.test(path, isApi));
  }

  function takeFault(method: string, path: string): Fault | undefined {
    const f = faults.find(
      (x) => x.remaining > 0 && methodMatches(x.method, method) && x.test(path),
    );
    if (f) f.remaining -= 1;
    return f;
  }

  function sendFault(ctx: Ctx, f: Fault): void {
    const retryAt = Math.floor(Date.now() / 1000) + f.retryAfter;
    const headers: Record<string, string> = { ...apiHeaders() };
    let message: string;
    if (f.rateLimit) {
      Object.assign(headers, {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-used": "5000",
        "x-ratelimit-reset": String(retryAt),
        "x-ratelimit-resource": "core",
        "retry-after": String(f.retryAfter),
      });
      message = f.secondary
        ? "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID."
        : `API rate limit exceeded for installation ID ${ctx.record.installationId ?? 0}.`;
    } else {
      message =
        f.status === 403
          ? "Resource not accessible by integration"
          : f.status === 503
            ? "Service Unavailable"
            : "Server Error";
    }
    const docs = f.rateLimit
      ? "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
      : "https://docs.github.com/rest";
    send(ctx, f.status, { message, documentation_url: docs, status: String(f.status) }, headers);
  }

  // ---- request handling ----

  checks.registerLate();

  async function readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 50 * 1024 * 1024) throw new HttpFailure(413, "Payload too large");
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  function parseBody(req: IncomingMessage, raw: Buffer): unknown {
    if (raw.length === 0) return undefined;
    const type = req.headers["content-type"] ?? "";
    const text = raw.toString("utf8");
    if (/x-www-form-urlencoded/.test(type)) return Object.fromEntries(new URLSearchParams(text));
    if (/json/.test(type) || /^\s*[[{]/.test(text)) {
      try {
        return JSON.parse(text);
      } catch {
        throw new HttpFailure(400, "Problems parsing JSON");
      }
    }
    return text;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", core.urls.web);
    const path = url.pathname;
    const isApi = path === API || path.startsWith(`${API}/`);
    const record: RequestRecord = {
      seq: ++core.seq,
      at: new Date().toISOString(),
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      status: 0,
      auth: classify(req).kind,
      unexpected: false,
    };
    log.push(record);
    // Who is asking, for the log (validity is checked by the route).
    const presented = classify(req).credential;
    if (presented) {
      const it = installationTokens.get(presented);
      const ot = oauthTokens.get(presented);
      if (it) record.installationId = it.installationId;
      else if (ot) record.user = ot.login;
    }
    res.on("finish", () => {
      record.status = res.statusCode;
      if (options.verbose) {
        console.error(
          `[github-stand-in] ${method} ${path}${url.search} → ${res.statusCode}${record.unexpected ? " (unexpected)" : ""}`,
        );
      }
    });

    let matched: { route: Route; params: Record<string, string> } | undefined;
    for (const r of routes) {
      if (r.method !== method) continue;
      const m = r.regex.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => (params[k] = m[i + 1] ?? ""));
      for (const k of Object.keys(params)) {
        if (k === "path" || k === "ref" || k === "commit_sha") continue;
        try {
          params[k] = decodeURIComponent(params[k]!);
        } catch {
          /* leave as is */
        }
      }
      matched = { route: r, params };
      break;
    }
    const fallbackRoute: Route = {
      method,
      pattern: "",
      regex: /^$/,
      keys: [],
      docs: DOCS,
      handle: () => undefined,
    };
    const ctx: Ctx = {
      req,
      res,
      url,
      params: matched?.params ?? {},
      body: undefined,
      record,
      route: matched?.route ?? fallbackRoute,
    };
    if (matched) record.route = `${method} ${matched.route.pattern}`;

    try {
      const fault = takeFault(method, path);
      if (fault) {
        record.fault = fault.status;
        req.resume();
        sendFault(ctx, fault);
        return;
      }
      if (!matched?.route.stream) {
        const raw = await readBody(req);
        const parsed = parseBody(req, raw);
        record.body = redact(parsed);
        ctx.body = parsed;
      }
      if (!matched) {
        const extra = extraRoutes.find(
          (r) => methodMatches(r.method, method) && r.test(path, isApi),
        );
        if (extra?.respond) {
          record.route = `${method} (allowed by test)`;
          const body = extra.respond.body;
          send(ctx, extra.respond.status ?? 200, body, {
            ...(isApi ? apiHeaders() : {}),
            ...(extra.respond.headers ?? {}),
          });
          return;
        }
        if (!extra) {
          record.unexpected = true;
          record.note = "no such route in the GitHub stand-in";
        }
        throw new HttpFailure(404, "Not Found");
      }
      if (!isAllowed(method, path, isApi)) {
        record.unexpected = true;
        record.note = "route not allowed by this test";
      }
      await matched.route.handle(ctx);
    } catch (err) {
      if (err instanceof HttpFailure) {
        sendFailure(ctx, err);
        return;
      }
      record.unexpected = true;
      record.note = `stand-in error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
      if (!res.headersSent) sendFailure(ctx, new HttpFailure(500, "Server Error"));
      else res.destroy();
    }
  }

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
