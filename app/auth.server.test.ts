// Cookie attributes in production: Secure and `__Host-` for the session and the OAuth state.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { beginSignIn } from "./auth.server";
import { sessionCookie } from "./session.server";
import type { SignInSettings } from "./setup.server";

const key = randomBytes(32);

describe("session secret rotation", () => {
  it("reads cookies signed with the previous secret while a new one is current", async () => {
    const before = {
      ...settings(false),
      sessionSecret: "old".repeat(12),
      sessionSecrets: ["old".repeat(12)],
    };
    const rotated = {
      ...settings(false),
      sessionSecret: "new".repeat(12),
      sessionSecrets: ["new".repeat(12), "old".repeat(12)],
    };
    const after = {
      ...settings(false),
      sessionSecret: "new".repeat(12),
      sessionSecrets: ["new".repeat(12)],
    };
    const header = await sessionCookie(before).serialize("session-id-1");
    expect(await sessionCookie(rotated).parse(header)).toBe("session-id-1");
    expect(await sessionCookie(after).parse(header)).toBeNull();
  });
});

function settings(production: boolean): SignInSettings {
  return {
    github: {
      appId: 1,
      appSlug: "bisect-bot",
      privateKey: "",
      webhookSecret: "w".repeat(20),
      clientId: "Iv1client",
      clientSecret: "secret",
      apiUrl: "https://ghe.example/api/v3",
      webUrl: "https://ghe.example",
    },
    sessionSecret: "x".repeat(40),
    sessionSecrets: ["x".repeat(40)],
    encryptionKey: key,
    encryptionKeys: [key],
    production,
    publicUrl: "https://bisect.example",
  };
}

describe("sign-in cookies", () => {
  it("in production: __Host- names, Secure, HttpOnly, SameSite=Lax, Path=/", async () => {
    const s = settings(true);
    const session = await sessionCookie(s).serialize("id", {
      expires: new Date(Date.now() + 60_000),
    });
    expect(session).toMatch(/^__Host-bb_session=/);
    expect(session).toMatch(/; Secure/);
    expect(session).toMatch(/; HttpOnly/);
    expect(session).toMatch(/; SameSite=Lax/);
    expect(session).toMatch(/; Path=\//);
    expect(session).not.toMatch(/Domain=/i);

    const start = await beginSignIn(
      s,
      new Request("https://bisect.example/auth/github?redirectTo=/dashboard"),
    );
    expect(start.status).toBe(302);
    const location = new URL(start.headers.get("Location")!);
    expect(`${location.origin}${location.pathname}`).toBe(
      "https://ghe.example/login/oauth/authorize",
    );
    expect(location.searchParams.get("redirect_uri")).toBe("https://bisect.example/auth/callback");
    expect(location.searchParams.get("code_challenge_method")).toBe("S256");
    const cookies = start.headers.getSetCookie();
    const state = cookies.find((c) => c.startsWith("__Host-bb_oauth"))!;
    expect(state).toBeDefined();
    expect(state).toMatch(/; Secure/i);
    expect(state).toMatch(/; HttpOnly/i);
    expect(state).toMatch(/; Path=\//i);
    const back = cookies.find((c) => c.startsWith("__Host-bb_return="))!;
    expect(back).toMatch(/; Secure/);
  });

  it("in development: plain names, not Secure (http://localhost)", async () => {
    const s = settings(false);
    const session = await sessionCookie(s).serialize("id");
    expect(session).toMatch(/^bb_session=/);
    expect(session).not.toMatch(/Secure/);
    const start = await beginSignIn(s, new Request("http://localhost:3000/auth/github"));
    expect(
      start.headers.getSetCookie().some((c) => c.startsWith("bb_oauth:") && !/Secure/i.test(c)),
    ).toBe(true);
  });
});
