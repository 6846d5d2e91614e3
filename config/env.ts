// Every environment variable the product reads, validated once at start-up.
// An invalid value stops start-up with one message naming every bad variable (never its value).
// Missing GitHub credentials are not an error: the product runs in setup mode.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { z } from "zod";

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const postgresUrl = optionalString.refine(
  (v) => v === undefined || (/^postgres(ql)?:\/\/[^\s]+$/.test(v) && URL.canParse(v)),
  "must be a postgres:// or postgresql:// URL",
);

const httpUrl = (fallback: string) =>
  optionalString
    .transform((v) => (v ?? fallback).replace(/\/+$/, ""))
    .refine((v) => /^https?:\/\//.test(v) && URL.canParse(v), "must be an http:// or https:// URL");

const int = (fallback: number, min: number, max: number) =>
  optionalString
    .transform((v) => (v === undefined ? fallback : Number(v)))
    .refine(
      (v) => Number.isInteger(v) && v >= min && v <= max,
      `must be a whole number from ${min} to ${max}`,
    );

const positiveIntOrUnset = optionalString.refine(
  (v) => v === undefined || /^[1-9][0-9]*$/.test(v),
  "must be a positive whole number",
);

/** 32 bytes as 64 hex digits (`openssl rand -hex 32`) or base64 (`openssl rand -base64 32`). */
export function decodeKey32(value: string): Buffer | null {
  const v = value.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(v) ? Buffer.from(v, "hex") : Buffer.from(v, "base64");
  return bytes.length === 32 ? bytes : null;
}

const key32 = optionalString.refine(
  (v) => v === undefined || decodeKey32(v) !== null,
  "must be 32 bytes, hex (openssl rand -hex 32) or base64 (openssl rand -base64 32)",
);

const secret = (minLength: number) =>
  optionalString.refine(
    (v) => v === undefined || v.length >= minLength,
    `must be at least ${minLength} characters`,
  );

/** A comma-separated list, trimmed, empty items dropped. */
const list = (fallback: string[]) =>
  optionalString.transform((v) =>
    v === undefined
      ? fallback
      : v
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
  );

const schema = z.object({
  NODE_ENV: z
    .enum(["development", "production", "test"], {
      error: "must be development, production or test",
    })
    .default("development"),
  PORT: int(3000, 1, 65535),
  /** Web processes sharing PORT (node:cluster); `auto`: one per CPU, at most 8. */
  WEB_PROCESSES: optionalString
    .refine(
      (v) =>
        v === undefined || v === "auto" || (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 64),
      "must be a number from 1 to 64, or auto",
    )
    .transform((v) =>
      v === undefined ? 1 : v === "auto" ? Math.min(8, availableParallelism()) : Number(v),
    ),
  HOST: optionalString.transform((v) => v ?? "127.0.0.1"),
  PUBLIC_URL: optionalString.refine(
    (v) => v === undefined || (/^https?:\/\//.test(v) && URL.canParse(v)),
    "must be an http:// or https:// URL",
  ),
  LOG_LEVEL: z
    .enum(["debug", "info", "warn", "error"], { error: "must be debug, info, warn or error" })
    .default("info"),
  DATA_DIR: optionalString.transform((v) => v ?? ".data"),

  DATABASE_URL: postgresUrl,
  DATABASE_DIRECT_URL: postgresUrl,
  /** The web process's own, narrower role (docs/security.md); unset: DATABASE_URL. */
  DATABASE_WEB_URL: postgresUrl,
  /** When set, `npm run db:migrate` creates or updates this role with the web's grants. */
  DATABASE_WEB_ROLE: optionalString.refine(
    (v) => v === undefined || /^[a-z_][a-z0-9_]{0,62}$/.test(v),
    "must be a lowercase PostgreSQL role name (letters, digits, underscores)",
  ),
  DATABASE_WEB_PASSWORD: secret(16),
  DATABASE_POOL_MAX: int(10, 1, 200),

  SESSION_SECRET: secret(32),
  /** During a rotation: the previous value, still accepted until every session has renewed. */
  SESSION_SECRET_PREVIOUS: secret(32),
  ENCRYPTION_KEY: key32,
  /** During a rotation: the previous key, still used to decrypt until `admin secrets re-encrypt` ran. */
  ENCRYPTION_KEY_PREVIOUS: key32,

  GITHUB_APP_ID: positiveIntOrUnset,
  GITHUB_APP_SLUG: optionalString.refine(
    (v) => v === undefined || /^[a-z0-9][a-z0-9-]*$/.test(v),
    "must be the app's URL slug (lowercase letters, digits, dashes)",
  ),
  GITHUB_APP_PRIVATE_KEY: optionalString,
  GITHUB_APP_PRIVATE_KEY_PATH: optionalString,
  GITHUB_WEBHOOK_SECRET: secret(16),
  /** During a rotation: deliveries signed with the previous secret are still accepted. */
  GITHUB_WEBHOOK_SECRET_PREVIOUS: secret(16),
  GITHUB_CLIENT_ID: optionalString,
  GITHUB_CLIENT_SECRET: optionalString,
  GITHUB_API_URL: httpUrl("https://api.github.com"),
  GITHUB_URL: httpUrl("https://github.com"),
  BISECT_TRUSTED_ASSOCIATIONS: list(["OWNER", "MEMBER", "COLLABORATOR"]),

  METRICS_TOKEN: secret(16),
  RATE_LIMIT_AUTH_PER_MINUTE: int(30, 1, 100_000),
  RATE_LIMIT_API_PER_MINUTE: int(300, 1, 100_000),
  RATE_LIMIT_WEBHOOK_PER_MINUTE: int(1200, 1, 1_000_000),
  /** GitHub caps a delivery at 25 MB; an operator may refuse less. Larger bodies get 413 unread. */
  WEBHOOK_MAX_BODY_BYTES: int(25_000_000, 1_024, 25_000_000),
  /** Bytes of webhook bodies one web process holds at once; past it a delivery gets 503. */
  WEBHOOK_BODY_BUDGET_BYTES: int(100_000_000, 1_024, 10_000_000_000),
  /** GitHub's webhook delivery addresses (api.github.com/meta "hooks"): never rate limited. */
  WEBHOOK_ALLOWED_CIDRS: list([
    "192.30.252.0/22",
    "185.199.108.0/22",
    "140.82.112.0/20",
    "143.55.64.0/20",
    "2a0a:a440::/29",
    "2606:50c0::/32",
  ]),

  WORKER_CONCURRENCY: int(4, 1, 64),
  WORKER_HEARTBEAT_SECONDS: int(10, 1, 300),
  WORKER_DEAD_AFTER_SECONDS: int(45, 3, 3600),

  RUNNER_DOCKER_HOST: optionalString,
  RUNNER_DOCKER_CERT_PATH: optionalString,
  RUNNER_NAME: optionalString.transform((v) => v ?? "local"),
  RUNNER_CAPACITY: int(2, 1, 256),
  RUNNER_IMAGE: optionalString.transform((v) => v ?? "bisect-runner:latest"),
  /** Images jobs may name: `registry/repository` patterns (`*` within a segment, `**` across). */
  RUNNER_IMAGE_ALLOW: list(["docker.io/library/*"]),
  /** A Docker config.json with registry credentials (`auths`), read when an image is pulled. */
  RUNNER_REGISTRY_AUTH_FILE: optionalString,
  /** Largest image a runner host pulls. */
  RUNNER_IMAGE_MAX_MB: int(10_240, 16, 1_048_576),
  /** Images the product pulled and no job used for this many days are removed; 0 keeps them. */
  RUNNER_IMAGE_EVICT_DAYS: int(14, 0, 36_500),
  /**
   * Past this many MiB of images the product pulled on a host, the least recently used of them
   * are removed (hourly, with the mirrors and caches' pass); 0: no size cap, only the age rule.
   */
  RUNNER_IMAGES_TOTAL_MB: int(40_960, 0, 100_000_000),
  RUNNER_STEP_TIMEOUT_SECONDS: int(600, 5, 86_400),
  RUNNER_MEMORY_MB: int(1024, 64, 1_048_576),
  RUNNER_CPUS: optionalString
    .transform((v) => (v === undefined ? 1 : Number(v)))
    .refine((v) => Number.isFinite(v) && v > 0 && v <= 256, "must be a number of CPUs above 0"),
  RUNNER_PIDS: int(256, 16, 65_536),
  RUNNER_WORK_MB: int(1024, 16, 1_048_576),
  RUNNER_FETCH_NETWORK: optionalString.transform((v) => v ?? "bridge"),
  /**
   * Where a run granted network goes (the setup with `network: setup`, or the whole run where the
   * plan allows test network): the operator's choice, never the repository's. `filtered` (the
   * default): the worker keeps each runner host's egress filter — an internal network without
   * traffic between containers and a proxy letting through only RUNNER_EGRESS_ALLOW — and sends
   * such runs through it. Anything else is a Docker network mode the operator set up (with
   * RUNNER_EGRESS_PROXY for its proxy, e.g. from `npm run runner:egress`); `bridge` is unfiltered.
   */
  RUNNER_RUN_NETWORK: optionalString.transform((v) => v ?? "filtered"),
  /** The port the egress proxy listens on, on the filtered network's gateway of each host. */
  RUNNER_EGRESS_PORT: int(3128, 1, 65_535),
  /**
   * The egress proxy of RUNNER_RUN_NETWORK (`npm run runner:egress` sets both up): runs with
   * network get HTTP_PROXY / HTTPS_PROXY pointing at it. Unset: no proxy variables.
   */
  RUNNER_EGRESS_PROXY: optionalString.refine(
    (v) => v === undefined || /^https?:\/\/[^\s/]+\/?$/.test(v),
    {
      message: "must be a proxy URL such as http://172.30.0.1:3128",
    },
  ),
  /**
   * Keep a dependency cache per repository on each runner host (a Docker volume at /cache, where
   * npm, yarn, pnpm, pip, cargo, Go and ccache keep their caches, with bisect.yml's `cache:`
   * paths). On by default; `off` runs every step from nothing. Caches share RUNNER_CACHE_MAX_MB
   * with the mirrors and are evicted least-recently-used with them.
   */
  RUNNER_DEPENDENCY_CACHE: optionalString
    .refine((v) => v === undefined || ["on", "off", "true", "false"].includes(v), {
      message: "must be on or off",
    })
    .transform((v) => v !== "off" && v !== "false"),
  /** What the egress proxy lets through (names and addresses, comma-separated); unset: the package registries. */
  RUNNER_EGRESS_ALLOW: optionalString,
  RUNNER_CACHE_MAX_MB: int(20_480, 16, 100_000_000),
  RUNNER_LEASE_SECONDS: int(60, 5, 3600),
  RUNNER_FETCH_TIMEOUT_SECONDS: int(900, 10, 86_400),
  BISECT_MAX_RANGE_COMMITS: int(100_000, 2, 100_000_000),
  RUNNER_MIRROR_MAX_MB: int(10_240, 1, 100_000_000),
  /** A runner host silent this long past a run's own limits counts as lost. */
  RUNNER_LOST_HOST_SECONDS: int(60, 5, 3600),

  /** Retention, applied by the nightly prune: step log excerpts of ended jobs. */
  RETENTION_STEP_LOGS_DAYS: int(90, 1, 36_500),
  /** Webhook delivery payloads (the delivery ids stay, for redelivery checks). */
  RETENTION_WEBHOOK_PAYLOADS_DAYS: int(30, 1, 36_500),
  /** Audit log entries; 0 keeps them forever. */
  RETENTION_AUDIT_LOG_DAYS: int(365, 0, 36_500),

  /** `admin backup`: where dumps go (default $DATA_DIR/backups), how many stay, which pg_dump. */
  BACKUP_DIR: optionalString,
  BACKUP_KEEP: int(7, 1, 1000),
  BACKUP_PG_DUMP: optionalString.transform((v) => v ?? "pg_dump"),
  // Zero configuration: a JSON file replacing the built-in table that picks an image and a setup
  // from the files at a repository's root when .github/bisect.yml names neither (docs/architecture.md).
  BISECT_ECOSYSTEMS_FILE: optionalString,
});

type Raw = z.output<typeof schema>;

export interface GitHubConfig {
  appId: number;
  appSlug: string;
  /** Null in the web process, which never calls GitHub as the App (only the worker does). */
  privateKey: string | null;
  webhookSecret: string;
  /** Accepted too while a new webhook secret rolls out. */
  previousWebhookSecret?: string | null;
  clientId: string;
  clientSecret: string;
  apiUrl: string;
  webUrl: string;
}

export interface Config extends Omit<
  Raw,
  "GITHUB_APP_PRIVATE_KEY" | "GITHUB_APP_PRIVATE_KEY_PATH"
> {
  /** The URL people and GitHub reach this product at (links, OAuth callback). */
  publicUrl: string;
  /** GitHub App credentials, or null in setup mode. */
  github: GitHubConfig | null;
  /** What setup mode still needs, by variable name (empty when GitHub is configured). */
  githubMissing: string[];
}

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}\nSee .env.example for every variable.`,
    );
  }
}

const githubRequired = [
  "GITHUB_APP_ID",
  "GITHUB_APP_SLUG",
  "GITHUB_APP_PRIVATE_KEY",
  "GITHUB_WEBHOOK_SECRET",
  "GITHUB_CLIENT_ID",
  "GITHUB_CLIENT_SECRET",
] as const;

/** Accepts a PEM with real newlines or `\n` escapes (as many env files store it). */
export function normalisePem(value: string): string {
  return value.replace(/\\n/g, "\n").trim() + "\n";
}

/** Reads and validates the environment. Throws ConfigError listing every problem. */
export type Env = Record<string, string | undefined>;

/** Every variable the schema reads. */
export const VARIABLES = Object.keys(schema.shape) as (keyof typeof schema.shape)[];

/**
 * The `<NAME>_FILE` convention (Docker and Compose secrets): for every variable the schema reads,
 * `<NAME>_FILE=/run/secrets/x` means "the value is the content of that file", trimmed. Setting
 * both `<NAME>` and `<NAME>_FILE` is an error; an empty `<NAME>_FILE` counts as unset.
 * Returns the environment with the file contents filled in, and the problems found.
 */
export function resolveFileVariables(
  env: Env,
  readFile: (path: string) => string,
): { env: Env; problems: string[] } {
  const resolved: Env = { ...env };
  const problems: string[] = [];
  for (const name of VARIABLES) {
    const file = env[`${name}_FILE`]?.trim();
    if (!file) continue;
    if (env[name] !== undefined && env[name]!.trim() !== "") {
      problems.push(`${name}_FILE: set either it or ${name}, not both`);
      continue;
    }
    try {
      resolved[name] = readFile(file).trim();
    } catch {
      problems.push(`${name}_FILE: cannot read that file`);
    }
  }
  return { env: resolved, problems };
}

/**
 * Other names for our variables, as widely used deployment guides spell them. Either name works;
 * both set to different values is an error naming both.
 */
export const ALIASES = {
  BASE_URL: "PUBLIC_URL",
  SECRET_KEY: "SESSION_SECRET",
  GITHUB_PRIVATE_KEY_PATH: "GITHUB_APP_PRIVATE_KEY_PATH",
  DOCKER_RUNNER_IMAGE: "RUNNER_IMAGE",
  BISECT_TIMEOUT_SECONDS: "RUNNER_STEP_TIMEOUT_SECONDS",
} as const satisfies Record<string, (typeof VARIABLES)[number]>;

/** Fills each variable from its alias when only the alias is set. */
export function resolveAliases(env: Env): { env: Env; problems: string[] } {
  const resolved: Env = { ...env };
  const problems: string[] = [];
  const value = (v: string | undefined) =>
    v === undefined || v.trim() === "" ? undefined : v.trim();
  for (const [alias, name] of Object.entries(ALIASES)) {
    const aliased = value(env[alias]);
    if (aliased === undefined) continue;
    // Vite (and so vitest) sets BASE_URL to its base path, "/": that is not the public URL.
    if (alias === "BASE_URL" && aliased.startsWith("/")) continue;
    const own = value(resolved[name]);
    if (own === undefined) resolved[name] = aliased;
    else if (own !== aliased)
      problems.push(
        `${alias}: another name for ${name}, and both are set to different values; keep one`,
      );
  }
  return { env: resolved, problems };
}

export function loadConfig(
  env: Env = process.env,
  readFile = (p: string) => readFileSync(p, "utf8"),
  /** `web`: the web process, configured without the App's private key (docs/security.md). */
  options: { process?: "web" } = {},
): Config {
  const web = options.process === "web";
  const files = resolveFileVariables(env, readFile);
  const aliases = resolveAliases(files.env);
  const parsed = schema.safeParse(aliases.env);
  const problems: string[] = [...files.problems, ...aliases.problems];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${issue.path.join(".") || "environment"}: ${issue.message}`);
    }
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const raw = parsed.data;
  const production = raw.NODE_ENV === "production";

  if (production && !raw.SESSION_SECRET) problems.push("SESSION_SECRET: required in production");
  if (production && !raw.ENCRYPTION_KEY) problems.push("ENCRYPTION_KEY: required in production");
  if (production && !raw.PUBLIC_URL) problems.push("PUBLIC_URL: required in production");

  let privateKey = raw.GITHUB_APP_PRIVATE_KEY;
  if (privateKey && raw.GITHUB_APP_PRIVATE_KEY_PATH) {
    problems.push("GITHUB_APP_PRIVATE_KEY_PATH: set either it or GITHUB_APP_PRIVATE_KEY, not both");
  } else if (raw.GITHUB_APP_PRIVATE_KEY_PATH) {
    try {
      privateKey = readFile(raw.GITHUB_APP_PRIVATE_KEY_PATH);
    } catch {
      problems.push("GITHUB_APP_PRIVATE_KEY_PATH: cannot read that file");
    }
  }
  if (privateKey && !/-----BEGIN (RSA )?PRIVATE KEY-----/.test(normalisePem(privateKey))) {
    problems.push(
      "GITHUB_APP_PRIVATE_KEY: must be a PEM private key (the .pem file GitHub gives you)",
    );
  }

  const present = { ...raw, GITHUB_APP_PRIVATE_KEY: privateKey };
  const required = githubRequired.filter((name) => !web || name !== "GITHUB_APP_PRIVATE_KEY");
  let githubMissing = required.filter((name) => !present[name]);
  if (githubMissing.length > 0 && githubMissing.length < required.length && production) {
    problems.push(`GitHub App: partly configured, missing ${githubMissing.join(", ")}`);
  }
  // In setup mode the web lists what the deployment needs, the worker's private key included.
  if (githubMissing.length > 0) githubMissing = githubRequired.filter((name) => !present[name]);
  if (problems.length > 0) throw new ConfigError(problems);

  const { GITHUB_APP_PRIVATE_KEY: _k, GITHUB_APP_PRIVATE_KEY_PATH: _p, ...rest } = raw;
  return {
    ...rest,
    publicUrl: (raw.PUBLIC_URL ?? `http://localhost:${raw.PORT}`).replace(/\/+$/, ""),
    githubMissing,
    github:
      githubMissing.length === 0
        ? {
            appId: Number(raw.GITHUB_APP_ID),
            appSlug: raw.GITHUB_APP_SLUG!,
            privateKey: web || !privateKey ? null : normalisePem(privateKey),
            webhookSecret: raw.GITHUB_WEBHOOK_SECRET!,
            previousWebhookSecret: raw.GITHUB_WEBHOOK_SECRET_PREVIOUS ?? null,
            clientId: raw.GITHUB_CLIENT_ID!,
            clientSecret: raw.GITHUB_CLIENT_SECRET!,
            apiUrl: raw.GITHUB_API_URL,
            webUrl: raw.GITHUB_URL,
          }
        : null,
  };
}

/**
 * One line for a partly configured GitHub App (some of its variables set, not all): it names what is
 * missing, since the product then runs in setup mode. Null when none or all are set.
 */
export function partialGitHubNotice(config: Pick<Config, "githubMissing">): string | null {
  const missing = config.githubMissing;
  if (missing.length === 0 || missing.length === githubRequired.length) return null;
  return `GitHub App partly configured, missing ${missing.join(", ")}: running in setup mode until they are set`;
}

/** The web process's database URL: its own role's when one is configured. */
export function webDatabaseUrl(
  config: Pick<Config, "DATABASE_URL" | "DATABASE_WEB_URL">,
): string | undefined {
  return config.DATABASE_WEB_URL ?? config.DATABASE_URL;
}

/** The database URL for the worker and migrations: the direct one when a pooled one is in front. */
export function directDatabaseUrl(
  config: Pick<Config, "DATABASE_URL" | "DATABASE_DIRECT_URL">,
): string | undefined {
  return config.DATABASE_DIRECT_URL ?? config.DATABASE_URL;
}
