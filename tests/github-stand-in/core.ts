// The GitHub stand-in's state and the helpers every area shares: accounts, repositories and
// installations, who is asking (auth), how answers are sent (headers, paging, failures), and the
// route table the areas register into. server.ts creates one per stand-in.
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { execFileSync } from "node:child_process";
import { gitEnvironment, type GitEnvironment } from "./git";
import { looksLikeJwt, makeAppKey, publicKeyFrom, verifyAppJwt, JWT_MESSAGES } from "./jwt";
import {
  commentShape,
  installationShape,
  isoSeconds,
  repositoryShape,
  type AccountData,
  type AccountType,
  type Permissions,
  type Urls,
} from "./shapes";
import {
  type RepoRole,
  type AppInput,
  type InstallationInput,
  type RepositoryInput,
  type UserInput,
  type OAuthAppInput,
  type PullInput,
  type AuthKind,
  type RequestRecord,
  type CannedResponse,
  type AppState,
  type AccountState,
  type RepoState,
  type InstallationState,
  type InstallationToken,
  type OAuthToken,
  type OAuthCode,
  type CommentState,
  type ReactionState,
  type Fault,
  type Actor,
  type Ctx,
  type Route,
  LEVEL,
  ROLE_RANK,
  DEFAULT_PERMISSIONS,
  DEFAULT_EVENTS,
  TOKEN_LIFETIME_MS,
  lc,
  compilePattern,
  randomToken,
  HttpFailure,
} from "./model";

export function createCore() {
  const git: GitEnvironment = gitEnvironment();
  let urls: Urls = { web: "", api: "" };

  // ---- state ----
  const accounts = new Map<string, AccountState>();
  const repos = new Map<string, RepoState>();
  const installations = new Map<number, InstallationState>();
  const roles = new Map<string, RepoRole>(); // `${repo}\0${login}`
  const pulls = new Map<string, PullInput[]>(); // `${repo}\0${sha}`
  const oauthApps = new Map<string, OAuthAppInput>();
  const installationTokens = new Map<string, InstallationToken>();
  const oauthTokens = new Map<string, OAuthToken>();
  const oauthCodes = new Map<string, OAuthCode>();
  const comments = new Map<number, CommentState>();
  const reactions: ReactionState[] = [];
  const log: RequestRecord[] = [];
  const faults: Fault[] = [];
  const extraRoutes: Array<{
    method: string;
    test: (path: string, isApi: boolean) => boolean;
    respond?: CannedResponse;
  }> = [];
  let allowedOnly: Array<{
    method: string;
    test: (path: string, isApi: boolean) => boolean;
  }> | null = null;
  const rateUsed = new Map<string, number>();
  let oauthUser: string | null = null;
  let denyOAuth = false;
  let seq = 0;
  let nextAccountId = 9001;
  let nextRepoId = 700001;
  let nextCommentId = 2000000001;
  let nextReactionId = 150000001;
  const pullIdBase = 1800000000;
  let app!: AppState;

  function account(login: string, type: AccountType = "Organization"): AccountState {
    const key = lc(login);
    let a = accounts.get(key);
    if (!a) {
      a = { login, id: nextAccountId++, type, name: null, emails: [], createdAt: isoSeconds() };
      accounts.set(key, a);
    }
    return a;
  }

  function newCommentId(): number {
    while (comments.has(nextCommentId)) nextCommentId++;
    return nextCommentId++;
  }

  function accountData(a: AccountState): AccountData {
    return { login: a.login, id: a.id, type: a.type, name: a.name, avatarUrl: a.avatarUrl };
  }

  function setApp(input: AppInput): void {
    let privateKey = input.privateKey;
    if (!privateKey && !input.publicKey) privateKey = makeAppKey();
    const publicKey = publicKeyFrom(input.publicKey ?? privateKey!);
    const ownerInput = input.owner ?? { login: "bisect-bot-org", type: "Organization" as const };
    const owner = account(ownerInput.login, ownerInput.type ?? "Organization");
    if (ownerInput.id !== undefined) owner.id = ownerInput.id;
    const botUserId = input.botUserId ?? 41000000 + input.id;
    app = {
      id: input.id,
      slug: input.slug,
      name: input.name ?? input.slug,
      privateKey,
      publicKey,
      clientId: input.clientId ?? `Iv23li${randomBytes(7).toString("hex")}`,
      clientSecret: input.clientSecret ?? randomBytes(20).toString("hex"),
      owner: accountData(owner),
      permissions: input.permissions ?? { ...DEFAULT_PERMISSIONS },
      events: input.events ?? [...DEFAULT_EVENTS],
      callbackUrls: input.callbackUrls ?? [],
      botUserId,
    };
    const bot = account(`${input.slug}[bot]`, "Bot");
    bot.id = botUserId;
    bot.type = "Bot";
  }

  function addUser(u: UserInput): void {
    const a = account(u.login, u.type ?? "User");
    a.type = u.type ?? "User";
    if (u.id !== undefined) a.id = u.id;
    if (u.name !== undefined) a.name = u.name;
    if (u.avatarUrl !== undefined) a.avatarUrl = u.avatarUrl;
    if (u.emails) a.emails = u.emails.map(lc);
  }

  function addRepository(r: RepositoryInput): { id: number; fullName: string } {
    const owner = accounts.get(lc(r.owner)) ?? account(r.owner, r.ownerType ?? "Organization");
    const key = lc(`${owner.login}/${r.name}`);
    let defaultBranch = r.defaultBranch;
    if (!defaultBranch) {
      try {
        defaultBranch = execFileSync("git", ["-C", r.path, "symbolic-ref", "--short", "HEAD"], {
          env: git.env,
          encoding: "utf8",
        }).trim();
      } catch {
        defaultBranch = "main";
      }
    }
    const state: RepoState = {
      id: r.id ?? nextRepoId++,
      owner: owner.login,
      name: r.name,
      private: r.private ?? true,
      defaultBranch,
      path: r.path,
      description: r.description ?? null,
      createdAt: isoSeconds(),
    };
    repos.set(key, state);
    return { id: state.id, fullName: `${state.owner}/${state.name}` };
  }

  function addInstallation(i: InstallationInput): void {
    const acc = account(i.account.login, i.account.type ?? "Organization");
    if (i.account.type) acc.type = i.account.type;
    if (i.account.id !== undefined) acc.id = i.account.id;
    const now = isoSeconds();
    installations.set(i.id, {
      id: i.id,
      account: acc.login,
      repositories: i.repositories ? i.repositories.map(lc) : null,
      permissions: i.permissions ?? { ...app.permissions },
      events: i.events ?? [...app.events],
      suspendedAt: i.suspended ? now : null,
      members: new Set((i.members ?? []).map(lc)),
      createdAt: now,
      updatedAt: now,
    });
  }

  function repoOf(owner: string, name: string): RepoState | undefined {
    return repos.get(lc(`${owner}/${name}`));
  }

  function fullName(r: RepoState): string {
    return `${r.owner}/${r.name}`;
  }

  function installationRepos(inst: InstallationState): RepoState[] {
    if (inst.repositories === null)
      return [...repos.values()].filter((r) => lc(r.owner) === lc(inst.account));
    return inst.repositories
      .map((n) => repos.get(n))
      .filter((r): r is RepoState => r !== undefined);
  }

  function tokenRepos(t: InstallationToken, inst: InstallationState): RepoState[] {
    const all = installationRepos(inst);
    return t.repositoryIds === null ? all : all.filter((r) => t.repositoryIds!.includes(r.id));
  }

  function role(repo: RepoState, login: string): RepoRole {
    const explicit = roles.get(`${lc(fullName(repo))}\0${lc(login)}`);
    if (explicit) return explicit;
    if (lc(repo.owner) === lc(login)) return "admin";
    const orgMember = [...installations.values()].some(
      (i) => lc(i.account) === lc(repo.owner) && i.members.has(lc(login)),
    );
    if (orgMember || !repo.private) return "read";
    return "none";
  }

  function installationData(inst: InstallationState) {
    const acc = account(inst.account);
    return installationShape(
      {
        id: inst.id,
        account: accountData(acc),
        appId: app.id,
        appSlug: app.slug,
        clientId: app.clientId,
        repositorySelection: inst.repositories === null ? "all" : "selected",
        permissions: inst.permissions,
        events: inst.events,
        createdAt: inst.createdAt,
        updatedAt: inst.updatedAt,
        suspendedAt: inst.suspendedAt,
        suspendedBy: inst.suspendedAt ? accountData(acc) : null,
      },
      urls,
    );
  }

  function repoData(r: RepoState) {
    return repositoryShape(
      {
        id: r.id,
        owner: accountData(account(r.owner)),
        name: r.name,
        private: r.private,
        defaultBranch: r.defaultBranch,
        description: r.description,
        createdAt: r.createdAt,
      },
      urls,
    );
  }

  function rolePermissions(rl: RepoRole) {
    const n = ROLE_RANK[rl];
    return { admin: n >= 5, maintain: n >= 4, push: n >= 3, triage: n >= 2, pull: n >= 1 };
  }

  function userAccessToInstallation(login: string, inst: InstallationState): boolean {
    if (lc(inst.account) === lc(login) || inst.members.has(lc(login))) return true;
    return installationRepos(inst).some(
      (r) => role(r, login) !== "none" && roles.has(`${lc(fullName(r))}\0${lc(login)}`),
    );
  }

  // ---- auth ----

  function classify(req: IncomingMessage): {
    kind: AuthKind;
    credential: string | null;
    basicUser?: string;
  } {
    const header = req.headers.authorization;
    if (!header) return { kind: "none", credential: null };
    const m = /^(\w+)\s+(.+)$/.exec(header.trim());
    if (!m) return { kind: "unknown", credential: null };
    const scheme = lc(m[1]!);
    const value = m[2]!.trim();
    if (scheme === "basic") {
      const decoded = Buffer.from(value, "base64").toString("utf8");
      const i = decoded.indexOf(":");
      return {
        kind: "basic",
        credential: i >= 0 ? decoded.slice(i + 1) : decoded,
        basicUser: i >= 0 ? decoded.slice(0, i) : "",
      };
    }
    if (scheme !== "bearer" && scheme !== "token") return { kind: "unknown", credential: null };
    if (looksLikeJwt(value)) return { kind: "jwt", credential: value };
    if (value.startsWith("ghs_")) return { kind: "installation", credential: value };
    if (value.startsWith("gho_")) return { kind: "oauth", credential: value };
    return { kind: "unknown", credential: value };
  }

  function badCredentials(): never {
    throw new HttpFailure(401, "Bad credentials");
  }

  /** Resolves an installation token or user token (Bearer/token or Basic password) into an actor. */
  function actorFor(ctx: Ctx): Actor {
    const c = classify(ctx.req);
    if (c.kind === "none") return { kind: "none" };
    if (c.kind === "jwt") throw new HttpFailure(403, "Resource not accessible by integration");
    const credential = c.credential;
    if (!credential) badCredentials();
    const inst = installationTokens.get(credential);
    if (inst) {
      if (inst.revoked || inst.expiresAt <= Date.now()) badCredentials();
      const installation = installations.get(inst.installationId);
      if (!installation) badCredentials();
      if (installation.suspendedAt)
        throw new HttpFailure(403, "This installation has been suspended");
      ctx.record.installationId = installation.id;
      return { kind: "installation", token: inst, inst: installation };
    }
    const user = oauthTokens.get(credential);
    if (user && !user.revoked) {
      const acc = accounts.get(lc(user.login));
      if (!acc) badCredentials();
      ctx.record.user = acc.login;
      return { kind: "oauth", token: user, user: acc };
    }
    badCredentials();
  }

  function requireJwt(ctx: Ctx): void {
    const c = classify(ctx.req);
    if (c.kind !== "jwt" || !c.credential) throw new HttpFailure(401, JWT_MESSAGES.undecodable);
    const check = verifyAppJwt(c.credential, {
      id: app.id,
      clientId: app.clientId,
      publicKey: app.publicKey,
    });
    if (!check.ok) throw new HttpFailure(401, check.message);
  }

  function requireUser(ctx: Ctx): { token: OAuthToken; user: AccountState } {
    const actor = actorFor(ctx);
    if (actor.kind === "none") throw new HttpFailure(401, "Requires authentication");
    if (actor.kind !== "oauth")
      throw new HttpFailure(403, "Resource not accessible by integration");
    return actor;
  }

  type Need = { permission: string; level: "read" | "write" } | null;

  /**
   * The repository named by `:owner/:repo`, checked for the actor: a private repository outside
   * the actor's reach is a 404 (as on GitHub), a missing permission or a write outside the
   * installation a 403.
   */
  function requireRepo(ctx: Ctx, actor: Actor, need: Need): RepoState {
    const repo = repoOf(ctx.params.owner!, ctx.params.repo!);
    if (!repo) throw new HttpFailure(404, "Not Found");
    const write = need?.level === "write";
    if (actor.kind === "none") {
      if (repo.private) throw new HttpFailure(404, "Not Found");
      if (write) throw new HttpFailure(401, "Requires authentication");
      return repo;
    }
    if (actor.kind === "oauth") {
      const rl = role(repo, actor.user.login);
      if (rl === "none") throw new HttpFailure(404, "Not Found");
      return repo;
    }
    const covered = tokenRepos(actor.token, actor.inst).some((r) => r.id === repo.id);
    if (!covered) {
      if (repo.private) throw new HttpFailure(404, "Not Found");
      if (write) throw new HttpFailure(403, "Resource not accessible by integration");
      return repo;
    }
    if (need && need.permission !== "metadata") {
      const has = LEVEL[actor.token.permissions[need.permission] ?? "none"] ?? 0;
      if (has < (LEVEL[need.level] ?? 1))
        throw new HttpFailure(403, "Resource not accessible by integration");
    }
    return repo;
  }

  // ---- responses ----

  function rateHeaders(ctx: Ctx, actor?: Actor): Record<string, string> {
    const key =
      actor?.kind === "installation"
        ? `i${actor.inst.id}`
        : actor?.kind === "oauth"
          ? `u${actor.user.login}`
          : `a${ctx.req.socket.remoteAddress}`;
    const used = (rateUsed.get(key) ?? 0) + 1;
    rateUsed.set(key, used);
    const limit = actor && actor.kind !== "none" ? 5000 : 60;
    return {
      "x-ratelimit-limit": String(limit),
      "x-ratelimit-remaining": String(Math.max(0, limit - used)),
      "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 3600),
      "x-ratelimit-used": String(used),
      "x-ratelimit-resource": "core",
    };
  }

  function send(
    ctx: Ctx,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    const { res } = ctx;
    if (res.headersSent) return;
    res.statusCode = status;
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    if (body === undefined || status === 204 || status === 304) {
      res.end();
      return;
    }
    if (typeof body === "string" || Buffer.isBuffer(body)) {
      if (!res.hasHeader("content-type"))
        res.setHeader("content-type", "text/plain; charset=utf-8");
      res.end(body);
      return;
    }
    res.setHeader("content-type", "application/json; charset=utf-8");
    res.end(JSON.stringify(body));
  }

  function apiHeaders(): Record<string, string> {
    return {
      "x-github-media-type": "github.v3; format=json",
      "x-github-api-version-selected": "2022-11-28",
      "x-github-request-id": randomBytes(8).toString("hex").toUpperCase(),
    };
  }

  function json(
    ctx: Ctx,
    status: number,
    body: unknown,
    actor?: Actor,
    headers: Record<string, string> = {},
  ): void {
    send(ctx, status, body, { ...apiHeaders(), ...rateHeaders(ctx, actor), ...headers });
  }

  function sendFailure(ctx: Ctx, f: HttpFailure): void {
    const isApi = ctx.url.pathname.startsWith("/api/v3");
    if (!isApi) {
      send(ctx, f.status, `${f.message}\n`, f.headers);
      return;
    }
    send(
      ctx,
      f.status,
      {
        message: f.message,
        ...f.extra,
        documentation_url: ctx.route.docs,
        status: String(f.status),
      },
      { ...apiHeaders(), ...f.headers },
    );
  }

  function paginate<T>(ctx: Ctx, items: T[]): { page: T[]; headers: Record<string, string> } {
    const perPage = Math.min(
      100,
      Math.max(1, Number(ctx.url.searchParams.get("per_page") ?? 30) || 30),
    );
    const pageNo = Math.max(1, Number(ctx.url.searchParams.get("page") ?? 1) || 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const page = items.slice((pageNo - 1) * perPage, pageNo * perPage);
    const link = (n: number, rel: string) => {
      const u = new URL(ctx.url.toString());
      u.searchParams.set("per_page", String(perPage));
      u.searchParams.set("page", String(n));
      return `<${urls.web}${u.pathname}${u.search}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (pageNo > 1) links.push(link(pageNo - 1, "prev"));
    if (pageNo < last) links.push(link(pageNo + 1, "next"), link(last, "last"));
    if (pageNo > 1) links.push(link(1, "first"));
    return { page, headers: links.length ? { link: links.join(", ") } : {} };
  }

  function bodyObject(ctx: Ctx): Record<string, unknown> {
    const b = ctx.body;
    return b && typeof b === "object" && !Array.isArray(b) ? (b as Record<string, unknown>) : {};
  }

  function validationFailed(
    resource: string,
    field: string,
    code: string,
    message?: string,
  ): HttpFailure {
    return new HttpFailure(422, "Validation Failed", {
      errors: [{ resource, code, field, ...(message ? { message } : {}) }],
    });
  }

  // ---- comments & reactions ----

  function commentAuthor(actor: Actor): { login: string; viaApp: boolean } {
    if (actor.kind === "installation") return { login: `${app.slug}[bot]`, viaApp: true };
    if (actor.kind === "oauth") return { login: actor.user.login, viaApp: false };
    throw new HttpFailure(401, "Requires authentication");
  }

  function association(repo: RepoState, login: string): string {
    if (lc(repo.owner) === lc(login)) return "OWNER";
    const acc = accounts.get(lc(login));
    if (acc?.type === "Bot") return "NONE";
    const member = [...installations.values()].some(
      (i) => lc(i.account) === lc(repo.owner) && i.members.has(lc(login)),
    );
    if (member) return "MEMBER";
    const explicit = roles.get(`${lc(fullName(repo))}\0${lc(login)}`);
    if (explicit && explicit !== "none") return "COLLABORATOR";
    return "NONE";
  }

  function commentJson(c: CommentState) {
    const counts: Record<string, number> = {};
    for (const r of reactions)
      if (r.target === `comment:${c.id}`) counts[r.content] = (counts[r.content] ?? 0) + 1;
    return commentShape(
      {
        id: c.id,
        owner: c.owner,
        repo: c.repo,
        issueNumber: c.issue,
        body: c.body,
        user: accountData(account(c.author, "User")),
        authorAssociation: c.authorAssociation,
        createdAt: c.createdAt,
        updatedAt: c.updatedAt,
        viaApp: c.viaApp
          ? { id: app.id, slug: app.slug, name: app.name, owner: app.owner, clientId: app.clientId }
          : null,
        reactions: counts,
      },
      urls,
    );
  }

  // ---- commits ----

  function commitAuthorAccount(email: string): AccountState | null {
    const e = lc(email);
    const noreply = /^(?:\d+\+)?([^@]+)@users\.noreply\.github\.com$/.exec(e);
    if (noreply) return accounts.get(noreply[1]!) ?? null;
    for (const a of accounts.values()) if (a.emails.includes(e)) return a;
    return null;
  }

  // ---- OAuth ----

  function issueOAuthToken(login: string, clientId = app.clientId, scopes: string[] = []): string {
    const token = randomToken("gho_");
    oauthTokens.set(token, {
      token,
      login: account(login, "User").login,
      clientId,
      scopes,
      createdAt: Date.now(),
      revoked: false,
    });
    return token;
  }

  function issueInstallationToken(
    installationId: number,
    scope: { repositories?: string[]; repositoryIds?: number[]; permissions?: Permissions } = {},
  ): { record: InstallationToken; repos: RepoState[] | null } {
    const inst = installations.get(installationId);
    if (!inst) throw new HttpFailure(404, "Not Found");
    if (inst.suspendedAt) throw new HttpFailure(403, "This installation has been suspended");
    const available = installationRepos(inst);
    let selected: RepoState[] | null = null;
    if (scope.repositories || scope.repositoryIds) {
      selected = [];
      const notAccessible = new HttpFailure(
        422,
        "There is at least one repository that does not exist or is not accessible to the parent installation.",
      );
      for (const name of scope.repositories ?? []) {
        const short = name.includes("/") ? name.split("/").pop()! : name;
        const r = available.find(
          (x) => lc(x.name) === lc(short) && (!name.includes("/") || lc(fullName(x)) === lc(name)),
        );
        if (!r) throw notAccessible;
        selected.push(r);
      }
      for (const id of scope.repositoryIds ?? []) {
        const r = available.find((x) => x.id === Number(id));
        if (!r) throw notAccessible;
        if (!selected.includes(r)) selected.push(r);
      }
    }
    let permissions = { ...inst.permissions };
    if (scope.permissions) {
      for (const [name, level] of Object.entries(scope.permissions)) {
        if ((LEVEL[inst.permissions[name] ?? "none"] ?? 0) < (LEVEL[level] ?? 99)) {
          throw new HttpFailure(
            422,
            "The permissions requested are not granted to this installation.",
          );
        }
      }
      permissions = { ...scope.permissions };
    }
    const token = randomToken("ghs_");
    const record: InstallationToken = {
      token,
      installationId,
      repositoryIds: selected ? selected.map((r) => r.id) : null,
      permissions,
      createdAt: Date.now(),
      expiresAt: Date.now() + TOKEN_LIFETIME_MS,
      revoked: false,
    };
    installationTokens.set(token, record);
    return { record, repos: selected };
  }

  // ---- routes ----

  const routes: Route[] = [];
  function route(
    method: string,
    pattern: string,
    docs: string,
    handle: Route["handle"],
    stream = false,
  ): void {
    const { regex, keys } = compilePattern(pattern);
    routes.push({ method, pattern, regex, keys, handle, docs, stream });
  }
  const API = "/api/v3";

  return {
    get urls() {
      return urls;
    },
    set urls(value: typeof urls) {
      urls = value;
    },
    get allowedOnly() {
      return allowedOnly;
    },
    set allowedOnly(value: typeof allowedOnly) {
      allowedOnly = value;
    },
    get oauthUser() {
      return oauthUser;
    },
    set oauthUser(value: typeof oauthUser) {
      oauthUser = value;
    },
    get denyOAuth() {
      return denyOAuth;
    },
    set denyOAuth(value: typeof denyOAuth) {
      denyOAuth = value;
    },
    get seq() {
      return seq;
    },
    set seq(value: typeof seq) {
      seq = value;
    },
    get nextAccountId() {
      return nextAccountId;
    },
    set nextAccountId(value: typeof nextAccountId) {
      nextAccountId = value;
    },
    get nextRepoId() {
      return nextRepoId;
    },
    set nextRepoId(value: typeof nextRepoId) {
      nextRepoId = value;
    },
    get nextCommentId() {
      return nextCommentId;
    },
    set nextCommentId(value: typeof nextCommentId) {
      nextCommentId = value;
    },
    get nextReactionId() {
      return nextReactionId;
    },
    set nextReactionId(value: typeof nextReactionId) {
      nextReactionId = value;
    },
    get app() {
      return app;
    },
    set app(value: typeof app) {
      app = value;
    },
    git,
    accounts,
    repos,
    installations,
    roles,
    pulls,
    oauthApps,
    installationTokens,
    oauthTokens,
    oauthCodes,
    comments,
    reactions,
    log,
    faults,
    extraRoutes,
    rateUsed,
    pullIdBase,
    account,
    newCommentId,
    accountData,
    setApp,
    addUser,
    addRepository,
    addInstallation,
    repoOf,
    fullName,
    installationRepos,
    tokenRepos,
    role,
    installationData,
    repoData,
    rolePermissions,
    userAccessToInstallation,
    classify,
    badCredentials,
    actorFor,
    requireJwt,
    requireUser,
    requireRepo,
    rateHeaders,
    send,
    apiHeaders,
    json,
    sendFailure,
    paginate,
    bodyObject,
    validationFailed,
    commentAuthor,
    association,
    commentJson,
    commitAuthorAccount,
    issueOAuthToken,
    issueInstallationToken,
    routes,
    route,
    API,
  };
}

export type Core = ReturnType<typeof createCore>;
