// "Sign in with GitHub": remix-auth's Authenticator with remix-auth-oauth2's OAuth2Strategy
// (state + PKCE S256) against GITHUB_URL, then GET /user ourselves. remix-auth-github is not used
// because it hard-codes github.com (docs/decisions/004-sign-in.md).
import { createCookie, redirect, type Cookie } from "@remix-run/node";
import { Authenticator } from "remix-auth";
import { CodeChallengeMethod, OAuth2RequestError, OAuth2Strategy } from "remix-auth-oauth2";
import { encryptSecret } from "../db/crypto";
import { getDb } from "./db.server";
import { fetchProfile, GitHubApiError } from "./github-user.server";
import { safeRedirect } from "./safe-redirect.server";
import { cookieName, createSession, destroySession, type ClientInfo } from "./session.server";
import type { SignInSettings } from "./setup.server";

const STRATEGY = "github";

interface SignedInUser {
  id: number;
  login: string;
}

/** GitHub refused the code exchange. */
export class SignInError extends Error {
  override name = "SignInError";
}

/** Associated data binding a user's encrypted token to their row. */
import { AuditLogEntry, tokenAssociatedData } from "../db/models";

export { tokenAssociatedData };

/** Stores or updates the user, their token encrypted; returns our user id. */
export async function upsertUser(
  settings: SignInSettings,
  profile: { id: number; login: string; name?: string | null; avatar_url?: string | null },
  accessToken: string,
): Promise<number> {
  const [row] = await getDb()("users")
    .insert({
      githubId: profile.id,
      login: profile.login,
      name: profile.name ?? null,
      avatarUrl: profile.avatar_url ?? null,
      oauthTokenEncrypted: encryptSecret(
        accessToken,
        settings.encryptionKey,
        tokenAssociatedData(profile.id),
      ),
      lastLoginAt: new Date(),
    })
    .onConflict("githubId")
    .merge(["login", "name", "avatarUrl", "oauthTokenEncrypted", "lastLoginAt"])
    .returning("id");
  return (row as { id: number }).id;
}

const stateCookieBase = "bb_oauth";

function buildAuthenticator(settings: SignInSettings): Authenticator<SignedInUser> {
  const { github, production } = settings;
  const strategy = new OAuth2Strategy<SignedInUser>(
    {
      // The state + PKCE verifier cookie: Secure and `__Host-` in production.
      cookie: {
        name: cookieName(stateCookieBase, production),
        httpOnly: true,
        sameSite: "Lax",
        path: "/",
        maxAge: 10 * 60,
        ...(production ? { secure: true as const } : {}),
      },
      clientId: github.clientId,
      clientSecret: github.clientSecret,
      authorizationEndpoint: `${github.webUrl}/login/oauth/authorize`,
      tokenEndpoint: `${github.webUrl}/login/oauth/access_token`,
      // The Callback URL registered on the app (/auth/github/callback answers too).
      redirectURI: `${settings.publicUrl}/auth/callback`,
      scopes: [],
      codeChallengeMethod: CodeChallengeMethod.S256,
    },
    async ({ tokens }) => {
      // GitHub reports a failed exchange as 200 with an `error` field.
      const data = tokens.data as { error?: unknown; error_description?: unknown };
      if (typeof data.error === "string") {
        throw new SignInError(
          `GitHub refused the sign-in (${typeof data.error_description === "string" ? data.error_description : data.error}).`,
        );
      }
      const accessToken = tokens.accessToken();
      const profile = await fetchProfile(github.apiUrl, accessToken);
      return { id: await upsertUser(settings, profile, accessToken), login: profile.login };
    },
  );
  return new Authenticator<SignedInUser>().use(strategy, STRATEGY);
}

const authenticators = new WeakMap<SignInSettings, Authenticator<SignedInUser>>();
function authenticator(settings: SignInSettings): Authenticator<SignedInUser> {
  let a = authenticators.get(settings);
  if (!a) authenticators.set(settings, (a = buildAuthenticator(settings)));
  return a;
}

const returnCookies = new WeakMap<SignInSettings, Cookie>();
/** Where to go after the callback, kept across the trip to GitHub (signed, ten minutes). */
function returnCookie(settings: SignInSettings): Cookie {
  let c = returnCookies.get(settings);
  if (!c) {
    c = createCookie(cookieName("bb_return", settings.production), {
      secrets: [settings.sessionSecret],
      httpOnly: true,
      sameSite: "lax",
      secure: settings.production,
      path: "/",
      maxAge: 10 * 60,
    });
    returnCookies.set(settings, c);
  }
  return c;
}

/** Starts the OAuth flow: a redirect to GitHub carrying the state and PKCE challenge. */
export async function beginSignIn(settings: SignInSettings, request: Request): Promise<Response> {
  const returnTo = safeRedirect(new URL(request.url).searchParams.get("redirectTo"));
  try {
    await authenticator(settings).authenticate(
      STRATEGY,
      new Request(new URL("/auth/github", settings.publicUrl), { headers: request.headers }),
    );
  } catch (thrown) {
    if (thrown instanceof Response && thrown.status >= 300 && thrown.status < 400) {
      const headers = new Headers(thrown.headers);
      headers.append("Set-Cookie", await returnCookie(settings).serialize(returnTo));
      headers.set("Cache-Control", "no-store");
      return new Response(null, { status: 302, headers });
    }
    throw thrown;
  }
  throw new Error("the OAuth strategy did not redirect to GitHub");
}

/** Cookies of the OAuth state store (`bb_oauth:<uuid>`), cleared once used. */
function clearStateCookies(settings: SignInSettings, request: Request, headers: Headers): void {
  const name = cookieName(stateCookieBase, settings.production);
  const header = request.headers.get("Cookie") ?? "";
  for (const part of header.split(";")) {
    const cookie = part.trim().split("=")[0] ?? "";
    if (cookie.startsWith(name) && /^[\w:-]+$/.test(cookie)) {
      headers.append(
        "Set-Cookie",
        `${cookie}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${settings.production ? "; Secure" : ""}`,
      );
    }
  }
}

/**
 * Completes the OAuth flow: checks state and PKCE, exchanges the code, stores the user, and starts
 * a new session (any earlier one of this browser is deleted: the id is renewed at sign-in).
 */
export async function completeSignIn(
  settings: SignInSettings,
  request: Request,
  client: ClientInfo,
): Promise<Response> {
  let user: SignedInUser;
  try {
    user = await authenticator(settings).authenticate(STRATEGY, request);
  } catch (error) {
    throw signInFailure(error);
  }
  const headers = new Headers({ "Cache-Control": "no-store" });
  await destroySession(settings, request);
  const { setCookie } = await createSession(settings, user.id, client);
  await audit(user.login, "user.sign_in", user.id, client.ip ?? null);
  headers.append("Set-Cookie", setCookie);
  clearStateCookies(settings, request, headers);
  const stored: unknown = await returnCookie(settings).parse(request.headers.get("Cookie"));
  const returnTo = safeRedirect(typeof stored === "string" ? stored : null);
  headers.append(
    "Set-Cookie",
    await returnCookie(settings).serialize("", { maxAge: 0, expires: new Date(0) }),
  );
  return redirect(returnTo, { headers });
}

/** Why a sign-in failed, as a code the /login page turns into words (never text from the URL). */
export type SignInFailure = "denied" | "state" | "github" | "failed";

export const SIGN_IN_FAILURES: Record<SignInFailure, string> = {
  denied: "You declined to authorise Bisect Bot on GitHub, so you are not signed in.",
  state: "That sign-in link has expired or was not started here. Please start again.",
  github: "GitHub did not complete the sign-in. Please try again in a moment.",
  failed: "Signing in did not work. Please try again.",
};

export function failureCode(error: unknown): SignInFailure {
  if (error instanceof OAuth2RequestError)
    return error.code === "access_denied" ? "denied" : "github";
  if (error instanceof SignInError || error instanceof GitHubApiError) return "github";
  // Missing or mismatched state: a stale tab, a replayed link, or a forged callback.
  if (error instanceof ReferenceError || error instanceof RangeError) return "state";
  return "failed";
}

function signInFailure(error: unknown): Response {
  const code = failureCode(error);
  if (code === "failed" || code === "github") {
    console.error(
      JSON.stringify({
        level: "warn",
        component: "web",
        message: "sign-in failed",
        error: error instanceof Error ? error.message : String(error),
      }),
    );
  }
  return redirect(`/login?error=${code}`, { headers: { "Cache-Control": "no-store" } });
}

/** A security-relevant event, for audit_log. */
export async function audit(
  actor: string,
  action: string,
  userId: number,
  ip: string | null,
): Promise<void> {
  await AuditLogEntry.record(getDb(), {
    actor,
    action,
    subjectType: "user",
    subjectId: String(userId),
    ip,
  });
}

/** Signs out: deletes the session and clears its cookie. */
export async function signOut(
  settings: SignInSettings,
  request: Request,
  to = "/",
): Promise<Response> {
  const headers = new Headers({ "Cache-Control": "no-store" });
  headers.append("Set-Cookie", await destroySession(settings, request));
  return redirect(to, { headers });
}
