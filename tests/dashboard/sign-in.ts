// Signing in through the real flow: /auth/github → the stand-in's authorize → /auth/callback.
import { expect } from "vitest";
import * as authGithub from "../../app/routes/auth.github";
import * as callback from "../../app/routes/auth.callback";
import * as dashboardLayout from "../../app/routes/dashboard";
import { callLoader, CookieJar, dataOf, get } from "./requests";
import type { World } from "./world";

export async function signIn(
  world: World,
  login: string,
  redirectTo = "/dashboard",
  jar = new CookieJar(),
): Promise<{ jar: CookieJar; response: Response }> {
  world.standIn.setOAuthUser(login);
  const start = await callLoader(
    authGithub.loader,
    get(`${world.publicUrl}/auth/github?redirectTo=${encodeURIComponent(redirectTo)}`, jar),
  );
  expect(start.status).toBe(302);
  jar.take(start);
  const authorize = await fetch(start.headers.get("Location")!, { redirect: "manual" });
  expect(authorize.status).toBe(302);
  const back = authorize.headers.get("Location")!;
  expect(back.startsWith(`${world.publicUrl}/auth/callback?`)).toBe(true);
  const response = await callLoader(callback.loader, get(back, jar));
  jar.take(response);
  return { jar, response };
}

/** The session's CSRF token, as the dashboard layout hands it to forms. */
export async function csrfOf(world: World, jar: CookieJar): Promise<string> {
  const data = await dataOf(() =>
    dashboardLayout.loader({
      request: get(`${world.publicUrl}/dashboard`, jar),
      params: {},
      context: {},
    }),
  );
  return data.csrf;
}
