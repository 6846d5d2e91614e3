// The GitHub stand-in's types, constants and small helpers, shared by server.ts and its areas:
// the public options and views, the state each area keeps, and the failure every handler throws.
import { createHash, randomBytes, type KeyObject } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ChecksApi } from "./checks";
import type { AccountData, AccountType, Permissions, Urls } from "./shapes";

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

export interface AppState {
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

export interface AccountState {
  login: string;
  id: number;
  type: AccountType;
  name: string | null;
  avatarUrl?: string;
  emails: string[];
  createdAt: string;
}

export interface RepoState {
  id: number;
  owner: string;
  name: string;
  private: boolean;
  defaultBranch: string;
  path: string;
  description: string | null;
  createdAt: string;
}

export interface InstallationState {
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

export interface InstallationToken {
  token: string;
  installationId: number;
  repositoryIds: number[] | null;
  permissions: Permissions;
  createdAt: number;
  expiresAt: number;
  revoked: boolean;
}

export interface OAuthToken {
  token: string;
  login: string;
  clientId: string;
  scopes: string[];
  createdAt: number;
  revoked: boolean;
}

export interface OAuthCode {
  clientId: string;
  redirectUri: string;
  login: string;
  scopes: string[];
  challenge: string | null;
  expiresAt: number;
  used: boolean;
}

export interface CommentState {
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

export interface ReactionState {
  id: number;
  target: string;
  content: string;
  user: string;
  createdAt: string;
}

export interface Fault {
  method?: string;
  test: (path: string) => boolean;
  status: number;
  remaining: number;
  rateLimit: boolean;
  secondary: boolean;
  retryAfter: number;
}

export type Actor =
  | { kind: "none" }
  | { kind: "installation"; token: InstallationToken; inst: InstallationState }
  | { kind: "oauth"; token: OAuthToken; user: AccountState };

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  body: unknown;
  record: RequestRecord;
  route: Route;
}

export interface Route {
  method: string;
  pattern: string;
  regex: RegExp;
  keys: string[];
  stream?: boolean;
  docs: string;
  handle: (ctx: Ctx) => Promise<void> | void;
}

export const DOCS = "https://docs.github.com/rest";
export const LEVEL: Record<string, number> = { none: 0, read: 1, write: 2, admin: 3 };
export const ROLE_RANK: Record<RepoRole, number> = {
  none: 0,
  read: 1,
  triage: 2,
  write: 3,
  maintain: 4,
  admin: 5,
};
export const DEFAULT_PERMISSIONS: Permissions = {
  metadata: "read",
  contents: "read",
  issues: "write",
  pull_requests: "read",
};
export const DEFAULT_EVENTS = ["issue_comment"];
export const MAX_COMMENT = 65536;
export const TOKEN_LIFETIME_MS = 60 * 60 * 1000;

export function lc(s: string): string {
  return s.toLowerCase();
}

export function escapeRegex(s: string): string {
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

export function randomToken(prefix: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = randomBytes(36);
  let out = "";
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return `${prefix}${out}`;
}

export function timingSafeEqualStrings(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return ha.equals(hb) && a.length === b.length;
}

export const SECRET_KEYS = new Set([
  "client_secret",
  "code",
  "code_verifier",
  "refresh_token",
  "access_token",
  "token",
  "password",
]);

export function redact(value: unknown): unknown {
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

export class HttpFailure extends Error {
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
