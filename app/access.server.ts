// Who may see what. GitHub lists an installation for anyone with access to any one of its
// repositories, so the unit of access is the repository: a signed-in user sees a job only when
// GitHub lists its repository for them (GET /user/installations/:id/repositories with their token),
// and may cancel or re-run it only with write access (push, maintain or admin) to that repository.
// Both answers are cached per user in this process for INSTALLATIONS_TTL_MS, so a revoked
// permission takes effect within that time. Every loader and action goes through `requireViewer`;
// jobs are then fetched with `requireJob`, which answers 404 for anything the user cannot see.
import { redirect } from "@remix-run/node";
import { BisectJob } from "../db/models";
import { decryptWithAnyKey, DecryptionError } from "../db/crypto";
import { getDb } from "./db.server";
import {
  fetchInstallationRepositories,
  fetchUserInstallations,
  GitHubApiError,
  GitHubAuthError,
  type GitHubInstallation,
  type GitHubRepository,
} from "./github-user.server";
import { tokenAssociatedData } from "./auth.server";
import {
  clearSessionCookie,
  destroyUserSessions,
  readSession,
  type SessionRecord,
  type SessionUser,
} from "./session.server";
import { requireSignInSettings, type SignInSettings } from "./setup.server";

export const INSTALLATIONS_TTL_MS = 60_000;
/** How long a last good answer may stand in while GitHub cannot be reached, and the retry delay then. */
const STALE_MS = 15 * 60_000;
const RETRY_MS = 10_000;
const MAX_CACHED_USERS = 5_000;

export interface ViewerInstallation {
  id: number;
  accountLogin: string;
  accountType: string;
  repositorySelection: "all" | "selected" | null;
  suspended: boolean;
  tier: string;
}

export interface Viewer {
  settings: SignInSettings;
  user: SessionUser;
  session: SessionRecord;
  installations: ViewerInstallation[];
  installationIds: ReadonlySet<number>;
}

interface CacheEntry {
  at: number;
  installations: Promise<ViewerInstallation[]>;
  /** The last successful answer, kept for when GitHub cannot be reached. */
  last?: { at: number; value: ViewerInstallation[] };
  repositories: Map<number, { at: number; repositories: Promise<GitHubRepository[]> }>;
}

// Per web process. A user removed from an installation on GitHub loses it here within the TTL.
const cache = new Map<number, CacheEntry>();

/** Forget a user's cached installations (sign-out, revoked token; tests). */
export function forgetViewer(userId?: number): void {
  if (userId === undefined) cache.clear();
  else cache.delete(userId);
}

function userToken(settings: SignInSettings, user: SessionUser): string {
  if (!user.oauthTokenEncrypted) throw new GitHubAuthError("no GitHub token stored for this user");
  try {
    return decryptWithAnyKey(
      user.oauthTokenEncrypted,
      settings.encryptionKeys,
      tokenAssociatedData(user.githubId),
    );
  } catch (error) {
    // ENCRYPTION_KEY changed: the stored token is unusable, so the user signs in again.
    if (error instanceof DecryptionError)
      throw new GitHubAuthError("the stored GitHub token cannot be decrypted");
    throw error;
  }
}

/** Our rows for GitHub's installations: missing ones are inserted (the webhook may not have arrived yet). */
async function mirror(list: GitHubInstallation[]): Promise<ViewerInstallation[]> {
  const withAccount = list.filter((i) => i.account !== null);
  if (withAccount.length === 0) return [];
  const db = getDb();
  await db("installations")
    .insert(
      withAccount.map((i) => ({
        id: i.id,
        accountId: i.account!.id,
        accountLogin: i.account!.login,
        accountType: ["User", "Organization", "Enterprise"].includes(i.account!.type ?? "")
          ? i.account!.type
          : "User",
        githubSuspendedAt: i.suspended_at ? new Date(i.suspended_at) : null,
      })),
    )
    .onConflict("id")
    .ignore();
  const rows: { id: number; tier: string; suspendedAt: Date | null }[] = await db("installations")
    .whereIn(
      "id",
      withAccount.map((i) => i.id),
    )
    .select("id", "tier", "suspendedAt");
  const byId = new Map(rows.map((r) => [r.id, r]));
  return withAccount
    .map((i) => ({
      id: i.id,
      accountLogin: i.account!.login,
      accountType: i.account!.type ?? "User",
      repositorySelection: i.repository_selection ?? null,
      suspended: Boolean(i.suspended_at) || Boolean(byId.get(i.id)?.suspendedAt),
      tier: byId.get(i.id)?.tier ?? "free",
    }))
    .sort((a, b) => a.accountLogin.localeCompare(b.accountLogin) || a.id - b.id);
}

function entryFor(settings: SignInSettings, user: SessionUser): CacheEntry {
  const now = Date.now();
  const previous = cache.get(user.id);
  if (previous && now - previous.at < INSTALLATIONS_TTL_MS) return previous;
  if (cache.size >= MAX_CACHED_USERS) {
    for (const [id, e] of cache)
      if (now - e.at >= STALE_MS || cache.size >= MAX_CACHED_USERS) cache.delete(id);
  }
  const entry: CacheEntry = {
    at: now,
    last: previous?.last,
    repositories: previous?.repositories ?? new Map(),
    installations: Promise.resolve([]),
  };
  entry.installations = (async () => {
    try {
      const value = await mirror(
        await fetchUserInstallations(settings.github.apiUrl, userToken(settings, user)),
      );
      entry.last = { at: Date.now(), value };
      return value;
    } catch (error) {
      // GitHub unreachable: the last answer (up to STALE_MS old) beats locking people out; asked
      // again in a few seconds. A refused token is never papered over.
      const stale = entry.last;
      if (!(error instanceof GitHubAuthError) && stale && Date.now() - stale.at < STALE_MS) {
        console.error(
          JSON.stringify({
            level: "warn",
            component: "web",
            message: "using cached installations",
            error: String(error),
          }),
        );
        entry.at = Date.now() - INSTALLATIONS_TTL_MS + RETRY_MS;
        return stale.value;
      }
      if (cache.get(user.id) === entry) cache.delete(user.id);
      throw error;
    }
  })();
  cache.set(user.id, entry);
  return entry;
}

export async function viewerInstallations(
  settings: SignInSettings,
  user: SessionUser,
): Promise<ViewerInstallation[]> {
  return entryFor(settings, user).installations;
}

/** The repositories of one of the viewer's installations that GitHub lets them see (cached like the installations). */
export async function viewerRepositories(
  viewer: Viewer,
  installationId: number,
): Promise<GitHubRepository[]> {
  if (!viewer.installationIds.has(installationId)) return [];
  const entry = entryFor(viewer.settings, viewer.user);
  const now = Date.now();
  const hit = entry.repositories.get(installationId);
  if (hit && now - hit.at < INSTALLATIONS_TTL_MS) return hit.repositories;
  const repositories = fetchInstallationRepositories(
    viewer.settings.github.apiUrl,
    userToken(viewer.settings, viewer.user),
    installationId,
  );
  const record = { at: now, repositories };
  repositories.catch(() => {
    if (entry.repositories.get(installationId) === record)
      entry.repositories.delete(installationId);
  });
  entry.repositories.set(installationId, record);
  return repositories;
}

/** What the viewer may do with one repository's jobs. */
export interface RepositoryAccess {
  fullName: string;
  /** Push, maintain or admin on GitHub: may cancel and re-run jobs. */
  canWrite: boolean;
}

/** The viewer's access to a repository of one of their installations; null when GitHub does not list it for them. */
export async function repositoryAccess(
  viewer: Viewer,
  installationId: number,
  repositoryId: number,
): Promise<RepositoryAccess | null> {
  const repo = (await viewerRepositories(viewer, installationId)).find(
    (r) => r.id === repositoryId,
  );
  if (!repo) return null;
  const p = repo.permissions ?? {};
  return { fullName: repo.full_name, canWrite: Boolean(p.push || p.maintain || p.admin) };
}

/**
 * Ids of every repository the viewer may see, over all their installations. An installation whose
 * repositories GitHub could not list contributes none (the overview says it could not ask).
 */
export async function visibleRepositoryIds(viewer: Viewer): Promise<number[]> {
  const lists = await Promise.allSettled(
    viewer.installations.map((i) => viewerRepositories(viewer, i.id)),
  );
  return lists.flatMap((l) => (l.status === "fulfilled" ? l.value.map((r) => r.id) : []));
}

export type ViewerKind = "page" | "json" | "stream";

function unauthenticated(
  request: Request,
  kind: ViewerKind,
  reason: "signin" | "expired",
): Response {
  if (kind !== "page") {
    return Response.json(
      { error: "unauthenticated", message: "Sign in with GitHub first." },
      { status: 401, headers: { "Cache-Control": "no-store" } },
    );
  }
  const url = new URL(request.url);
  const params = new URLSearchParams({ redirectTo: `${url.pathname}${url.search}` });
  if (reason === "expired") params.set("reason", "expired");
  return redirect(`/login?${params}`, { headers: { "Cache-Control": "no-store" } });
}

/**
 * The signed-in user and the installations they may see — or a thrown Response: 503 in setup
 * mode, a redirect to /login for pages (401 for JSON and event streams) when not signed in or when
 * GitHub no longer accepts their token.
 */
export async function requireViewer(request: Request, kind: ViewerKind = "page"): Promise<Viewer> {
  const settings = requireSignInSettings(kind === "page" ? "page" : "json");
  const signedIn = await readSession(settings, request);
  if (!signedIn) throw unauthenticated(request, kind, "signin");
  let installations: ViewerInstallation[];
  try {
    installations = await viewerInstallations(settings, signedIn.user);
  } catch (error) {
    if (error instanceof GitHubAuthError) {
      forgetViewer(signedIn.user.id);
      await destroyUserSessions(signedIn.user.id);
      const response = unauthenticated(request, kind, "expired");
      response.headers.append("Set-Cookie", await clearSessionCookie(settings));
      throw response;
    }
    if (error instanceof GitHubApiError) throw githubUnavailable(kind);
    throw error;
  }
  return {
    settings,
    user: signedIn.user,
    session: signedIn.session,
    installations,
    installationIds: new Set(installations.map((i) => i.id)),
  };
}

function githubUnavailable(kind: ViewerKind): Response {
  const message =
    "GitHub could not be reached to check which installations you can see. Please try again in a moment.";
  const init = { status: 502, statusText: "Bad Gateway", headers: { "Cache-Control": "no-store" } };
  return kind === "page"
    ? new Response(message, {
        ...init,
        headers: { ...init.headers, "Content-Type": "text/plain; charset=utf-8" },
      })
    : Response.json({ error: "github_unavailable", message }, init);
}

/** Not found — the same answer whether the thing does not exist or belongs to someone else. */
export function notFound(kind: ViewerKind = "page", what = "job"): Response {
  const message = `There is no such ${what}, or it belongs to an installation you do not have access to.`;
  return kind === "page"
    ? new Response(message, {
        status: 404,
        statusText: "Not Found",
        headers: { "Content-Type": "text/plain; charset=utf-8" },
      })
    : Response.json({ error: "not_found", message }, { status: 404 });
}

/** Every column but the commit graph, which can be large and only the picture needs. */
const JOB_COLUMNS = [
  "id",
  "installationId",
  "repositoryId",
  "source",
  "repoUrl",
  "issueNumber",
  "triggerCommentId",
  "requesterLogin",
  "requesterId",
  "goodRef",
  "badRef",
  "goodSha",
  "badSha",
  "command",
  "setupCommand",
  "options",
  "commitCount",
  "status",
  "outcome",
  "culpritSha",
  "candidates",
  "confidence",
  "explanation",
  "error",
  "rounds",
  "retryOfJobId",
  "startedAt",
  "finishedAt",
  "cancelRequestedAt",
  "createdAt",
  "updatedAt",
].map((c) => `bisectJobs.${c}`);

/** Parses a job id from a route parameter (a positive integer), or null. */
export function parseJobId(param: string | undefined): number | null {
  if (!param || !/^[1-9][0-9]{0,15}$/.test(param)) return null;
  const id = Number(param);
  return Number.isSafeInteger(id) ? id : null;
}

export type JobNeed = "read" | "write";

/**
 * The job, when the viewer can see its repository; otherwise a thrown 404 (never 403: other
 * people's job ids are not confirmed to exist). Jobs without a repository (command-line jobs) are
 * shown to no one here. With need "write", a viewer who can see the job but may not push to its
 * repository gets 403.
 */
export async function requireJob(
  viewer: Viewer,
  param: string | undefined,
  kind: ViewerKind = "page",
  need: JobNeed = "read",
): Promise<BisectJob> {
  const id = parseJobId(param);
  if (id === null || viewer.installationIds.size === 0) throw notFound(kind);
  const job = await BisectJob.query(getDb())
    .select(JOB_COLUMNS)
    .findById(id)
    .whereIn("installationId", [...viewer.installationIds]);
  if (!job || job.installationId === null || job.repositoryId === null) throw notFound(kind);
  let access: RepositoryAccess | null;
  try {
    access = await repositoryAccess(viewer, job.installationId, job.repositoryId);
  } catch (error) {
    throw await githubFailure(viewer, kind, error);
  }
  if (!access) throw notFound(kind);
  if (need === "write" && !access.canWrite) throw forbidden(kind, access.fullName);
  return job;
}

/** The answer when GitHub could not tell us what the viewer may see. */
async function githubFailure(viewer: Viewer, kind: ViewerKind, error: unknown): Promise<Response> {
  if (error instanceof GitHubAuthError) {
    forgetViewer(viewer.user.id);
    await destroyUserSessions(viewer.user.id);
    const response =
      kind === "page"
        ? redirect("/login?reason=expired", { headers: { "Cache-Control": "no-store" } })
        : Response.json(
            { error: "unauthenticated", message: "Sign in with GitHub first." },
            { status: 401, headers: { "Cache-Control": "no-store" } },
          );
    response.headers.append("Set-Cookie", await clearSessionCookie(viewer.settings));
    return response;
  }
  if (error instanceof GitHubApiError) return githubUnavailable(kind);
  throw error;
}

function forbidden(kind: ViewerKind, fullName: string): Response {
  const message = `You need write access to ${fullName} to cancel or re-run its jobs.`;
  return kind === "page"
    ? new Response(message, {
        status: 403,
        statusText: "Forbidden",
        headers: { "Content-Type": "text/plain; charset=utf-8" },
      })
    : Response.json({ error: "forbidden", message }, { status: 403 });
}

/** Whether the viewer may cancel and re-run this job (for showing the buttons). */
export async function canWriteJob(viewer: Viewer, job: BisectJob): Promise<boolean> {
  if (job.installationId === null || job.repositoryId === null) return false;
  const access = await repositoryAccess(viewer, job.installationId, job.repositoryId);
  return access?.canWrite ?? false;
}
