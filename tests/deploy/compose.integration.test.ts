// docker-compose.prod.yml: valid for Compose (`docker compose config` or `docker-compose config`,
// whichever is installed, with placeholder settings and secrets), and holding what production
// needs: one-shot migrations first, secrets as files read through the <NAME>_FILE convention,
// read-only app containers, health checks, a graceful stop for the worker, runner access for the
// worker only.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { VARIABLES } from "../../config/env";
import { commandExists, requireTool, run } from "./support";

const FILE = "docker-compose.prod.yml";

/** The Compose command here: the v2 plugin, else the standalone v1/v2 binary. */
function composeCommand(): string[] | null {
  if (commandExists("docker", ["compose", "version"])) return ["docker", "compose"];
  if (commandExists("docker-compose", ["version"])) return ["docker-compose"];
  return null;
}

const compose = composeCommand();
const haveCompose = requireTool(
  compose !== null,
  "Docker Compose (`docker compose` or `docker-compose`)",
  "install Debian's docker-compose (apt-get install docker-compose) to validate docker-compose.prod.yml",
);

interface Service {
  image?: string;
  command?: string[] | string;
  environment?: Record<string, string | number>;
  secrets?: (string | { source: string })[];
  volumes?: (string | { source?: string; target: string; read_only?: boolean; type?: string })[];
  read_only?: boolean;
  mem_limit?: string;
  pids_limit?: number;
  tmpfs?: string[] | string;
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition: string }> | string[];
  stop_grace_period?: string;
  restart?: string;
  profiles?: string[];
  cap_drop?: string[];
  security_opt?: string[];
  logging?: { driver: string; options?: Record<string, string> };
  user?: string;
  ports?: unknown[];
}

interface ComposeFile {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
  volumes?: Record<string, unknown>;
}

const APP_SERVICES = ["web", "worker", "migrate", "runner-image"];

describe("docker-compose.prod.yml as written", () => {
  const file = parse(readFileSync(FILE, "utf8"), { merge: true }) as ComposeFile;
  const services = file.services;

  it("has caddy, web, worker, the one-shot migrate and runner-image, and postgres behind a profile", () => {
    expect(Object.keys(services).sort()).toEqual([
      "caddy",
      "migrate",
      "postgres",
      "runner-image",
      "web",
      "worker",
    ]);
    expect(services.postgres!.profiles).toEqual(["postgres"]);
    for (const name of ["migrate", "runner-image"]) {
      expect(services[name]!.restart).toBe("no");
      expect(services[name]!.healthcheck).toEqual({ disable: true });
    }
    expect(services.migrate!.command!.toString()).toContain(
      "node --import tsx scripts/db.ts migrate",
    );
    expect(services["runner-image"]!.command!.toString()).toContain(
      "node --import tsx scripts/runner-image.ts",
    );
    expect(services.web!.command).toEqual(["node", "--import", "tsx", "server/web.ts"]);
    expect(services.worker!.command).toEqual(["node", "--import", "tsx", "jobs/worker.ts"]);
  });

  it("starts web and worker only after the migrations succeeded", () => {
    for (const name of ["web", "worker"]) {
      expect(services[name]!.depends_on).toEqual({
        migrate: { condition: "service_completed_successfully" },
      });
    }
  });

  it("runs the app containers read-only with a tmpfs /tmp, no capabilities, log rotation and a restart policy", () => {
    for (const name of APP_SERVICES) {
      const s = services[name]!;
      expect(s.read_only, name).toBe(true);
      expect(s.tmpfs, name).toEqual([expect.stringMatching(/^\/tmp(:|$)/)]);
      expect(s.cap_drop, name).toEqual(["ALL"]);
      expect(s.security_opt, name).toContain("no-new-privileges:true");
      expect(s.logging, name).toMatchObject({
        driver: "json-file",
        options: { "max-size": expect.any(String), "max-file": expect.any(String) },
      });
      expect(s.restart, name).toMatch(/^(unless-stopped|always|no)$/);
    }
    expect(services.web!.restart).toBe("unless-stopped");
    expect(services.worker!.restart).toBe("unless-stopped");
    // Memory and process limits on the long-running app services.
    for (const name of ["web", "worker"]) {
      expect(services[name]!.mem_limit, name).toMatch(/^\$\{[A-Z_]+:-\d+[mg]\}$/);
      expect(services[name]!.pids_limit, name).toBeGreaterThan(0);
    }
    expect(services.caddy!.logging).toBeDefined();
  });

  it("gives the worker a minute to stop (steps are cancelled on SIGTERM) and both processes health checks", () => {
    expect(services.worker!.stop_grace_period).toBe("60s");
    expect(services.web!.healthcheck!.test).toEqual(["CMD", "node", "docker/healthcheck-web.mjs"]);
    expect(services.worker!.healthcheck!.test).toEqual([
      "CMD",
      "node",
      "--import",
      "tsx",
      "scripts/healthcheck-worker.ts",
    ]);
    expect(services.web!.environment).toMatchObject({ HOST: "0.0.0.0" });
  });

  it("gives the web service no GitHub App private key: only the worker acts as the App", () => {
    expect(services.web!.secrets).not.toContain("github_app_private_key");
    expect(services.web!.environment?.GITHUB_APP_PRIVATE_KEY_PATH ?? "").toBe("");
    expect(services.worker!.secrets).toContain("github_app_private_key");
  });

  it("reads every secret from /run/secrets through a variable the configuration knows", () => {
    const env = services.worker!.environment!;
    const fileVariables = Object.entries(env).filter(
      ([name]) => name.endsWith("_FILE") || name === "GITHUB_APP_PRIVATE_KEY_PATH",
    );
    expect(Object.fromEntries(fileVariables)).toEqual({
      DATABASE_URL_FILE: "/run/secrets/database_url",
      DATABASE_DIRECT_URL_FILE: "/run/secrets/database_direct_url",
      SESSION_SECRET_FILE: "/run/secrets/session_secret",
      ENCRYPTION_KEY_FILE: "/run/secrets/encryption_key",
      GITHUB_APP_PRIVATE_KEY_PATH: "/run/secrets/github_app_private_key",
      GITHUB_WEBHOOK_SECRET_FILE: "/run/secrets/github_webhook_secret",
      GITHUB_CLIENT_SECRET_FILE: "/run/secrets/github_client_secret",
      SESSION_SECRET_PREVIOUS_FILE: "/run/secrets/session_secret_previous",
      ENCRYPTION_KEY_PREVIOUS_FILE: "/run/secrets/encryption_key_previous",
      GITHUB_WEBHOOK_SECRET_PREVIOUS_FILE: "/run/secrets/github_webhook_secret_previous",
      METRICS_TOKEN_FILE: "/run/secrets/metrics_token",
    });
    const known = new Set<string>(VARIABLES);
    for (const [name, target] of fileVariables) {
      expect(known.has(name.replace(/_FILE$/, "")), name).toBe(true);
      const secret = String(target).replace("/run/secrets/", "");
      expect(file.secrets[secret], secret).toBeDefined();
      for (const service of ["web", "worker", "migrate"])
        if (service !== "web" || secret !== "github_app_private_key")
          expect(services[service]!.secrets, service).toContain(secret);
    }
    // No secret value is written into the file itself.
    const secretNames = fileVariables.map(([name]) =>
      name.endsWith("_PATH") ? name.replace(/_PATH$/, "") : name.replace(/_FILE$/, ""),
    );
    expect(secretNames).toEqual(
      expect.arrayContaining([
        "SESSION_SECRET",
        "ENCRYPTION_KEY",
        "GITHUB_APP_PRIVATE_KEY",
        "METRICS_TOKEN",
      ]),
    );
    for (const name of APP_SERVICES) {
      for (const variable of secretNames) {
        expect(services[name]!.environment?.[variable], `${name} ${variable}`).toBeUndefined();
      }
    }
  });

  it("mounts runner access (the Docker socket, TLS client material) read-only, and only where runners are used", () => {
    const mounts = (name: string) => (services[name]!.volumes ?? []).map(String);
    for (const name of ["worker", "runner-image"]) {
      expect(
        mounts(name).some((m) => m.endsWith(":/var/run/docker.sock:ro")),
        name,
      ).toBe(true);
      expect(
        mounts(name).some((m) => m.endsWith(":/etc/bisect-bot/runner-certs:ro")),
        name,
      ).toBe(true);
      expect(
        mounts(name).every((m) => m.endsWith(":ro")),
        name,
      ).toBe(true);
    }
    for (const name of ["web", "migrate", "caddy"]) {
      expect(
        mounts(name).filter((m) => /docker\.sock|runner-certs/.test(m)),
        name,
      ).toEqual([]);
    }
  });

  it("puts Caddy on 80 and 443 with the Caddyfile mounted read-only and its certificates in a volume", () => {
    const caddy = services.caddy!;
    expect(caddy.ports).toEqual(expect.arrayContaining(["80:80", "443:443"]));
    expect(caddy.volumes).toEqual(
      expect.arrayContaining(["./Caddyfile:/etc/caddy/Caddyfile:ro", "caddy_data:/data"]),
    );
    expect(caddy.environment).toMatchObject({ UPSTREAM: "web:3000" });
  });
});

describe.skipIf(!haveCompose)(`${compose?.join(" ")} config`, () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "bisect-compose-"));
    mkdirSync(path.join(dir, "secrets"));
    for (const name of [
      "database_url",
      "database_direct_url",
      "database_ca.crt",
      "session_secret",
      "encryption_key",
      "github-app.pem",
      "github_webhook_secret",
      "github_client_secret",
      "postgres_password",
      "session_secret_previous",
      "encryption_key_previous",
      "github_webhook_secret_previous",
      "metrics_token",
    ]) {
      writeFileSync(path.join(dir, "secrets", name), "placeholder\n");
    }
    writeFileSync(
      path.join(dir, "app.env"),
      "PUBLIC_URL=https://bisect.example.com\nGITHUB_APP_ID=1\nGITHUB_APP_SLUG=bisect-bot\nGITHUB_CLIENT_ID=Iv1.placeholder\n",
    );
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** `config` with placeholder settings; the project's own .env (if any) is not read. */
  const config = (args: string[], extra: Record<string, string> = {}) =>
    run(
      compose![0]!,
      [
        ...compose!.slice(1),
        "--project-directory",
        process.cwd(),
        "--env-file",
        path.join(dir, "interpolation.env"),
        "-f",
        FILE,
        ...args,
      ],
      {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          BISECT_ENV_FILE: path.join(dir, "app.env"),
          SECRETS_DIR: path.join(dir, "secrets"),
          ...extra,
        },
        timeoutMs: 60_000,
      },
    );

  beforeAll(() =>
    writeFileSync(path.join(dir, "interpolation.env"), "DOMAIN=bisect.example.com\n"),
  );

  it("is valid, and resolves to the services and settings production runs", async () => {
    const result = await config(["config"]);
    expect(result.code, result.stderr).toBe(0);
    const resolved = parse(result.stdout) as ComposeFile;
    // Compose v2 leaves out services of inactive profiles; v1 lists them with their profile.
    const active = Object.keys(resolved.services).filter(
      (name) => !resolved.services[name]!.profiles?.length,
    );
    expect(active.sort()).toEqual(["caddy", "migrate", "runner-image", "web", "worker"]);
    expect(resolved.services.caddy!.environment).toMatchObject({
      DOMAIN: "bisect.example.com",
      UPSTREAM: "web:3000",
    });
    expect(resolved.services.web!.environment).toMatchObject({
      NODE_ENV: "production",
      HOST: "0.0.0.0",
      PUBLIC_URL: "https://bisect.example.com",
      SESSION_SECRET_FILE: "/run/secrets/session_secret",
    });
    expect(resolved.services.worker!.read_only).toBe(true);
    expect(resolved.secrets.github_app_private_key!.file).toBe(
      path.join(dir, "secrets", "github-app.pem"),
    );
    expect(resolved.services.web!.image).toBe("bisect-bot:latest");
  });

  it("adds postgres with --profile postgres", async () => {
    const result = await config(["--profile", "postgres", "config", "--services"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split("\n").sort()).toEqual([
      "caddy",
      "migrate",
      "postgres",
      "runner-image",
      "web",
      "worker",
    ]);
  });

  it("refuses to start without a DOMAIN, saying so", async () => {
    writeFileSync(path.join(dir, "interpolation.env"), "# no DOMAIN\n");
    try {
      const result = await config(["config"]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain("set DOMAIN");
    } finally {
      writeFileSync(path.join(dir, "interpolation.env"), "DOMAIN=bisect.example.com\n");
    }
  });
});
