// Dashboard sessions, kept server-side in the `sessions` table (docs/decisions/004-sign-in.md).
//
// The cookie carries only a random session id (32 bytes), signed with SESSION_SECRET; the table
// stores its SHA-256, the user, the CSRF token, and the timestamps the timeouts are checked
// against on every request: idle (no request for IDLE_TIMEOUT) and absolute (ABSOLUTE_TIMEOUT
// after sign-in, whatever the activity). Signing in always makes a new id; signing out deletes
// the row, so a copied cookie stops working at once.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createCookie, type Cookie } from "@remix-run/node";
import { getDb } from "./db.server";
import type { SignInSettings } from "./setup.server";

export const IDLE_TIMEOUT_MS = 8 * 60 * 60 * 1000;
export const ABSOLUTE_TIMEOUT_MS = 7 * 24 * 60 * 60 * 1000;
/** last_seen_at is written at most this often (one write per minute per active session, not per request). */
const TOUCH_INTERVAL_MS = 60 * 1000;

export interface SessionPolicy {
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
}
export const DEFAULT_SESSION_POLICY: SessionPolicy = {
  idleTimeoutMs: IDLE_TIMEOUT_MS,
  absoluteTimeoutMs: ABSOLUTE_TIMEOUT_MS,
};

export interface SessionUser {
  id: number;
  githubId: number;
  login: string;
  name: string | null;
  avatarUrl: string | null;
  oauthTokenEncrypted: string | null;
}

export interface SessionRecord {
  /** SHA-256 of the cookie's session id. */
  id: string;
  userId: number;
  csrfToken: string;
  flash: string | null;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
}

export interface SignedIn {
  session: SessionRecord;
  user: SessionUser;
}

/** `__Host-` names need Secure and Path=/ and no Domain: the browser then refuses them from anywhere else. */
export function cookieName(base: string, production: boolean): string {
  return production ? `__Host-${base}` : base;
}

const cookies = new WeakMap<SignInSettings, Cookie>();

export function sessionCookie(settings: SignInSettings): Cookie {
  let cookie = cookies.get(settings);
  if (!cookie) {
    cookie = createCookie(cookieName("bb_session", settings.production), {
      // Signed with the first; the previous secret still verifies during a rotation.
      secrets: settings.sessionSecrets,
      httpOnly: true,
      sameSite: "lax",
      secure: settings.production,
      path: "/",
    });
    cookies.set(settings, cookie);
  }
  return cookie;
}

const hashId = (id: string) => createHash("sha256").update(id).digest("hex");

export interface ClientInfo {
  ip?: string | null;
  userAgent?: string | null;
}

/**
 * A new session for `userId` (always a new id: signing in never reuses one). Returns the
 * Set-Cookie header value. Expired sessions of anyone are cleared on the way.
 */
export async function createSession(
  settings: SignInSettings,
  userId: number,
  client: ClientInfo = {},
  policy: SessionPolicy = DEFAULT_SESSION_POLICY,
): Promise<{ setCookie: string; session: SessionRecord }> {
  const db = getDb();
  const id = randomBytes(32).toString("base64url");
  const now = new Date();
  const expiresAt = new Date(now.getTime() + policy.absoluteTimeoutMs);
  await db("sessions")
    .where("expiresAt", "<=", now)
    .orWhere("lastSeenAt", "<=", new Date(now.getTime() - policy.idleTimeoutMs))
    .delete();
  const [row] = await db("sessions")
    .insert({
      id: hashId(id),
      userId,
      csrfToken: randomBytes(32).toString("base64url"),
      ip: client.ip?.slice(0, 64) ?? null,
      userAgent: client.userAgent?.slice(0, 300) ?? null,
      lastSeenAt: now,
      expiresAt,
    })
    .returning(["id", "userId", "csrfToken", "flash", "createdAt", "lastSeenAt", "expiresAt"]);
  const setCookie = await sessionCookie(settings).serialize(id, { expires: expiresAt });
  return { setCookie, session: row as SessionRecord };
}

async function cookieSessionId(settings: SignInSettings, request: Request): Promise<string | null> {
  const value: unknown = await sessionCookie(settings).parse(request.headers.get("Cookie"));
  return typeof value === "string" && value.length > 0 ? value : null;
}

/** Whether a session has run out, by either timeout. */
export function sessionExpired(
  session: Pick<SessionRecord, "createdAt" | "lastSeenAt" | "expiresAt">,
  now: Date,
  policy: SessionPolicy,
): boolean {
  const t = now.getTime();
  return (
    t >= session.expiresAt.getTime() ||
    t - session.createdAt.getTime() >= policy.absoluteTimeoutMs ||
    t - session.lastSeenAt.getTime() >= policy.idleTimeoutMs
  );
}

/** The signed-in user of this request, or null (no cookie, bad signature, unknown, or expired: then deleted). */
export async function readSession(
  settings: SignInSettings,
  request: Request,
  policy: SessionPolicy = DEFAULT_SESSION_POLICY,
): Promise<SignedIn | null> {
  const id = await cookieSessionId(settings, request);
  if (!id) return null;
  const db = getDb();
  const row = await db("sessions as s")
    .join("users as u", "u.id", "s.userId")
    .where("s.id", hashId(id))
    .first(
      "s.id",
      "s.userId",
      "s.csrfToken",
      "s.flash",
      "s.createdAt",
      "s.lastSeenAt",
      "s.expiresAt",
      "u.githubId",
      "u.login",
      "u.name",
      "u.avatarUrl",
      "u.oauthTokenEncrypted",
    );
  if (!row) return null;
  const now = new Date();
  if (sessionExpired(row, now, policy)) {
    await db("sessions").where({ id: row.id }).delete();
    return null;
  }
  if (now.getTime() - row.lastSeenAt.getTime() >= TOUCH_INTERVAL_MS) {
    await db("sessions").where({ id: row.id }).update({ lastSeenAt: now });
    row.lastSeenAt = now;
  }
  return {
    session: {
      id: row.id,
      userId: row.userId,
      csrfToken: row.csrfToken,
      flash: row.flash,
      createdAt: row.createdAt,
      lastSeenAt: row.lastSeenAt,
      expiresAt: row.expiresAt,
    },
    user: {
      id: row.userId,
      githubId: row.githubId,
      login: row.login,
      name: row.name,
      avatarUrl: row.avatarUrl,
      oauthTokenEncrypted: row.oauthTokenEncrypted,
    },
  };
}

/** Deletes this request's session, if any; returns the Set-Cookie value that clears the cookie. */
export async function destroySession(settings: SignInSettings, request: Request): Promise<string> {
  const id = await cookieSessionId(settings, request);
  if (id)
    await getDb()("sessions")
      .where({ id: hashId(id) })
      .delete();
  return clearSessionCookie(settings);
}

export function clearSessionCookie(settings: SignInSettings): Promise<string> {
  return sessionCookie(settings).serialize("", { expires: new Date(0), maxAge: 0 });
}

/** Signs a user out everywhere (e.g. GitHub revoked the token). */
export async function destroyUserSessions(userId: number): Promise<void> {
  await getDb()("sessions").where({ userId }).delete();
}

// A notice after an action (POST → redirect → GET). The redirect carries a random marker in its URL
// (`?notice=…`) and the notice shows on every load of that URL, never consumed by reading: a
// one-time read would be lost to whichever request ran the loader first — a live-update
// revalidation, a navigation the browser aborted and restarted, a self-refresh without JavaScript —
// instead of the page the person sees. The text stays in the session, not in the URL, so nobody can
// craft a link that shows a notice of their own. The next notice replaces it.

interface StoredFlash {
  marker: string;
  message: string;
}

/** Stores a notice for the page the redirect opens; returns that page's URL, carrying the marker. */
export async function setFlash(
  session: SessionRecord,
  message: string,
  path: string,
): Promise<string> {
  const marker = randomBytes(9).toString("base64url");
  const stored: StoredFlash = { marker, message: message.slice(0, 500) };
  await getDb()("sessions")
    .where({ id: session.id })
    .update({ flash: JSON.stringify(stored) });
  const url = new URL(path, "http://x");
  url.searchParams.set("notice", marker);
  return url.pathname + url.search;
}

/** The pending notice, if this request's URL carries its marker. */
export function readFlash(session: SessionRecord, request: Request): string | null {
  const marker = new URL(request.url).searchParams.get("notice");
  if (!marker || !session.flash) return null;
  let stored: Partial<StoredFlash>;
  try {
    stored = JSON.parse(session.flash) as Partial<StoredFlash>;
  } catch {
    return null;
  }
  return stored.marker === marker && typeof stored.message === "string" ? stored.message : null;
}

/** Constant-time comparison of a submitted CSRF token with the session's. */
export function csrfTokenMatches(session: SessionRecord, submitted: unknown): boolean {
  if (typeof submitted !== "string" || submitted.length === 0) return false;
  const a = Buffer.from(submitted);
  const b = Buffer.from(session.csrfToken);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Throws 403 unless the form carries this session's CSRF token (field `csrf`). */
export function requireCsrf(session: SessionRecord, form: FormData): void {
  if (!csrfTokenMatches(session, form.get("csrf"))) {
    throw new Response(
      "This form has expired or did not come from this site. Go back, reload the page and try again.",
      {
        status: 403,
        statusText: "Forbidden",
        headers: { "Content-Type": "text/plain; charset=utf-8" },
      },
    );
  }
}
