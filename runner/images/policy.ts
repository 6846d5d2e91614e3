// Which images a runner may use: image references parsed the way Docker does, the operator's
// allow-list of registries and repositories, registry credentials read from a Docker-style
// config.json, and a size cap. Pure, apart from reading the credentials file.
import { readFileSync } from "node:fs";

export interface ImageRef {
  /** Registry host (`docker.io`, `ghcr.io`, `127.0.0.1:5000`). */
  registry: string;
  /** Repository path in the registry (`library/node`, `org/app`). */
  repository: string;
  tag?: string;
  /** `sha256:…` when the reference pins one. */
  digest?: string;
  /** `registry/repository`. */
  name: string;
  /** The name as Docker shows it (`node`, `org/app` on Docker Hub; else `name`). */
  shortName: string;
  /** `name[:tag][@digest]`, with `:latest` when neither is given. */
  canonical: string;
}

export interface ImagePolicy {
  /**
   * Patterns of `registry/repository` that may be used: `*` matches within one path segment,
   * `**` across segments (`docker.io/library/*`, `ghcr.io/acme/**`). Empty: none but `always`.
   */
  allow: string[];
  /** References always allowed (the runner image). */
  always?: string[];
  /** Credentials per registry host, from `loadRegistryAuth`. */
  auth?: Record<string, RegistryAuth>;
  /** Largest image allowed, bytes (on disk once pulled; compressed layers while pulling). */
  maxBytes?: number;
}

export interface RegistryAuth {
  username?: string;
  password?: string;
  identitytoken?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Parse an image reference as Docker does (Docker Hub by default, `library/` for official images). */
export function parseImageRef(input: string): ImageRef {
  const text = input.trim();
  const bad = (why: string) =>
    new Error(`invalid image reference ${JSON.stringify(input)}: ${why}`);
  if (!text || text.length > 512) throw bad("empty or too long");
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad("a digest must be sha256:<64 hex>");
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad("invalid tag");
  }
  const parts = rest.split("/");
  let registry = "docker.io";
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = first;
    parts.shift();
    if (!/^[a-zA-Z0-9.-]+(:\d{1,5})?$/.test(registry)) throw bad("invalid registry host");
  }
  if (registry === "index.docker.io") registry = "docker.io";
  if (registry === "docker.io" && parts.length === 1) parts.unshift("library");
  if (parts.length === 0 || !parts.every((p) => COMPONENT.test(p)))
    throw bad("repository names are lowercase letters, digits and separators");
  const repository = parts.join("/");
  const name = `${registry}/${repository}`;
  const shortName =
    registry === "docker.io"
      ? repository.startsWith("library/")
        ? repository.slice("library/".length)
        : repository
      : name;
  if (!tag && !digest) tag = "latest";
  const canonical = `${name}${tag ? `:${tag}` : ""}${digest ? `@${digest}` : ""}`;
  return { registry, repository, tag, digest, name, shortName, canonical };
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .split("**")
    .map((part) =>
      part
        .split("*")
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
        .join("[^/]*"),
    )
    .join(".*");
  return new RegExp(`^${escaped}$`);
}

/** Why the policy refuses `ref`, or null when it may be used. */
export function checkImagePolicy(policy: ImagePolicy, ref: ImageRef): string | null {
  const always = (policy.always ?? []).map((r) => {
    try {
      return parseImageRef(r).name;
    } catch {
      return r;
    }
  });
  if (always.includes(ref.name)) return null;
  if (policy.allow.some((p) => globToRegExp(p.trim()).test(ref.name))) return null;
  const allowed = policy.allow.length ? policy.allow.join(", ") : "none but the runner image";
  return `image ${ref.canonical} is not allowed on this runner (allowed: ${allowed}); ask the operator to add it to RUNNER_IMAGE_ALLOW`;
}

/**
 * Registry credentials from a Docker config file (`{"auths": {"host": {"auth": base64(user:pass)}}}`,
 * or `username`/`password`/`identitytoken` fields). Never logged.
 */
export function loadRegistryAuth(file: string): Record<string, RegistryAuth> {
  let parsed: { auths?: Record<string, Record<string, string>> };
  try {
    parsed = JSON.parse(readFileSync(file, "utf8")) as typeof parsed;
  } catch (err) {
    throw new Error(`registry credentials ${file}: ${(err as Error).message}`);
  }
  const out: Record<string, RegistryAuth> = {};
  for (const [host, entry] of Object.entries(parsed.auths ?? {})) {
    const key = host.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
    const registry = key === "index.docker.io" ? "docker.io" : key;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
      const sep = decoded.indexOf(":");
      if (sep < 0)
        throw new Error(`registry credentials ${file}: the entry for ${host} is not user:password`);
      out[registry] = { username: decoded.slice(0, sep), password: decoded.slice(sep + 1) };
    } else if (entry.identitytoken) {
      out[registry] = { identitytoken: entry.identitytoken };
    } else if (entry.username || entry.password) {
      out[registry] = { username: entry.username, password: entry.password };
    }
  }
  return out;
}

/** The policy from the runner settings (RUNNER_IMAGE_ALLOW, RUNNER_REGISTRY_AUTH_FILE, RUNNER_IMAGE_MAX_MB). */
export function imagePolicyFrom(settings: {
  RUNNER_IMAGE: string;
  RUNNER_IMAGE_ALLOW: string[];
  RUNNER_REGISTRY_AUTH_FILE?: string;
  RUNNER_IMAGE_MAX_MB: number;
}): ImagePolicy {
  return {
    allow: settings.RUNNER_IMAGE_ALLOW,
    always: [settings.RUNNER_IMAGE],
    auth: settings.RUNNER_REGISTRY_AUTH_FILE
      ? loadRegistryAuth(settings.RUNNER_REGISTRY_AUTH_FILE)
      : undefined,
    maxBytes: settings.RUNNER_IMAGE_MAX_MB * 1024 * 1024,
  };
}
