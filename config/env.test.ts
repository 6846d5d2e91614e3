import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  partialGitHubNotice,
  ALIASES,
  ConfigError,
  decodeKey32,
  directDatabaseUrl,
  loadConfig,
  normalisePem,
  resolveFileVariables,
  VARIABLES,
  type Env,
} from "./env";

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
  it("takes WEB_PROCESSES as a count or auto (one per CPU, at most 8), 1 when unset", () => {
    expect(loadConfig({}).WEB_PROCESSES).toBe(1);
    expect(loadConfig({ WEB_PROCESSES: "3" }).WEB_PROCESSES).toBe(3);
    const auto = loadConfig({ WEB_PROCESSES: "auto" }).WEB_PROCESSES;
    expect(auto).toBeGreaterThanOrEqual(1);
    expect(auto).toBeLessThanOrEqual(8);
    for (const bad of ["0", "65", "two", "-1"])
      expect(problemsOf({ WEB_PROCESSES: bad }).join("\n")).toContain(
        "WEB_PROCESSES: must be a number from 1 to 64, or auto",
      );
  });

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
    const problems = problemsOf({
      DATABASE_URL: secretish,
      GITHUB_APP_ID: "abc",
      PORT: "99999",
      RUNNER_CPUS: "-1",
    });
    expect(problems.map((p) => p.split(":")[0])).toEqual(
      expect.arrayContaining(["DATABASE_URL", "GITHUB_APP_ID", "PORT", "RUNNER_CPUS"]),
    );
    expect(problems.join("\n")).not.toContain(secretish);
  });

  it("configures GitHub (PEM with \\n escapes) and honours Enterprise URLs", () => {
    const config = loadConfig({
      ...github,
      GITHUB_API_URL: "https://ghe.example.com/api/v3/",
      GITHUB_URL: "https://ghe.example.com",
    });
    expect(config.github).toMatchObject({
      appId: 12345,
      appSlug: "bisect-bot",
      apiUrl: "https://ghe.example.com/api/v3",
      webUrl: "https://ghe.example.com",
    });
    expect(config.github?.privateKey).toMatch(
      /^-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END/,
    );
  });

  it("reads the private key from a file and rejects setting both forms", () => {
    const fromFile = loadConfig(
      {
        ...github,
        GITHUB_APP_PRIVATE_KEY: undefined,
        GITHUB_APP_PRIVATE_KEY_PATH: "/keys/app.pem",
      },
      () => normalisePem(PEM),
    );
    expect(fromFile.github?.privateKey).toContain("BEGIN RSA PRIVATE KEY");
    expect(problemsOf({ ...github, GITHUB_APP_PRIVATE_KEY_PATH: "/keys/app.pem" })).toEqual([
      expect.stringMatching(/^GITHUB_APP_PRIVATE_KEY_PATH: set either/),
    ]);
  });

  it("rejects a private key that is not a PEM", () => {
    expect(problemsOf({ ...github, GITHUB_APP_PRIVATE_KEY: "just-text" })).toEqual([
      expect.stringMatching(/^GITHUB_APP_PRIVATE_KEY: must be a PEM/),
    ]);
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
    expect(problemsOf({ ENCRYPTION_KEY: Buffer.alloc(16).toString("base64") })).toEqual([
      expect.stringMatching(/^ENCRYPTION_KEY: must be 32 bytes/),
    ]);
    expect(problemsOf({ ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64") })).toEqual([]);
  });

  it("accepts the key as hex too (openssl rand -hex 32), for both the key and its predecessor", () => {
    const hex = Buffer.alloc(32, 5).toString("hex");
    const config = loadConfig({ ENCRYPTION_KEY: hex, ENCRYPTION_KEY_PREVIOUS: hex.toUpperCase() });
    expect(decodeKey32(config.ENCRYPTION_KEY!)).toEqual(Buffer.alloc(32, 5));
    expect(decodeKey32(config.ENCRYPTION_KEY_PREVIOUS!)).toEqual(Buffer.alloc(32, 5));
    expect(problemsOf({ ENCRYPTION_KEY: "ab".repeat(31) })).toEqual([
      expect.stringMatching(/^ENCRYPTION_KEY: must be 32 bytes, hex .* or base64/),
    ]);
  });

  describe("the deployment guide's names", () => {
    const guide = {
      BASE_URL: "https://bisect.example.com",
      SECRET_KEY: "k".repeat(40),
      GITHUB_PRIVATE_KEY_PATH: "/keys/app.pem",
      DOCKER_RUNNER_IMAGE: "acme/runner:1",
      BISECT_TIMEOUT_SECONDS: "1200",
    };

    it("reads each as the variable it stands for", () => {
      const { GITHUB_APP_PRIVATE_KEY: _, ...rest } = github;
      const config = loadConfig({ ...rest, ...guide }, () => normalisePem(PEM));
      expect(config.publicUrl).toBe("https://bisect.example.com");
      expect(config.SESSION_SECRET).toBe("k".repeat(40));
      expect(config.github?.privateKey).toContain("BEGIN RSA PRIVATE KEY");
      expect(config.RUNNER_IMAGE).toBe("acme/runner:1");
      expect(config.RUNNER_STEP_TIMEOUT_SECONDS).toBe(1200);
      expect(Object.values(ALIASES).every((name) => (VARIABLES as string[]).includes(name))).toBe(
        true,
      );
    });

    it("accepts both names when they agree, and names both when they differ", () => {
      expect(
        loadConfig({ BASE_URL: "https://a.example", PUBLIC_URL: "https://a.example" }).publicUrl,
      ).toBe("https://a.example");
      expect(
        problemsOf({
          BASE_URL: "https://a.example",
          PUBLIC_URL: "https://b.example",
          DOCKER_RUNNER_IMAGE: "x:1",
          RUNNER_IMAGE: "y:1",
        }),
      ).toEqual([
        "BASE_URL: another name for PUBLIC_URL, and both are set to different values; keep one",
        "DOCKER_RUNNER_IMAGE: another name for RUNNER_IMAGE, and both are set to different values; keep one",
      ]);
    });

    it("leaves a BASE_URL that is a path (Vite's base path) alone", () => {
      expect(loadConfig({ BASE_URL: "/", PUBLIC_URL: "https://a.example" }).publicUrl).toBe(
        "https://a.example",
      );
    });

    it("validates an alias's value under the variable's rules", () => {
      expect(problemsOf({ BISECT_TIMEOUT_SECONDS: "soon" })).toEqual([
        expect.stringMatching(/^RUNNER_STEP_TIMEOUT_SECONDS: must be a whole number/),
      ]);
    });
  });

  it("names what a partly configured GitHub App is missing, in one line", () => {
    expect(partialGitHubNotice(loadConfig({}))).toBeNull();
    expect(partialGitHubNotice(loadConfig(github))).toBeNull();
    expect(partialGitHubNotice(loadConfig({ GITHUB_APP_ID: "1", GITHUB_CLIENT_ID: "Iv1.x" }))).toBe(
      "GitHub App partly configured, missing GITHUB_APP_SLUG, GITHUB_APP_PRIVATE_KEY, GITHUB_WEBHOOK_SECRET, GITHUB_CLIENT_SECRET: running in setup mode until they are set",
    );
  });

  it("uses the direct URL for the worker when a pooled one is in front", () => {
    const pooled = "postgres://u:p@pooler.example.com:6543/postgres";
    const direct = "postgres://u:p@db.example.com:5432/postgres";
    expect(
      directDatabaseUrl(loadConfig({ DATABASE_URL: pooled, DATABASE_DIRECT_URL: direct })),
    ).toBe(direct);
    expect(directDatabaseUrl(loadConfig({ DATABASE_URL: pooled }))).toBe(pooled);
  });

  describe("<NAME>_FILE (Docker and Compose secrets)", () => {
    const files: Record<string, string> = {
      "/run/secrets/session_secret": "s".repeat(40) + "\n",
      "/run/secrets/encryption_key": `  ${Buffer.alloc(32, 9).toString("base64")}\n`,
      "/run/secrets/webhook_secret": "a-webhook-secret-from-a-file\n",
      "/run/secrets/client_secret": "client-secret-from-a-file",
      "/run/secrets/database_url": "postgres://bisect:pw@db:5432/bisect\n",
      "/run/secrets/github-app.pem": normalisePem(PEM),
      "/run/secrets/empty": "\n",
    };
    const readFile = (path: string) => {
      if (!(path in files)) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
      return files[path]!;
    };
    const problemsWith = (env: Env): string[] => {
      try {
        loadConfig(env, readFile);
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      return [];
    };

    it("reads each secret from its file, trimmed, for every variable the schema knows", () => {
      const config = loadConfig(
        {
          NODE_ENV: "production",
          PUBLIC_URL: "https://bisect.example.com",
          SESSION_SECRET_FILE: "/run/secrets/session_secret",
          ENCRYPTION_KEY_FILE: "/run/secrets/encryption_key",
          DATABASE_URL_FILE: "/run/secrets/database_url",
          ...github,
          GITHUB_APP_PRIVATE_KEY: undefined,
          GITHUB_APP_PRIVATE_KEY_PATH: "/run/secrets/github-app.pem",
          GITHUB_WEBHOOK_SECRET: undefined,
          GITHUB_WEBHOOK_SECRET_FILE: "/run/secrets/webhook_secret",
          GITHUB_CLIENT_SECRET: "",
          GITHUB_CLIENT_SECRET_FILE: "/run/secrets/client_secret",
        },
        readFile,
      );
      expect(config.SESSION_SECRET).toBe("s".repeat(40));
      expect(config.ENCRYPTION_KEY).toBe(Buffer.alloc(32, 9).toString("base64"));
      expect(config.DATABASE_URL).toBe("postgres://bisect:pw@db:5432/bisect");
      expect(config.github).toMatchObject({
        webhookSecret: "a-webhook-secret-from-a-file",
        clientSecret: "client-secret-from-a-file",
      });
      expect(config.github?.privateKey).toContain("BEGIN RSA PRIVATE KEY");
    });

    it("applies to every variable, the private key and plain settings included", () => {
      const { env, problems } = resolveFileVariables(
        Object.fromEntries(VARIABLES.map((name) => [`${name}_FILE`, "/run/secrets/empty"])),
        readFile,
      );
      expect(problems).toEqual([]);
      expect(VARIABLES).toEqual(
        expect.arrayContaining([
          "SESSION_SECRET",
          "ENCRYPTION_KEY",
          "GITHUB_WEBHOOK_SECRET",
          "GITHUB_CLIENT_SECRET",
          "DATABASE_DIRECT_URL",
        ]),
      );
      for (const name of VARIABLES) expect(env[name]).toBe("");
      expect(
        loadConfig({ GITHUB_APP_PRIVATE_KEY_FILE: "/run/secrets/github-app.pem" }, readFile)
          .githubMissing,
      ).not.toContain("GITHUB_APP_PRIVATE_KEY");
      expect(
        loadConfig({ PORT_FILE: "/run/secrets/port" }, (p) =>
          p === "/run/secrets/port" ? "8080\n" : readFile(p),
        ).PORT,
      ).toBe(8080);
    });

    it("an empty file or an empty _FILE counts as unset", () => {
      const config = loadConfig(
        { DATABASE_DIRECT_URL_FILE: "/run/secrets/empty", DATABASE_URL_FILE: "" },
        readFile,
      );
      expect(config.DATABASE_URL).toBeUndefined();
      expect(config.DATABASE_DIRECT_URL).toBeUndefined();
    });

    it("refuses both forms at once and an unreadable file, naming the variable, never the value", () => {
      const problems = problemsWith({
        SESSION_SECRET: "t".repeat(40),
        SESSION_SECRET_FILE: "/run/secrets/session_secret",
        ENCRYPTION_KEY_FILE: "/run/secrets/missing",
        GITHUB_APP_ID: "abc",
      });
      expect(problems).toEqual(
        expect.arrayContaining([
          "SESSION_SECRET_FILE: set either it or SESSION_SECRET, not both",
          "ENCRYPTION_KEY_FILE: cannot read that file",
          expect.stringMatching(/^GITHUB_APP_ID: /),
        ]),
      );
      expect(problems.join("\n")).not.toContain("t".repeat(40));
    });

    it("validates a value read from a file like any other", () => {
      expect(problemsWith({ ENCRYPTION_KEY_FILE: "/run/secrets/webhook_secret" })).toEqual([
        expect.stringMatching(/^ENCRYPTION_KEY: must be 32 bytes/),
      ]);
    });

    it("reads real files", () => {
      const dir = mkdtempSync(path.join(tmpdir(), "bisect-env-"));
      try {
        writeFileSync(path.join(dir, "secret"), "from-a-real-file-0123456789abcdef0123\n", {
          mode: 0o600,
        });
        expect(loadConfig({ SESSION_SECRET_FILE: path.join(dir, "secret") }).SESSION_SECRET).toBe(
          "from-a-real-file-0123456789abcdef0123",
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
