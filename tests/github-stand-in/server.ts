// A local HTTP server that speaks the parts of GitHub the product uses: the REST API under
// `/api/v3` (GitHub Enterprise Server layout), the OAuth web flow, and git smart-HTTP for
// repositories on disk. Tests point GITHUB_API_URL / GITHUB_URL at it and inspect what it saw.
import { createHash, randomBytes, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { execFileSync } from "node:child_process";
import {
  commitInfo,
  gitEnvironment,
  readPath,
  resolveCommit,
  runGit,
  serveHttpBackend,
  type GitEnvironment,
  type PathContent,
  type TreeEntry,
} from "./git";
import { checksModule, CHECKS_LATE_ROUTES, CHECKS_ROUTES, type ChecksApi } from "./checks";
import { looksLikeJwt, makeAppKey, publicKeyFrom, verifyAppJwt, JWT_MESSAGES } from "./jwt";
import {
  appShape,
  commentShape,
  installationShape,
  isoSeconds,
  nodeId,
  REACTION_CONTENTS,
  repositoryShape,
  userShape,
  type AccountData,
  type AccountType,
  type Permissions,
  type Urls,
} from "./shapes";

export { makeAppKey } from "./jwt";
export type { Urls } from "./shapes";

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

export type AccessLevel = "read" | "write" | "admin";
/** A person's role on a repository, as GitHub names them. */
export type RepoRole = "admin" | "maintain" | "write" | "triage" | "read" | "none";

export interface AppInput {
  id: number;
  slug: string;
  name?: string;
  /** PEM private key (PKCS#1 or PKCS#8); its public half verifies the app's JWTs. */
  privateKey?: string;
  /** Alternatively only the public key. */
  publicKey?: string | KeyObject;
  clientId?: string;
  clientSecret?: string;
  owner?: { login: string; id?: number; type?: "User" | "Organization" };
  permissions?: Permissions;
  events?: string[];
  /** OAuth callback URLs registered for the app; when empty any redirect_uri is accepted. */
  callbackUrls?: string[];
  botUserId?: number;
}

export interface InstallationInput {
  id: number;
  account: { login: string; type?: "User" | "Organization"; id?: number };
  /** `"owner/name"` of the selected repositories; omit for "all repositories of the account". */
  repositories?: string[];
  permissions?: Permissions;
  events?: string[];
  suspended?: boolean;
  /** Logins (organization members) who may see this installation from the dashboard. */
  members?: string[];
}

export interface RepositoryInput {
  owner: string;
  name: string;
  id?: number;
  private?: boolean;
  defaultBranch?: string;
  /** A bare or non-bare git repository on disk. */
  path: string;
  description?: string;
  /** Only used when the owner account is not otherwise known (default "Organization"). */
  ownerType?: "User" | "Organization";
}

export interface UserInput {
  login: string;
  id?: number;
  name?: string | null;
  avatarUrl?: string;
  /** Commit author emails that map to this user (commits' `author.login`). */
  emails?: string[];
  type?: "User" | "Organization";
}

export interface OAuthAppInput {
  clientId: string;
  clientSecret: string;
  callbackUrls?: string[];
}

export interface PullInput {
  number: number;
  title?: string;
  state?: "open" | "closed";
  merged?: boolean;
  draft?: boolean;
  user?: string;
  head?: string;
  base?: string;
  body?: string | null;
}

export interface StandInOptions {
  /** The GitHub App. Without one, an app `{id: 1001, slug: "bisect-bot"}` with a fresh key is made. */
  app?: AppInput;
  installations?: InstallationInput[];
  repositories?: RepositoryInput[];
  users?: UserInput[];
  oauthApps?: OAuthAppInput[];
  /** Who `/login/oauth/authorize` signs in as. */
  oauthUser?: string;
  /** Print every request to stderr (for debugging a test). */
  verbose?: boolean;
}

export type AuthKind = "jwt" | "installation" | "oauth" | "basic" | "none" | "unknown";

export interface RequestRecord {
  seq: number;
  at: string;
  method: string;
  /** Path without query, e.g. `/api/v3/repos/acme/widgets`. */
  path: string;
  query: Record<string, string>;
  /** 0 until the response has been sent. */
  status: number;
  /** Parsed JSON or form body; secrets (client_secret, code, code_verifier, tokens) redacted. */
  body?: unknown;
  /** How the request authenticated — the credential itself is never kept here. */
  auth: AuthKind;
  installationId?: number;
  user?: string;
  /** The route pattern that served it, e.g. `POST /api/v3/repos/:owner/:repo/issues/:issue_number/comments`. */
  route?: string;
  unexpected: boolean;
  /** Status injected by `failNext`, when one was. */
  fault?: number;
  /** Why the request was unexpected or failed inside the stand-in. */
  note?: string;
}

export interface FaultSpec {
  method?: string;
  /** Matched against the full path (`/api/v3/...` for the API); a string uses route syntax (`:param`). */
  path: RegExp | string;
  status: 500 | 502 | 503 | 403 | 429;
  times?: number;
  /** Rate-limit variant: `x-ratelimit-remaining: 0`, `x-ratelimit-reset`, `retry-after`. Default true for 429. */
  rateLimit?: boolean;
  /** A secondary (abuse) rate limit message instead of the primary one. */
  secondary?: boolean;
  /** Seconds for `retry-after` and the reset time (default 60). */
  retryAfter?: number;
}

export interface CannedResponse {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface CommentView {
  id: number;
  body: string;
  user: string;
  htmlUrl: string;
  createdAt: string;
  updatedAt: string;
  /** How many times the body was edited. */
  edits: number;
  /** Earlier bodies, oldest first. */
  history: string[];
  deleted: boolean;
}

export interface ReactionView {
  id: number;
  content: string;
  user: string;
  createdAt: string;
}

export interface TokenView {
  installationId: number;
  permissions: Permissions;
  /** `"all"` or the `owner/name` list the token was scoped to. */
  repositories: "all" | string[];
  repositorySelection: "all" | "selected";
  createdAt: string;
  expiresAt: string;
  expired: boolean;
  revoked: boolean;
  /** The token text (non-enumerable so it does not show up when a view is printed). */
  readonly token: string;
}

export interface StandIn {
  readonly urls: Urls;
  readonly app: {
    id: number;
    slug: string;
    name: string;
    clientId: string;
    clientSecret: string;
    botLogin: string;
    botUserId: number;
    /** The PEM private key when the stand-in knows it (given, or generated). */
    privateKey: string | undefined;
  };
  setApp(app: AppInput): void;
  addUser(user: UserInput): void;
  addRepository(repo: RepositoryInput): { id: number; fullName: string };
  removeRepository(owner: string, name: string): void;
  addInstallation(inst: InstallationInput): void;
  updateInstallation(id: number, patch: Partial<Omit<InstallationInput, "id">>): void;
  removeInstallation(id: number): void;
  suspendInstallation(id: number, suspended?: boolean): void;
  setPermission(owner: string, repo: string, login: string, role: RepoRole): void;
  setPullsForCommit(owner: string, repo: string, ref: string, pulls: PullInput[]): void;
  addOAuthApp(app: OAuthAppInput): void;
  setOAuthUser(login: string | null): void;
  /** The next authorization is refused by the user (redirect with `error=access_denied`). */
  denyNextOAuth(): void;
  /** Mint an installation token directly (as if the app had asked for one). */
  issueInstallationToken(
    installationId: number,
    scope?: { repositories?: string[]; permissions?: Permissions },
  ): string;
  /** Mint a user OAuth token directly (skips the browser flow). */
  issueOAuthToken(login: string, clientId?: string, scopes?: string[]): string;
  /** Make every installation token issued so far expire now (the product must fetch a new one). */
  expireInstallationTokens(): void;
  revokeToken(token: string): void;
  /** Add a comment as if a person had written it (e.g. the `/bisect` trigger the bot reacts to). */
  seedComment(
    owner: string,
    repo: string,
    issue: number,
    comment: { body: string; user: string; id?: number },
  ): CommentView;
  comments(owner: string, repo: string, issue: number): CommentView[];
  reactions(
    owner: string,
    repo: string,
    target: { commentId: number } | { issue: number },
  ): ReactionView[];
  tokensIssued(): TokenView[];
  oauthTokensIssued(): Array<{
    login: string;
    clientId: string;
    scopes: string[];
    createdAt: string;
    readonly token: string;
  }>;
  requests(filter?: { method?: string; path?: RegExp | string }): RequestRecord[];
  clearRequests(): void;
  /** The routes this server implements, as `METHOD /pattern` (equal to DEFAULT_ROUTES). */
  routes(): string[];
  allow(method: string, pathPattern: string | RegExp, respond?: CannedResponse): void;
  allowOnly(routes: Array<[method: string, pathPattern: string | RegExp]>): void;
  resetAllowed(): void;
  unexpected(): RequestRecord[];
  assertNoUnexpected(): void;
  failNext(spec: FaultSpec): void;
  clearFaults(): void;
  /** Check runs, suites and commit statuses; commit comments and issues the app created. */
  readonly checks: ChecksApi;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Internal state
// ---------------------------------------------------------------------------------------------

interface AppState {
  id: number;
  slug: string;
  name: string;
  privateKey: string | undefined;
  publicKey: KeyObject;
  clientId: string;
  clientSecret: string;
  owner: AccountData;
  permissions: Permissions;
  events: string[];
  callbackUrls: string[];
  botUserId: number;
}

interface AccountState {
  login: string;
  id: number;
  type: AccountType;
  name: string | null;
  avatarUrl?: string;
  emails: string[];
  createdAt: string;
}

interface RepoState {
  id: number;
  owner: string;
  name: string;
  private: boolean;
  defaultBranch: string;
  path: string;
  description: string | null;
  createdAt: string;
}

interface InstallationState {
  id: number;
  account: string;
  repositories: string[] | null;
  permissions: Permissions;
  events: string[];
  suspendedAt: string | null;
  members: Set<string>;
  createdAt: string;
  updatedAt: string;
}

interface InstallationToken {
  token: string;
  installationId: number;
  repositoryIds: number[] | null;
  permissions: Permissions;
  createdAt: number;
  expiresAt: number;
  revoked: boolean;
}

interface OAuthToken {
  token: string;
  login: string;
  clientId: string;
  scopes: string[];
  createdAt: number;
  revoked: boolean;
}

interface OAuthCode {
  clientId: string;
  redirectUri: string;
  login: string;
  scopes: string[];
  challenge: string | null;
  expiresAt: number;
  used: boolean;
}

interface CommentState {
  id: number;
  owner: string;
  repo: string;
  issue: number;
  body: string;
  author: string;
  viaApp: boolean;
  authorAssociation: string;
  createdAt: string;
  updatedAt: string;
  history: string[];
  deleted: boolean;
}

interface ReactionState {
  id: number;
  target: string;
  content: string;
  user: string;
  createdAt: string;
}

interface Fault {
  method?: string;
  test: (path: string) => boolean;
  status: number;
  remaining: number;
  rateLimit: boolean;
  secondary: boolean;
  retryAfter: number;
}

type Actor =
  | { kind: "none" }
  | { kind: "installation"; token: InstallationToken; inst: InstallationState }
  | { kind: "oauth"; token: OAuthToken; user: AccountState };

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  body: unknown;
  record: RequestRecord;
  route: Route;
}

interface Route {
  method: string;
  pattern: string;
  regex: RegExp;
  keys: string[];
  stream?: boolean;
  docs: string;
  handle: (ctx: Ctx) => Promise<void> | void;
}

const DOCS = "https://docs.github.com/rest";
const LEVEL: Record<string, number> = { none: 0, read: 1, write: 2, admin: 3 };
const ROLE_RANK: Record<RepoRole, number> = {
  none: 0,
  read: 1,
  triage: 2,
  write: 3,
  maintain: 4,
  admin: 5,
};
const DEFAULT_PERMISSIONS: Permissions = {
  metadata: "read",
  contents: "read",
  issues: "write",
  pull_requests: "read",
};
const DEFAULT_EVENTS = ["issue_comment"];
const MAX_COMMENT = 65536;
const TOKEN_LIFETIME_MS = 60 * 60 * 1000;

function lc(s: string): string {
  return s.toLowerCase();
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** `/repos/:owner/:repo/contents/:path*` (or Octokit's `{owner}`) → a regex and its keys. */
export function compilePattern(pattern: string): { regex: RegExp; keys: string[] } {
  const keys: string[] = [];
  const normalised = pattern.replace(/\{(\w+)\}/g, ":$1");
  let source = "";
  const re = /:(\w+)([*+]?)/g;
  let last = 0;
  for (let m = re.exec(normalised); m; m = re.exec(normalised)) {
    source += escapeRegex(normalised.slice(last, m.index));
    keys.push(m[1]!);
    if (m[2] === "*" && source.endsWith("/")) {
      // `/contents/:path*` also matches `/contents` (the repository root).
      source = `${source.slice(0, -1)}(?:/(.*))?`;
    } else source += m[2] === "*" ? "(.*)" : m[2] === "+" ? "(.+)" : "([^/]+)";
    last = m.index + m[0].length;
  }
  source += escapeRegex(normalised.slice(last));
  return { regex: new RegExp(`^${source}/?$`), keys };
}

function randomToken(prefix: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = randomBytes(36);
  let out = "";
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return `${prefix}${out}`;
}

function timingSafeEqualStrings(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return ha.equals(hb) && a.length === b.length;
}

const SECRET_KEYS = new Set([
  "client_secret",
  "code",
  "code_verifier",
  "refresh_token",
  "access_token",
  "token",
  "password",
]);

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [
        k,
        SECRET_KEYS.has(k) ? "[redacted]" : redact(v),
      ]),
    );
  }
  return value;
}

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

export async function startGitHubStandIn(options: StandInOptions = {}): Promise<StandIn> {
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

  function checkBody(body: unknown): string {
    if (typeof body !== "string") throw validationFailed("IssueComment", "body", "missing_field");
    if ([...body].length > MAX_COMMENT) {
      throw validationFailed(
        "IssueComment",
        "body",
        "custom",
        `body is too long (maximum is ${MAX_COMMENT} characters)`,
      );
    }
    return body;
  }

  function findComment(repo: RepoState, id: string | undefined): CommentState {
    const c = comments.get(Number(id));
    if (!c || c.deleted || lc(`${c.owner}/${c.repo}`) !== lc(fullName(repo)))
      throw new HttpFailure(404, "Not Found");
    return c;
  }

  function react(ctx: Ctx, actor: Actor, target: string): void {
    const content = bodyObject(ctx).content;
    if (
      typeof content !== "string" ||
      !(REACTION_CONTENTS as readonly string[]).includes(content)
    ) {
      throw validationFailed("Reaction", "content", "invalid");
    }
    const { login } = commentAuthor(actor);
    const existing = reactions.find(
      (r) => r.target === target && r.content === content && lc(r.user) === lc(login),
    );
    const reaction = existing ?? {
      id: nextReactionId++,
      target,
      content,
      user: login,
      createdAt: isoSeconds(),
    };
    if (!existing) reactions.push(reaction);
    json(
      ctx,
      existing ? 200 : 201,
      {
        id: reaction.id,
        node_id: nodeId("Reaction", reaction.id),
        user: userShape(accountData(account(login, "User")), urls),
        content: reaction.content,
        created_at: reaction.createdAt,
      },
      actor,
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

  async function commitJson(repo: RepoState, sha: string) {
    const info = await commitInfo(repo.path, sha, git.env);
    if (!info) return null;
    const api = `${urls.api}/repos/${fullName(repo)}`;
    const html = `${urls.web}/${fullName(repo)}`;
    const author = commitAuthorAccount(info.authorEmail);
    const committer = commitAuthorAccount(info.committerEmail);
    const utc = (d: string) => isoSeconds(Date.parse(d));
    return {
      sha: info.sha,
      node_id: nodeId("Commit", repo.id),
      commit: {
        author: { name: info.authorName, email: info.authorEmail, date: utc(info.authorDate) },
        committer: {
          name: info.committerName,
          email: info.committerEmail,
          date: utc(info.committerDate),
        },
        message: info.message,
        tree: { sha: info.tree, url: `${api}/git/trees/${info.tree}` },
        url: `${api}/git/commits/${info.sha}`,
        comment_count: 0,
        verification: {
          verified: false,
          reason: "unsigned",
          signature: null,
          payload: null,
          verified_at: null,
        },
      },
      url: `${api}/commits/${info.sha}`,
      html_url: `${html}/commit/${info.sha}`,
      comments_url: `${api}/commits/${info.sha}/comments`,
      author: author ? userShape(accountData(author), urls) : null,
      committer: committer ? userShape(accountData(committer), urls) : null,
      parents: info.parents.map((p) => ({
        sha: p,
        url: `${api}/commits/${p}`,
        html_url: `${html}/commit/${p}`,
      })),
    };
  }

  function pullJson(repo: RepoState, p: PullInput, sha: string) {
    const id = pullIdBase + repo.id * 1000 + p.number;
    const api = `${urls.api}/repos/${fullName(repo)}`;
    const html = `${urls.web}/${fullName(repo)}`;
    const user = accountData(account(p.user ?? repo.owner, "User"));
    const merged = p.merged ?? false;
    const state = p.state ?? (merged ? "closed" : "open");
    return {
      url: `${api}/pulls/${p.number}`,
      id,
      node_id: nodeId("PullRequest", id),
      html_url: `${html}/pull/${p.number}`,
      diff_url: `${html}/pull/${p.number}.diff`,
      patch_url: `${html}/pull/${p.number}.patch`,
      issue_url: `${api}/issues/${p.number}`,
      commits_url: `${api}/pulls/${p.number}/commits`,
      review_comments_url: `${api}/pulls/${p.number}/comments`,
      review_comment_url: `${api}/pulls/comments{/number}`,
      comments_url: `${api}/issues/${p.number}/comments`,
      statuses_url: `${api}/statuses/${sha}`,
      number: p.number,
      state,
      locked: false,
      title: p.title ?? `Pull request #${p.number}`,
      user: userShape(user, urls),
      body: p.body ?? null,
      labels: [],
      milestone: null,
      active_lock_reason: null,
      created_at: repo.createdAt,
      updated_at: repo.createdAt,
      closed_at: state === "closed" ? repo.createdAt : null,
      merged_at: merged ? repo.createdAt : null,
      merge_commit_sha: merged ? sha : null,
      assignee: null,
      assignees: [],
      requested_reviewers: [],
      requested_teams: [],
      head: {
        label: `${repo.owner}:${p.head ?? `pr-${p.number}`}`,
        ref: p.head ?? `pr-${p.number}`,
        sha,
        user: userShape(user, urls),
        repo: repoData(repo),
      },
      base: {
        label: `${repo.owner}:${p.base ?? repo.defaultBranch}`,
        ref: p.base ?? repo.defaultBranch,
        sha,
        user: userShape(accountData(account(repo.owner)), urls),
        repo: repoData(repo),
      },
      _links: {
        self: { href: `${api}/pulls/${p.number}` },
        html: { href: `${html}/pull/${p.number}` },
        issue: { href: `${api}/issues/${p.number}` },
        comments: { href: `${api}/issues/${p.number}/comments` },
      },
      author_association: association(repo, user.login),
      auto_merge: null,
      draft: p.draft ?? false,
    };
  }

  function contentEntryJson(repo: RepoState, ref: string, e: TreeEntry) {
    const api = `${urls.api}/repos/${fullName(repo)}`;
    const html = `${urls.web}/${fullName(repo)}`;
    const type =
      e.type === "tree"
        ? "dir"
        : e.type === "commit"
          ? "submodule"
          : e.mode === "120000"
            ? "symlink"
            : "file";
    const encPath = e.path.split("/").map(encodeURIComponent).join("/");
    const self = `${api}/contents/${encPath}?ref=${encodeURIComponent(ref)}`;
    const gitUrl = `${api}/git/${e.type === "tree" ? "trees" : "blobs"}/${e.sha}`;
    const htmlUrl = `${html}/${e.type === "tree" ? "tree" : "blob"}/${ref}/${encPath}`;
    return {
      name: e.path.split("/").pop()!,
      path: e.path,
      sha: e.sha,
      size: e.size ?? 0,
      url: self,
      html_url: htmlUrl,
      git_url: gitUrl,
      download_url: type === "file" ? `${urls.web}/raw/${fullName(repo)}/${ref}/${encPath}` : null,
      type,
      _links: { self, git: gitUrl, html: htmlUrl },
    };
  }

  // ---- OAuth ----

  function oauthClient(clientId: string): (OAuthAppInput & { isApp: boolean }) | null {
    if (clientId === app.clientId) {
      return {
        clientId: app.clientId,
        clientSecret: app.clientSecret,
        callbackUrls: app.callbackUrls,
        isApp: true,
      };
    }
    const o = oauthApps.get(clientId);
    return o ? { ...o, isApp: false } : null;
  }

  function redirectAllowed(client: OAuthAppInput, redirectUri: string): boolean {
    const callbacks = client.callbackUrls ?? [];
    if (callbacks.length === 0) return true;
    let target: URL;
    try {
      target = new URL(redirectUri);
    } catch {
      return false;
    }
    return callbacks.some((cb) => {
      const c = new URL(cb);
      const dir = c.pathname.endsWith("/") ? c.pathname : `${c.pathname}/`;
      return (
        c.protocol === target.protocol &&
        c.host === target.host &&
        (target.pathname === c.pathname || target.pathname.startsWith(dir))
      );
    });
  }

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

  route("GET", `${API}/app`, `${DOCS}/apps/apps#get-the-authenticated-app`, (ctx) => {
    requireJwt(ctx);
    json(ctx, 200, appShape({ ...app }, app.permissions, app.events, urls, installations.size));
  });

  route(
    "GET",
    `${API}/app/installations`,
    `${DOCS}/apps/apps#list-installations-for-the-authenticated-app`,
    (ctx) => {
      requireJwt(ctx);
      const all = [...installations.values()].map(installationData);
      const { page, headers } = paginate(ctx, all);
      json(ctx, 200, page, undefined, headers);
    },
  );

  route(
    "GET",
    `${API}/app/installations/:installation_id`,
    `${DOCS}/apps/apps#get-an-installation-for-the-authenticated-app`,
    (ctx) => {
      requireJwt(ctx);
      const inst = installations.get(Number(ctx.params.installation_id));
      if (!inst) throw new HttpFailure(404, "Not Found");
      json(ctx, 200, installationData(inst));
    },
  );

  route(
    "POST",
    `${API}/app/installations/:installation_id/access_tokens`,
    `${DOCS}/apps/apps#create-an-installation-access-token-for-an-app`,
    (ctx) => {
      requireJwt(ctx);
      const b = bodyObject(ctx);
      const repositories = Array.isArray(b.repositories) ? b.repositories.map(String) : undefined;
      const repositoryIds = Array.isArray(b.repository_ids)
        ? b.repository_ids.map(Number)
        : undefined;
      const permissions =
        b.permissions && typeof b.permissions === "object"
          ? (b.permissions as Permissions)
          : undefined;
      const id = Number(ctx.params.installation_id);
      const { record, repos: selected } = issueInstallationToken(id, {
        repositories,
        repositoryIds,
        permissions,
      });
      ctx.record.installationId = id;
      const inst = installations.get(id)!;
      const listed = selected ?? (inst.repositories === null ? null : installationRepos(inst));
      json(ctx, 201, {
        token: record.token,
        expires_at: isoSeconds(record.expiresAt),
        permissions: record.permissions,
        repository_selection: listed ? "selected" : "all",
        ...(listed ? { repositories: listed.map(repoData) } : {}),
      });
    },
  );

  route(
    "GET",
    `${API}/repos/:owner/:repo/installation`,
    `${DOCS}/apps/apps#get-a-repository-installation-for-the-authenticated-app`,
    (ctx) => {
      requireJwt(ctx);
      const repo = repoOf(ctx.params.owner!, ctx.params.repo!);
      const inst =
        repo &&
        [...installations.values()].find((i) => installationRepos(i).some((r) => r.id === repo.id));
      if (!inst) throw new HttpFailure(404, "Not Found");
      json(ctx, 200, installationData(inst));
    },
  );

  route(
    "GET",
    `${API}/installation/repositories`,
    `${DOCS}/apps/installations#list-repositories-accessible-to-the-app-installation`,
    (ctx) => {
      const actor = actorFor(ctx);
      if (actor.kind === "none") throw new HttpFailure(401, "Requires authentication");
      if (actor.kind !== "installation") {
        throw new HttpFailure(
          403,
          "You must authenticate with an installation access token in order to list repositories for an installation.",
        );
      }
      const list = tokenRepos(actor.token, actor.inst);
      const { page, headers } = paginate(ctx, list);
      json(
        ctx,
        200,
        {
          total_count: list.length,
          repository_selection:
            actor.token.repositoryIds || actor.inst.repositories ? "selected" : "all",
          repositories: page.map(repoData),
        },
        actor,
        headers,
      );
    },
  );

  route(
    "GET",
    `${API}/rate_limit`,
    `${DOCS}/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user`,
    (ctx) => {
      const actor = actorFor(ctx);
      const limit = actor.kind === "none" ? 60 : 5000;
      const reset = Math.floor(Date.now() / 1000) + 3600;
      const core = { limit, used: 0, remaining: limit, reset };
      json(
        ctx,
        200,
        { resources: { core, search: { limit: 30, used: 0, remaining: 30, reset } }, rate: core },
        actor,
      );
    },
  );

  route("GET", `${API}/repos/:owner/:repo`, `${DOCS}/repos/repos#get-a-repository`, (ctx) => {
    const actor = actorFor(ctx);
    const repo = requireRepo(ctx, actor, { permission: "metadata", level: "read" });
    const data: Record<string, unknown> = repoData(repo);
    if (actor.kind === "oauth") data.permissions = rolePermissions(role(repo, actor.user.login));
    json(ctx, 200, data, actor);
  });

  route(
    "GET",
    `${API}/repos/:owner/:repo/collaborators/:username/permission`,
    `${DOCS}/collaborators/collaborators#get-repository-permissions-for-a-user`,
    (ctx) => {
      const actor = actorFor(ctx);
      if (actor.kind === "none") throw new HttpFailure(401, "Requires authentication");
      const repo = requireRepo(ctx, actor, { permission: "metadata", level: "read" });
      const user = accounts.get(lc(ctx.params.username!));
      if (!user || user.type === "Organization") throw new HttpFailure(404, "Not Found");
      const rl = role(repo, user.login);
      const permission = rl === "maintain" ? "write" : rl === "triage" ? "read" : rl;
      json(
        ctx,
        200,
        {
          permission,
          role_name: rl,
          user: {
            ...userShape(accountData(user), urls),
            permissions: rolePermissions(rl),
            role_name: rl,
          },
        },
        actor,
      );
    },
  );

  route(
    "GET",
    `${API}/repos/:owner/:repo/issues/:issue_number/comments`,
    `${DOCS}/issues/comments#list-issue-comments`,
    (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "issues", level: "read" });
      const issue = Number(ctx.params.issue_number);
      const since = ctx.url.searchParams.get("since");
      const list = [...comments.values()]
        .filter(
          (c) =>
            !c.deleted && c.issue === issue && lc(`${c.owner}/${c.repo}`) === lc(fullName(repo)),
        )
        .filter((c) => !since || Date.parse(c.updatedAt) >= Date.parse(since))
        .sort((a, b) => a.id - b.id);
      const { page, headers } = paginate(ctx, list);
      json(ctx, 200, page.map(commentJson), actor, headers);
    },
  );

  route(
    "POST",
    `${API}/repos/:owner/:repo/issues/:issue_number/comments`,
    `${DOCS}/issues/comments#create-an-issue-comment`,
    (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "issues", level: "write" });
      const issue = Number(ctx.params.issue_number);
      if (!Number.isInteger(issue) || issue < 1) throw new HttpFailure(404, "Not Found");
      const body = checkBody(bodyObject(ctx).body);
      const author = commentAuthor(actor);
      const now = isoSeconds();
      const c: CommentState = {
        id: newCommentId(),
        owner: repo.owner,
        repo: repo.name,
        issue,
        body,
        author: author.login,
        viaApp: author.viaApp,
        authorAssociation: association(repo, author.login),
        createdAt: now,
        updatedAt: now,
        history: [],
        deleted: false,
      };
      comments.set(c.id, c);
      const shaped = commentJson(c);
      json(ctx, 201, shaped, actor, { location: shaped.url });
    },
  );

  route(
    "GET",
    `${API}/repos/:owner/:repo/issues/comments/:comment_id`,
    `${DOCS}/issues/comments#get-an-issue-comment`,
    (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "issues", level: "read" });
      json(ctx, 200, commentJson(findComment(repo, ctx.params.comment_id)), actor);
    },
  );

  route(
    "PATCH",
    `${API}/repos/:owner/:repo/issues/comments/:comment_id`,
    `${DOCS}/issues/comments#update-an-issue-comment`,
    (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "issues", level: "write" });
      const c = findComment(repo, ctx.params.comment_id);
      const body = checkBody(bodyObject(ctx).body);
      if (
        actor.kind === "oauth" &&
        lc(c.author) !== lc(actor.user.login) &&
        ROLE_RANK[role(repo, actor.user.login)] < ROLE_RANK.write
      ) {
        throw new HttpFailure(403, "Must have admin rights to Repository.");
      }
      c.history.push(c.body);
      c.body = body;
      c.updatedAt = isoSeconds();
      json(ctx, 200, commentJson(c), actor);
    },
  );

  route(
    "DELETE",
    `${API}/repos/:owner/:repo/issues/comments/:comment_id`,
    `${DOCS}/issues/comments#delete-an-issue-comment`,
    (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "issues", level: "write" });
      findComment(repo, ctx.params.comment_id).deleted = true;
      json(ctx, 204, undefined, actor);
    },
  );

  route(
    "POST",
    `${API}/repos/:owner/:repo/issues/comments/:comment_id/reactions`,
    `${DOCS}/reactions/reactions#create-reaction-for-an-issue-comment`,
    (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "issues", level: "write" });
      const c = findComment(repo, ctx.params.comment_id);
      react(ctx, actor, `comment:${c.id}`);
    },
  );

  route(
    "POST",
    `${API}/repos/:owner/:repo/issues/:issue_number/reactions`,
    `${DOCS}/reactions/reactions#create-reaction-for-an-issue`,
    (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "issues", level: "write" });
      react(ctx, actor, `issue:${lc(fullName(repo))}#${Number(ctx.params.issue_number)}`);
    },
  );

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
    urls: () => urls,
  });
  checks.register();

  route(
    "GET",
    `${API}/repos/:owner/:repo/commits/:commit_sha/pulls`,
    `${DOCS}/commits/commits#list-pull-requests-associated-with-a-commit`,
    async (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "contents", level: "read" });
      const ref = decodeURIComponent(ctx.params.commit_sha!);
      const sha = await resolveCommit(repo.path, ref, git.env);
      if (!sha) throw new HttpFailure(422, `No commit found for SHA: ${ref}`);
      const list = (pulls.get(`${lc(fullName(repo))}\0${sha}`) ?? []).map((p) =>
        pullJson(repo, p, sha),
      );
      const { page, headers } = paginate(ctx, list);
      json(ctx, 200, page, actor, headers);
    },
  );

  route(
    "GET",
    `${API}/repos/:owner/:repo/commits/:ref+`,
    `${DOCS}/commits/commits#get-a-commit`,
    async (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "contents", level: "read" });
      const ref = decodeURIComponent(ctx.params.ref!);
      const sha = await resolveCommit(repo.path, ref, git.env);
      if (!sha) throw new HttpFailure(422, `No commit found for SHA: ${ref}`);
      if (/vnd\.github(?:\.v3)?\.sha/.test(ctx.req.headers.accept ?? "")) {
        send(ctx, 200, sha, {
          ...apiHeaders(),
          ...rateHeaders(ctx, actor),
          "content-type": "application/vnd.github.sha; charset=utf-8",
        });
        return;
      }
      const data = await commitJson(repo, sha);
      if (!data) throw new HttpFailure(422, `No commit found for SHA: ${ref}`);
      json(ctx, 200, data, actor);
    },
  );

  route(
    "GET",
    `${API}/repos/:owner/:repo/contents/:path*`,
    `${DOCS}/repos/contents#get-repository-content`,
    async (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "contents", level: "read" });
      const ref = ctx.url.searchParams.get("ref") || repo.defaultBranch;
      const path = decodeURIComponent(ctx.params.path ?? "");
      const sha = await resolveCommit(repo.path, ref, git.env);
      if (!sha) throw new HttpFailure(404, `No commit found for the ref ${ref}`);
      const found: PathContent | null = await readPath(repo.path, sha, path, git.env);
      if (!found) throw new HttpFailure(404, "Not Found");
      const accept = ctx.req.headers.accept ?? "";
      if (found.kind === "dir") {
        json(
          ctx,
          200,
          found.entries.map((e) => contentEntryJson(repo, ref, e)),
          actor,
        );
        return;
      }
      if (found.kind === "file" && /vnd\.github(?:\.v3)?\.raw/.test(accept)) {
        send(ctx, 200, found.content, {
          ...apiHeaders(),
          ...rateHeaders(ctx, actor),
          "content-type": "application/vnd.github.raw; charset=utf-8",
        });
        return;
      }
      const base = contentEntryJson(repo, ref, found.entry);
      if (found.kind === "file") {
        const b64 = found.content.toString("base64").replace(/(.{60})/g, "$1\n");
        json(
          ctx,
          200,
          { ...base, content: b64.endsWith("\n") ? b64 : `${b64}\n`, encoding: "base64" },
          actor,
        );
      } else if (found.kind === "symlink") {
        json(ctx, 200, { ...base, target: found.target }, actor);
      } else {
        json(ctx, 200, { ...base, submodule_git_url: "" }, actor);
      }
    },
  );

  route("GET", `${API}/user`, `${DOCS}/users/users#get-the-authenticated-user`, (ctx) => {
    const { token, user } = requireUser(ctx);
    const base = userShape(accountData(user), urls);
    json(
      ctx,
      200,
      {
        ...base,
        name: user.name,
        company: null,
        blog: "",
        location: null,
        email: user.emails[0] ?? null,
        hireable: null,
        bio: null,
        twitter_username: null,
        notification_email: user.emails[0] ?? null,
        public_repos: [...repos.values()].filter(
          (r) => lc(r.owner) === lc(user.login) && !r.private,
        ).length,
        public_gists: 0,
        followers: 0,
        following: 0,
        created_at: user.createdAt,
        updated_at: user.createdAt,
      },
      { kind: "oauth", token, user },
      { "x-oauth-scopes": token.scopes.join(", "), "x-accepted-oauth-scopes": "" },
    );
  });

  route(
    "GET",
    `${API}/user/installations`,
    `${DOCS}/apps/installations#list-app-installations-accessible-to-the-user-access-token`,
    (ctx) => {
      const actor = requireUser(ctx);
      if (actor.token.clientId !== app.clientId) {
        throw new HttpFailure(
          403,
          "You must authenticate with an access token authorized to a GitHub App in order to list installations",
        );
      }
      const list = [...installations.values()].filter((i) =>
        userAccessToInstallation(actor.user.login, i),
      );
      const { page, headers } = paginate(ctx, list);
      json(
        ctx,
        200,
        { total_count: list.length, installations: page.map(installationData) },
        { kind: "oauth", ...actor },
        headers,
      );
    },
  );

  route(
    "GET",
    `${API}/user/installations/:installation_id/repositories`,
    `${DOCS}/apps/installations#list-repositories-accessible-to-the-user-access-token`,
    (ctx) => {
      const actor = requireUser(ctx);
      if (actor.token.clientId !== app.clientId) {
        throw new HttpFailure(
          403,
          "You must authenticate with an access token authorized to a GitHub App in order to list installations",
        );
      }
      const inst = installations.get(Number(ctx.params.installation_id));
      if (!inst || !userAccessToInstallation(actor.user.login, inst))
        throw new HttpFailure(404, "Not Found");
      const list = installationRepos(inst).filter((r) => role(r, actor.user.login) !== "none");
      const { page, headers } = paginate(ctx, list);
      json(
        ctx,
        200,
        {
          total_count: list.length,
          repository_selection: inst.repositories === null ? "all" : "selected",
          repositories: page.map((r) => ({
            ...repoData(r),
            permissions: rolePermissions(role(r, actor.user.login)),
          })),
        },
        { kind: "oauth", ...actor },
        headers,
      );
    },
  );

  // GitHub App Manifest flow: the browser posts a manifest to /settings/apps/new (GitHub then asks
  // the person to name and create the app; here it is created at once) and comes back to the
  // manifest's redirect_url with a code, which the app exchanges for the new app's credentials.
  const manifestCodes = new Map<
    string,
    { manifest: Record<string, unknown>; expiresAt: number; used: boolean }
  >();
  let manifestApps = 0;
  route(
    "POST",
    "/settings/apps/new",
    "https://docs.github.com/apps/sharing-github-apps/registering-a-github-app-from-a-manifest",
    (ctx) => {
      const form = (ctx.body ?? {}) as Record<string, string>;
      let manifest: Record<string, unknown>;
      try {
        manifest = JSON.parse(form.manifest ?? "");
      } catch {
        throw new HttpFailure(422, "The manifest is not valid JSON");
      }
      const hook = manifest.hook_attributes as { url?: unknown } | undefined;
      if (typeof manifest.url !== "string" || typeof hook?.url !== "string") {
        throw new HttpFailure(422, "The manifest needs url and hook_attributes.url");
      }
      if (typeof manifest.redirect_url !== "string") {
        throw new HttpFailure(422, "The manifest needs a redirect_url");
      }
      const code = randomBytes(10).toString("hex");
      manifestCodes.set(code, { manifest, expiresAt: Date.now() + 3600_000, used: false });
      const back = new URL(manifest.redirect_url);
      back.searchParams.set("code", code);
      const state = ctx.url.searchParams.get("state");
      if (state !== null) back.searchParams.set("state", state);
      send(ctx, 302, undefined, { location: back.toString() });
    },
  );

  route(
    "POST",
    `${API}/app-manifests/:code/conversions`,
    `${DOCS}/apps/apps#create-a-github-app-from-a-manifest`,
    (ctx) => {
      const entry = manifestCodes.get(ctx.params.code!);
      if (!entry || entry.used || entry.expiresAt < Date.now())
        throw new HttpFailure(404, "Not Found");
      entry.used = true;
      const m = entry.manifest;
      const name = typeof m.name === "string" && m.name ? m.name : `bisect-bot-${manifestApps + 1}`;
      const slug = name
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "-")
        .replace(/^-|-$/g, "");
      const id = 90_001 + manifestApps++;
      const now = new Date().toISOString();
      json(ctx, 201, {
        id,
        slug,
        node_id: `A_kwHO${id}`,
        owner: { login: "octo-owner", id: 7001, type: "User" },
        name,
        description: typeof m.description === "string" ? m.description : "",
        external_url: m.url,
        html_url: `${urls.web}/apps/${slug}`,
        created_at: now,
        updated_at: now,
        permissions: m.default_permissions ?? {},
        events: m.default_events ?? [],
        client_id: `Iv23li${randomBytes(7).toString("hex")}`,
        client_secret: randomBytes(20).toString("hex"),
        webhook_secret: randomBytes(20).toString("hex"),
        pem: makeAppKey(),
      });
    },
  );

  // OAuth web flow.
  route(
    "GET",
    "/login/oauth/authorize",
    "https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps",
    (ctx) => {
      const q = ctx.url.searchParams;
      const client = oauthClient(q.get("client_id") ?? "");
      if (!client) throw new HttpFailure(404, "Unknown client_id");
      let redirectUri = q.get("redirect_uri") ?? client.callbackUrls?.[0];
      if (!redirectUri)
        throw new HttpFailure(400, "No redirect_uri given and no callback URL registered");
      const state = q.get("state");
      const back = (params: Record<string, string>) => {
        const u = new URL(redirectUri!);
        for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
        if (state !== null) u.searchParams.set("state", state);
        send(ctx, 302, undefined, { location: u.toString() });
      };
      if (!redirectAllowed(client, redirectUri)) {
        redirectUri = client.callbackUrls![0]!;
        back({
          error: "redirect_uri_mismatch",
          error_description:
            "The redirect_uri MUST match the registered callback URL for this application.",
          error_uri:
            "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch",
        });
        return;
      }
      const challenge = q.get("code_challenge");
      const method = q.get("code_challenge_method");
      if (challenge !== null && method !== null && method !== "S256") {
        throw new HttpFailure(400, "code_challenge_method must be S256");
      }
      if (challenge !== null && !/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
        throw new HttpFailure(
          400,
          "code_challenge must be a base64url S256 challenge (43 characters)",
        );
      }
      if (denyOAuth) {
        denyOAuth = false;
        back({
          error: "access_denied",
          error_description: "The user has denied your application access.",
          error_uri:
            "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied",
        });
        return;
      }
      if (!oauthUser) {
        ctx.record.unexpected = true;
        ctx.record.note = "no OAuth user chosen: call standIn.setOAuthUser(login)";
        throw new HttpFailure(
          403,
          "No user is signed in to GitHub (the test must call setOAuthUser(login))",
        );
      }
      const code = randomBytes(10).toString("hex");
      oauthCodes.set(code, {
        clientId: client.clientId,
        redirectUri,
        login: oauthUser,
        scopes: (q.get("scope") ?? "").split(/[\s,]+/).filter(Boolean),
        challenge,
        expiresAt: Date.now() + 10 * 60 * 1000,
        used: false,
      });
      ctx.record.user = oauthUser;
      back({ code });
    },
  );

  route(
    "POST",
    "/login/oauth/access_token",
    "https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps",
    (ctx) => {
      const params: Record<string, string> = Object.fromEntries(ctx.url.searchParams);
      for (const [k, v] of Object.entries(bodyObject(ctx)))
        if (v !== undefined && v !== null) params[k] = String(v);
      const c = classify(ctx.req);
      if (c.kind === "basic") {
        params.client_id ??= c.basicUser ?? "";
        params.client_secret ??= c.credential ?? "";
      }
      const wantsJson = /application\/json/.test(ctx.req.headers.accept ?? "");
      const answer = (data: Record<string, string>) => {
        if (wantsJson) send(ctx, 200, data, { "content-type": "application/json; charset=utf-8" });
        else {
          send(ctx, 200, new URLSearchParams(data).toString(), {
            "content-type": "application/x-www-form-urlencoded; charset=utf-8",
          });
        }
      };
      const fail = (error: string, description: string) =>
        answer({
          error,
          error_description: description,
          error_uri: `https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#${error.replace(/_/g, "-")}`,
        });
      const client = oauthClient(params.client_id ?? "");
      if (!client || !timingSafeEqualStrings(client.clientSecret, params.client_secret ?? "")) {
        fail(
          "incorrect_client_credentials",
          "The client_id and/or client_secret passed are incorrect.",
        );
        return;
      }
      if (params.grant_type && params.grant_type !== "authorization_code") {
        fail("unsupported_grant_type", "The grant type is not supported.");
        return;
      }
      const code = oauthCodes.get(params.code ?? "");
      if (!code || code.used || code.expiresAt < Date.now() || code.clientId !== client.clientId) {
        fail("bad_verification_code", "The code passed is incorrect or expired.");
        return;
      }
      if (params.redirect_uri && params.redirect_uri !== code.redirectUri) {
        fail(
          "redirect_uri_mismatch",
          "The redirect_uri MUST match the registered callback URL for this application.",
        );
        return;
      }
      if (code.challenge !== null) {
        const verifier = params.code_verifier ?? "";
        const expected = createHash("sha256").update(verifier).digest("base64url");
        if (!verifier || expected !== code.challenge) {
          fail(
            "bad_verification_code",
            "The code_verifier does not match the code_challenge supplied in the authorization request.",
          );
          return;
        }
      }
      code.used = true;
      const scopes = client.isApp ? [] : code.scopes;
      const token = issueOAuthToken(code.login, client.clientId, scopes);
      ctx.record.user = code.login;
      answer({ access_token: token, token_type: "bearer", scope: scopes.join(",") });
    },
  );

  // git smart-HTTP (read only).
  const gitHandler = (service: "info" | "upload") => async (ctx: Ctx) => {
    const name = ctx.params.repo!.replace(/\.git$/, "");
    const repo = repoOf(ctx.params.owner!, name);
    const challenge = { "www-authenticate": 'Basic realm="GitHub"' };
    const c = classify(ctx.req);
    const wantsPush = ctx.url.searchParams.get("service") === "git-receive-pack";
    if (wantsPush) {
      ctx.record.unexpected = true;
      ctx.record.note = "push attempted";
    }
    const token =
      c.kind === "basic" && c.credential ? installationTokens.get(c.credential) : undefined;
    const inst = token && installations.get(token.installationId);
    const valid =
      token && inst && !token.revoked && token.expiresAt > Date.now() && !inst.suspendedAt;
    if (!valid) {
      ctx.req.resume();
      throw new HttpFailure(
        401,
        "Invalid username or token. Password authentication is not supported for Git operations.",
        {},
        challenge,
      );
    }
    ctx.record.installationId = inst.id;
    if (!repo || !tokenRepos(token, inst).some((r) => r.id === repo.id)) {
      ctx.req.resume();
      throw new HttpFailure(404, "Repository not found.");
    }
    if ((LEVEL[token.permissions.contents ?? "none"] ?? 0) < LEVEL.read!) {
      ctx.req.resume();
      throw new HttpFailure(403, `Permission to ${fullName(repo)}.git denied to ${app.slug}[bot].`);
    }
    if (wantsPush) {
      ctx.req.resume();
      throw new HttpFailure(403, `Permission to ${fullName(repo)}.git denied to ${app.slug}[bot].`);
    }
    if (service === "info" && ctx.url.searchParams.get("service") !== "git-upload-pack") {
      ctx.req.resume();
      throw new HttpFailure(403, "Please upgrade your git client (smart HTTP only).");
    }
    await serveHttpBackend(ctx.req, ctx.res, {
      repoPath: repo.path,
      pathInfo: service === "info" ? "/info/refs" : "/git-upload-pack",
      query: ctx.url.search.replace(/^\?/, ""),
      env: git.env,
      remoteUser: "x-access-token",
    });
  };
  route(
    "GET",
    "/:owner/:repo/info/refs",
    "https://docs.github.com/get-started/git-basics",
    gitHandler("info"),
    true,
  );
  route(
    "POST",
    "/:owner/:repo/git-upload-pack",
    "https://docs.github.com/get-started/git-basics",
    gitHandler("upload"),
    true,
  );

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
    if (allowedOnly === null) return true;
    return allowedOnly.some((r) => methodMatches(r.method, method) && r.test(path, isApi));
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
    const url = new URL(req.url ?? "/", urls.web);
    const path = url.pathname;
    const isApi = path === API || path.startsWith(`${API}/`);
    const record: RequestRecord = {
      seq: ++seq,
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
  if (options.oauthUser) oauthUser = account(options.oauthUser, "User").login;

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
  urls = { web, api: `${web}${API}` };

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
      htmlUrl: `${urls.web}/${c.owner}/${c.repo}/issues/${c.issue}#issuecomment-${c.id}`,
      createdAt: c.createdAt,
      updatedAt: c.updatedAt,
      edits: c.history.length,
      history: [...c.history],
      deleted: c.deleted,
    };
  }

  const standIn: StandIn = {
    urls,
    get app() {
      return {
        id: app.id,
        slug: app.slug,
        name: app.name,
        clientId: app.clientId,
        clientSecret: app.clientSecret,
        botLogin: `${app.slug}[bot]`,
        botUserId: app.botUserId,
        privateKey: app.privateKey,
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
      oauthUser = login === null ? null : account(login, "User").login;
    },
    denyNextOAuth() {
      denyOAuth = true;
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
      allowedOnly = list.map(([method, p]) => ({
        method: method.toUpperCase(),
        test: patternTest(p),
      }));
    },
    resetAllowed() {
      allowedOnly = null;
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
