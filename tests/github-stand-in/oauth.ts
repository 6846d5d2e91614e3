// OAuth for the GitHub stand-in: the GitHub App Manifest flow and the OAuth web flow
// (authorize, then exchange the code for a user token).
import { createHash, randomBytes } from "node:crypto";
import { makeAppKey } from "./jwt";
import type { Core } from "./core";
import { type OAuthAppInput, DOCS, timingSafeEqualStrings, HttpFailure } from "./model";

export function registerOAuth(core: Core): void {
  const { oauthApps, oauthCodes, classify, send, json, bodyObject, issueOAuthToken, route, API } =
    core;

  function oauthClient(clientId: string): (OAuthAppInput & { isApp: boolean }) | null {
    if (clientId === core.app.clientId) {
      return {
        clientId: core.app.clientId,
        clientSecret: core.app.clientSecret,
        callbackUrls: core.app.callbackUrls,
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
        html_url: `${core.urls.web}/apps/${slug}`,
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
      if (core.denyOAuth) {
        core.denyOAuth = false;
        back({
          error: "access_denied",
          error_description: "The user has denied your application access.",
          error_uri:
            "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied",
        });
        return;
      }
      if (!core.oauthUser) {
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
        login: core.oauthUser,
        scopes: (q.get("scope") ?? "").split(/[\s,]+/).filter(Boolean),
        challenge,
        expiresAt: Date.now() + 10 * 60 * 1000,
        used: false,
      });
      ctx.record.user = core.oauthUser;
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
}
