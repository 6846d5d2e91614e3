// The GitHub App as the worker uses it: installation tokens scoped to ONE repository with the
// least permissions for the purpose, Octokit clients that refresh an expired token once, space
// their writes per installation, and retry idempotent reads on a passing 5xx. GitHub Enterprise
// Server works through config.github.apiUrl / webUrl.
import { createAppAuth } from "@octokit/auth-app";
import { Octokit } from "@octokit/rest";
import type { Knex } from "knex";
import type { GitHubConfig } from "../../config/env";
import { Installation, Repository } from "../../db/models";
import { SharedWriteGate, WriteGate, type GateAcrossProcesses } from "./write-gate";
import { incrementCounter } from "../../db/counters";

type Level = "read" | "write";

/** Least permissions per purpose. Comments: issues + reading code, commits and pull requests. */
export const PURPOSE_PERMISSIONS = {
  comments: { issues: "write", contents: "read", metadata: "read", pull_requests: "read" },
  clone: { contents: "read" },
  /** Automatic bisection: reading the check's record and the configuration. */
  checks: { checks: "read", contents: "read", metadata: "read" },
  /** A commit comment (GitHub files it under contents: write; granted only if the operator chose). */
  commitComment: { contents: "write", metadata: "read" },
} as const satisfies Record<string, Record<string, Level>>;

export type Purpose = keyof typeof PURPOSE_PERMISSIONS;

export interface RepoScope {
  installationId: number;
  repositoryId: number;
  /** What the installation was granted (from its row); requested permissions are limited to it. */
  granted?: Record<string, string> | null;
}

export interface GitHubAppOptions {
  /** Minimum spacing of writes per installation (GitHub: at least 1 s). */
  writeIntervalMs?: number;
  /** The gate every worker process takes (createGitHubApp: PostgreSQL); none: this process only. */
  sharedGate?: GateAcrossProcesses;
  /** A token with less life left than this is replaced before use. */
  minTokenLifeMs?: number;
  /** Delays between retries of a GET that failed with 5xx or a network error. */
  readRetryDelaysMs?: number[];
  /** Told of every failed GitHub API call (for /metrics). */
  onError?: (status: number | undefined) => void;
}

const noop = () => undefined;
const quietLog = {
  debug: noop,
  info: noop,
  // Octokit's own warnings (deprecations); request failures surface as errors to the caller.
  warn: (message: string) =>
    console.warn(JSON.stringify({ level: "warn", component: "github", message })),
  error: noop,
};

const LEVEL: Record<string, number> = { none: 0, read: 1, write: 2, admin: 3 };

function requestedPermissions(
  purpose: Purpose,
  granted: Record<string, string> | null | undefined,
): Record<string, Level> {
  const wanted: Record<string, Level> = { ...PURPOSE_PERMISSIONS[purpose] };
  if (!granted || Object.keys(granted).length === 0) return wanted;
  for (const [name, level] of Object.entries(wanted)) {
    const has = LEVEL[granted[name] ?? "none"] ?? 0;
    // metadata is implied for every installation; anything else not granted cannot be asked for.
    if (name !== "metadata" && has < (LEVEL[level] ?? 1)) {
      if (has === 0) delete wanted[name];
      else wanted[name] = "read";
    }
  }
  return wanted;
}

export function httpStatus(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === "number" ? status : undefined;
}

function header(error: unknown, name: string): string | undefined {
  const headers = (
    error as { response?: { headers?: Record<string, string | number | undefined> } }
  )?.response?.headers;
  const value = headers?.[name];
  return value === undefined ? undefined : String(value);
}

/**
 * How long to wait before trying a failed GitHub request again, or null when retrying cannot
 * help (a 404, a permission problem, a validation error). Rate limits wait for the reset or
 * `retry-after`; server errors and network failures back off exponentially from 1 s to 5 min.
 */
export function retryDelayMs(error: unknown, attempt: number, now = Date.now()): number | null {
  const status = httpStatus(error);
  const retryAfter = Number(header(error, "retry-after"));
  const remaining = header(error, "x-ratelimit-remaining");
  const reset = Number(header(error, "x-ratelimit-reset"));
  const message = error instanceof Error ? error.message : "";
  const rateLimited =
    status === 429 ||
    (status === 403 &&
      (remaining === "0" || Number.isFinite(retryAfter) || /rate limit/i.test(message)));
  if (rateLimited) {
    if (Number.isFinite(retryAfter) && retryAfter >= 0)
      return Math.min(retryAfter * 1000 + 250, 3_600_000);
    if (remaining === "0" && Number.isFinite(reset) && reset > 0)
      return Math.min(Math.max(0, reset * 1000 - now) + 1000, 3_600_000);
    return 60_000;
  }
  if (status === undefined || status >= 500) {
    const base = Math.min(1000 * 2 ** Math.max(0, attempt), 300_000);
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }
  return null;
}

/** The GitHub App: tokens, clients and the write gate. One per worker process. */
export class GitHubApp {
  readonly gate: WriteGate;
  private readonly auth: ReturnType<typeof createAppAuth>;
  private readonly minTokenLifeMs: number;
  private readonly readRetryDelaysMs: number[];
  private readonly onError?: (status: number | undefined) => void;

  constructor(
    readonly config: GitHubConfig,
    options: GitHubAppOptions = {},
  ) {
    this.gate = new WriteGate(
      options.writeIntervalMs ?? 1000,
      undefined,
      undefined,
      options.sharedGate,
    );
    this.minTokenLifeMs = options.minTokenLifeMs ?? 10 * 60_000;
    this.readRetryDelaysMs = options.readRetryDelaysMs ?? [300, 1500];
    this.onError = options.onError;
    if (!config.privateKey)
      throw new Error("the GitHub App's private key is needed here (GITHUB_APP_PRIVATE_KEY)");
    this.auth = createAppAuth({
      appId: config.appId,
      privateKey: config.privateKey,
      request: new Octokit({ baseUrl: config.apiUrl, log: quietLog }).request,
      log: quietLog,
    });
  }

  /** The app's bot account, the author of its comments. */
  get botLogin(): string {
    return `${this.config.appSlug}[bot]`;
  }

  /** An installation token for one repository, with the permissions of `purpose` only. */
  async installationToken(
    scope: RepoScope,
    purpose: Purpose,
    options: { refresh?: boolean } = {},
  ): Promise<{ token: string; expiresAt: Date }> {
    const ask = async (refresh: boolean) => {
      const result = await this.auth({
        type: "installation",
        installationId: scope.installationId,
        repositoryIds: [scope.repositoryId],
        permissions: requestedPermissions(purpose, scope.granted),
        refresh,
      });
      return { token: result.token, expiresAt: new Date(result.expiresAt) };
    };
    const first = await ask(options.refresh ?? false);
    if (first.expiresAt.getTime() - Date.now() >= this.minTokenLifeMs) return first;
    return ask(true);
  }

  /** An Octokit for one repository. Writes pass the installation's write gate. */
  client(scope: RepoScope, purpose: Purpose = "comments"): Octokit {
    const octokit = new Octokit({
      baseUrl: this.config.apiUrl,
      log: quietLog,
      userAgent: `${this.config.appSlug} (Bisect Bot)`,
    });
    octokit.hook.wrap("request", async (request, options) => {
      const method = String(options.method ?? "GET").toUpperCase();
      const idempotent = method === "GET" || method === "HEAD";
      const send = async (refresh: boolean) => {
        const { token } = await this.installationToken(scope, purpose, { refresh });
        options.headers = { ...options.headers, authorization: `token ${token}` };
        if (!idempotent) return this.gate.run(scope.installationId, async () => request(options));
        return request(options);
      };
      for (let attempt = 0; ; attempt++) {
        try {
          try {
            return await send(false);
          } catch (error) {
            // An expired or revoked token: ask for a fresh one once.
            if (httpStatus(error) === 401) return await send(true);
            throw error;
          }
        } catch (error) {
          const status = httpStatus(error);
          this.onError?.(status);
          const transient = status === undefined || status >= 500;
          const delay = this.readRetryDelaysMs[attempt];
          if (!idempotent || !transient || delay === undefined) throw error;
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    });
    return octokit;
  }
}

/** The worker's GitHub App, made once at its start; failed API calls are counted for /metrics. */
export function createGitHubApp(config: GitHubConfig, knex: Knex): GitHubApp {
  return new GitHubApp(config, {
    // GitHub asks for 1 s between writes; 1.1 s leaves room for clocks and network.
    writeIntervalMs: 1100,
    sharedGate: new SharedWriteGate(knex, 1100),
    onError: (status) =>
      void incrementCounter(knex, "github_api_errors", { status: status ?? "network" }).catch(
        () => {},
      ),
  });
}

/** What reaches GitHub from a task: the worker's GitHub App (absent in setup mode). */
export interface GitHubAccess {
  knex: Knex;
  github?: GitHubApp;
}

/** The context's GitHub App. Throws in setup mode. */
export function githubApp(ctx: Pick<GitHubAccess, "github">): GitHubApp {
  if (!ctx.github)
    throw new Error("the GitHub App is not configured (setup mode): set the GITHUB_* variables");
  return ctx.github;
}

/**
 * Where and how a runner host fetches a repository: its clone URL (no credentials in it) and an
 * installation token for that one repository with contents:read only. Valid for at least ten
 * minutes; ask again for every fetch rather than keeping it.
 */
export async function githubCloneSource(
  ctx: GitHubAccess,
  repositoryId: number,
): Promise<{ url: string; username: string; password: string }> {
  const repo = await Repository.query(ctx.knex).findById(repositoryId);
  if (!repo) throw new Error(`repository ${repositoryId} is not known`);
  if (repo.removedAt)
    throw new Error(`repository ${repo.fullName} was removed from the installation`);
  const installation = await Installation.query(ctx.knex).findById(repo.installationId);
  if (!installation || installation.deletedAt)
    throw new Error(`the app is no longer installed for ${repo.fullName}`);
  if (installation.suspendedAt)
    throw new Error(`the installation for ${repo.fullName} is suspended`);
  const app = githubApp(ctx);
  const { token } = await app.installationToken(
    { installationId: installation.id, repositoryId, granted: installation.permissions },
    "clone",
  );
  return {
    url: `${app.config.webUrl}/${repo.owner}/${repo.name}.git`,
    username: "x-access-token",
    password: token,
  };
}
