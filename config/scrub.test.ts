import { describe, expect, it } from "vitest";
import { scrubSecrets } from "./scrub";

const token = (prefix: string) => `${prefix}${"A1b2C3d4E5".repeat(4)}`;

describe("scrubSecrets", () => {
  it.each(["ghs_", "gho_", "ghp_", "ghu_", "ghr_", "github_pat_11AB_"])(
    "removes %s tokens",
    (prefix) => {
      const t = token(prefix);
      const out = scrubSecrets(`token is ${t} ok`);
      expect(out).not.toContain(t);
      expect(out).toContain("[redacted token]");
    },
  );

  it("removes credentials in clone URLs", () => {
    const out = scrubSecrets(
      `fatal: unable to access 'https://x-access-token:${token("ghs_")}@github.com/acme/widgets.git/'`,
    );
    expect(out).toBe(
      "fatal: unable to access 'https://x-access-token:[redacted]@github.com/acme/widgets.git/'",
    );
    expect(scrubSecrets("http://bob:hunter2@example.com/x")).toBe(
      "http://bob:[redacted]@example.com/x",
    );
    expect(scrubSecrets("x-access-token:abc123@host")).toBe("x-access-token:[redacted]@host");
  });

  it("removes Authorization headers of any scheme", () => {
    expect(scrubSecrets("> Authorization: Bearer abc.def.ghi\n> Accept: */*")).toBe(
      "> Authorization: Bearer [redacted]\n> Accept: */*",
    );
    expect(scrubSecrets("authorization: token 12345")).toBe("authorization: token [redacted]");
    expect(scrubSecrets('{"Authorization":"Basic dXNlcjpwYXNz"}')).not.toContain("dXNlcjpwYXNz");
    expect(scrubSecrets("Proxy-Authorization: secret")).toBe("Proxy-Authorization: [redacted]");
  });

  it("removes PEM blocks, closed or cut off", () => {
    const pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----";
    expect(scrubSecrets(`key:\n${pem}\ndone`)).toBe("key:\n[rsa private key removed]\ndone");
    expect(scrubSecrets("-----BEGIN PRIVATE KEY-----\nMIIE cut here")).toBe(
      "[private key removed]",
    );
  });

  it("removes JWTs and leaves ordinary text alone", () => {
    expect(scrubSecrets("jwt eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMDAxIn0.c2lnbmF0dXJl end")).toBe(
      "jwt [redacted jwt] end",
    );
    const plain = "FAIL src/dates.test.js\n  ✕ parses dates (5 ms)\nexpected 2026 to be 2025";
    expect(scrubSecrets(plain)).toBe(plain);
  });
});
