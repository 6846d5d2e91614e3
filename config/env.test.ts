import { describe, expect, it } from "vitest";
import { ConfigError, directDatabaseUrl, loadConfig, normalisePem, type Env } from "./env";

const PEM = "-----BEGIN RSA PRIVATE KEY-----\\nMIIBOgIBAAJBAK\\n-----END RSA PRIVATE KEY-----";
const github = {
  GITHUB_APP_ID: "12345",
  GITHUB_APP_SLUG: "bisect-bot",
  GITHUB_APP_PRIVATE_KEY: PEM,
  GITHUB_WEBHOOK_SECRET: "a-webhook-secret-of-some-length",
  GITHUB_CLIENT_ID: "Iv1.abc",
  GITHUB_CLIENT_SECRET: "client-secret-value",
};

function problemsOf(env: Env): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("loadConfig", () => {
  it("starts with no environment at all, in setup mode, with sensible defaults", () => {
    const config = loadConfig({});
    expect(config.github).toBeNull();
    expect(config.githubMissing).toContain("GITHUB_APP_ID");
    expect(config.PORT).toBe(3000);
    expect(config.GITHUB_API_URL).toBe("https://api.github.com");
    expect(config.GITHUB_URL).toBe("https://github.com");
    expect(config.publicUrl).toBe("http://localhost:3000");
    expect(config.BISECT_TRUSTED_ASSOCIATIONS).toEqual(["OWNER", "MEMBER", "COLLABORATOR"]);
  });

  it("lists every bad variable at once, by name, never echoing a value", () => {
    const secretish = "not-a-url-but-hunter2";
    const problems = problemsOf({ DATABASE_URL: secretish, GITHUB_APP_ID: "abc", PORT: "99999", RUNNER_CPUS: "-1" });
    expect(problems.map((p) => p.split(":")[0])).toEqual(expect.arrayContaining(["DATABASE_URL", "GITHUB_APP_ID", "PORT", "RUNNER_CPUS"]));
    expect(problems.join("\n")).not.toContain(secretish);
  });

  it("configures GitHub (PEM with \\n escapes) and honours Enterprise URLs", () => {
    const config = loadConfig({ ...github, GITHUB_API_URL: "https://ghe.example.com/api/v3/", GITHUB_URL: "https://ghe.example.com" });
    expect(config.github).toMatchObject({ appId: 12345, appSlug: "bisect-bot", apiUrl: "https://ghe.example.com/api/v3", webUrl: "https://ghe.example.com" });
    expect(config.github?.privateKey).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END/);
  });

  it("reads the private key from a file and rejects setting both forms", () => {
    const fromFile = loadConfig({ ...github, GITHUB_APP_PRIVATE_KEY: undefined, GITHUB_APP_PRIVATE_KEY_PATH: "/keys/app.pem" }, () => normalisePem(PEM));
    expect(fromFile.github?.privateKey).toContain("BEGIN RSA PRIVATE KEY");
    expect(problemsOf({ ...github, GITHUB_APP_PRIVATE_KEY_PATH: "/keys/app.pem" })).toEqual([
      expect.stringMatching(/^GITHUB_APP_PRIVATE_KEY_PATH: set either/),
    ]);
  });

  it("rejects a private key that is not a PEM", () => {
    expect(problemsOf({ ...github, GITHUB_APP_PRIVATE_KEY: "just-text" })).toEqual([expect.stringMatching(/^GITHUB_APP_PRIVATE_KEY: must be a PEM/)]);
  });

  it("requires secrets and a public URL in production, and a complete GitHub App", () => {
    const problems = problemsOf({ NODE_ENV: "production", GITHUB_APP_ID: "1" });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^SESSION_SECRET/),
        expect.stringMatching(/^ENCRYPTION_KEY/),
        expect.stringMatching(/^PUBLIC_URL/),
        expect.stringMatching(/GITHUB_APP_SLUG/),
      ]),
    );
  });

  it("checks the encryption key's length", () => {
    expect(problemsOf({ ENCRYPTION_KEY: Buffer.alloc(16).toString("base64") })).toEqual([expect.stringMatching(/^ENCRYPTION_KEY: must be 32 bytes/)]);
    expect(problemsOf({ ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64") })).toEqual([]);
  });

  it("uses the direct URL for the worker when a pooled one is in front", () => {
    const pooled = "postgres://u:p@pooler.example.com:6543/postgres";
    const direct = "postgres://u:p@db.example.com:5432/postgres";
    expect(directDatabaseUrl(loadConfig({ DATABASE_URL: pooled, DATABASE_DIRECT_URL: direct }))).toBe(direct);
    expect(directDatabaseUrl(loadConfig({ DATABASE_URL: pooled }))).toBe(pooled);
  });
});
