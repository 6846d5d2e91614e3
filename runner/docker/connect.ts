// Connecting to a Docker engine from an endpoint string:
//
//   unix:///var/run/docker.sock         the local engine
//   tcp://host:2376  + TLS material     a remote engine, TLS with a client certificate
//   ssh://user@host[:port]              a remote engine over SSH (ssh-agent; the remote runs
//                                       `docker system dial-stdio`)
//
// Plain `tcp://` without TLS is refused for anything but loopback: a remote engine is root on its
// host, so it is only ever reached over TLS with client certificates or over SSH.
//
// Key material never appears in an error, a log line or on the returned object: TLS material is
// turned into a native secure context held by an https agent, so neither dockerode nor its
// debug output ever holds the PEM strings.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import path from "node:path";
import tls from "node:tls";
import Docker from "dockerode";
import { InfrastructureError } from "../errors";

/** TLS client material as PEM strings. */
export interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

export type Endpoint =
  | { kind: "unix"; socketPath: string }
  | { kind: "tcp"; host: string; port: number; tls: boolean }
  | { kind: "ssh"; host: string; port: number; username: string | undefined };

export interface ConnectOptions {
  /** TLS client material for `tcp://`: PEM strings, or a directory holding ca.pem, cert.pem, key.pem. */
  tls?: TlsMaterial | string;
  /** ssh: the agent socket (default `SSH_AUTH_SOCK`). */
  sshAgent?: string;
  /** ssh: a private key (PEM) instead of, or in addition to, the agent. */
  sshPrivateKey?: string;
  /**
   * ssh: the host key the engine's host must present, as OpenSSH prints its fingerprint
   * (`SHA256:…`). Required: a connection to any other key is refused. Only when a host is being
   * added may `{ capture }` take the place of a pin, to learn the key that is then pinned.
   */
  sshHostKey?: string | { capture: (fingerprint: string) => void };
  /** Pin the Docker API version (e.g. "v1.41"); default: the engine's. */
  apiVersion?: string;
}

export class EndpointError extends Error {
  override name = "EndpointError";
}

const DEFAULT_TLS_PORT = 2376;
const DEFAULT_PLAIN_PORT = 2375;

/** Parse an endpoint string. Throws EndpointError for anything malformed or unsupported. */
export function parseEndpoint(endpoint: string): Endpoint {
  const raw = endpoint.trim();
  if (raw.startsWith("unix://")) {
    const socketPath = raw.slice("unix://".length);
    if (!socketPath.startsWith("/"))
      throw new EndpointError(
        `unix endpoint needs an absolute socket path: ${redactEndpoint(raw)}`,
      );
    return { kind: "unix", socketPath };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new EndpointError(
      `not a Docker endpoint (expected unix://, tcp:// or ssh://): ${redactEndpoint(raw)}`,
    );
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host) throw new EndpointError(`endpoint has no host: ${redactEndpoint(raw)}`);
  if (url.pathname && url.pathname !== "/")
    throw new EndpointError(`endpoint must not have a path: ${redactEndpoint(raw)}`);
  const port = url.port ? Number(url.port) : undefined;
  switch (url.protocol) {
    case "tcp:":
      return { kind: "tcp", host, port: port ?? DEFAULT_TLS_PORT, tls: false };
    case "https:":
      return { kind: "tcp", host, port: port ?? DEFAULT_TLS_PORT, tls: true };
    case "http:":
      return { kind: "tcp", host, port: port ?? DEFAULT_PLAIN_PORT, tls: false };
    case "ssh:":
      if (url.password)
        throw new EndpointError(
          "ssh endpoints must not carry a password; use an ssh-agent or a key",
        );
      return {
        kind: "ssh",
        host,
        port: port ?? 22,
        username: url.username ? decodeURIComponent(url.username) : undefined,
      };
    default:
      throw new EndpointError(
        `unsupported endpoint scheme ${url.protocol} (expected unix://, tcp:// or ssh://)`,
      );
  }
}

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || h === "0:0:0:0:0:0:0:1" || /^::ffff:127\./.test(h);
  return false;
}

/** The endpoint with any user info removed, fit for logs. */
export function redactEndpoint(endpoint: string): string {
  return endpoint.replace(/^([a-z]+:\/\/)[^@/]*@/i, "$1");
}

/** Read ca.pem, cert.pem and key.pem from a directory. Errors name the file, never its content. */
export function loadTlsMaterial(dir: string): TlsMaterial {
  const read = (name: string): string => {
    const file = path.join(dir, name);
    if (!existsSync(file)) throw new EndpointError(`TLS material: ${file} does not exist`);
    if (!statSync(file).isFile()) throw new EndpointError(`TLS material: ${file} is not a file`);
    return readFileSync(file, "utf8");
  };
  return { ca: read("ca.pem"), cert: read("cert.pem"), key: read("key.pem") };
}

function resolveTls(material: TlsMaterial | string): TlsMaterial {
  const m = typeof material === "string" ? loadTlsMaterial(material) : material;
  for (const field of ["ca", "cert", "key"] as const) {
    if (typeof m[field] !== "string" || !m[field].includes("-----BEGIN")) {
      throw new EndpointError(`TLS material: ${field} is not a PEM string`);
    }
  }
  return m;
}

/** An https agent holding the client certificate as a native secure context (no PEM strings kept). */
function tlsAgent(material: TlsMaterial): https.Agent {
  let secureContext: tls.SecureContext;
  try {
    secureContext = tls.createSecureContext({
      ca: material.ca,
      cert: material.cert,
      key: material.key,
    });
  } catch (err) {
    // OpenSSL's message names the problem (bad decrypt, no start line…), not the key.
    throw new EndpointError(`TLS material rejected: ${(err as Error).message}`);
  }
  return new https.Agent({ keepAlive: true, secureContext, rejectUnauthorized: true });
}

/**
 * A dockerode client for the endpoint. Does not contact the engine (see `pingEngine`).
 * Settings from the process environment (DOCKER_HOST, DOCKER_CERT_PATH, DOCKER_CLIENT_TIMEOUT)
 * are ignored: the endpoint and options are the whole truth.
 */
export function connectDocker(endpoint: string, options: ConnectOptions = {}): Docker {
  const ep = parseEndpoint(endpoint);
  // Every field dockerode's modem would otherwise take from the environment is set explicitly.
  const base = {
    socketPath: undefined,
    host: undefined,
    port: undefined,
    protocol: undefined,
    ca: undefined,
    cert: undefined,
    key: undefined,
    timeout: undefined,
    version: options.apiVersion,
    pathPrefix: "/",
  } as Record<string, unknown>;
  switch (ep.kind) {
    case "unix":
      if (options.tls) throw new EndpointError("TLS material given for a unix socket endpoint");
      return new Docker({
        ...base,
        socketPath: ep.socketPath,
        agent: new http.Agent({ keepAlive: true }),
      } as Docker.DockerOptions);
    case "tcp": {
      if (!options.tls) {
        if (ep.tls)
          throw new EndpointError(`${redactEndpoint(endpoint)} needs TLS material (ca, cert, key)`);
        if (!isLoopbackHost(ep.host)) {
          throw new EndpointError(
            `refusing plain tcp to ${ep.host}: a remote Docker engine is reached only over TLS with client certificates, or ssh://`,
          );
        }
        return new Docker({
          ...base,
          host: ep.host,
          port: ep.port,
          protocol: "http",
          agent: new http.Agent({ keepAlive: true }),
        } as Docker.DockerOptions);
      }
      return new Docker({
        ...base,
        host: ep.host,
        port: ep.port,
        protocol: "https",
        agent: tlsAgent(resolveTls(options.tls)),
      } as Docker.DockerOptions);
    }
    case "ssh": {
      if (options.tls) throw new EndpointError("TLS material given for an ssh endpoint");
      const agent = options.sshAgent ?? process.env.SSH_AUTH_SOCK;
      if (!agent && !options.sshPrivateKey) {
        throw new EndpointError(
          `${redactEndpoint(endpoint)} needs an ssh-agent (SSH_AUTH_SOCK) or a private key`,
        );
      }
      const pin = options.sshHostKey;
      if (!pin) {
        throw new EndpointError(
          `${redactEndpoint(endpoint)} needs a pinned host key (SHA256:… as \`ssh-keygen -lf\` prints it)`,
        );
      }
      if (typeof pin === "string" && !SSH_FINGERPRINT.test(pin))
        throw new EndpointError(`not an ssh host key fingerprint (SHA256:…): ${pin}`);
      const sshOptions = {
        agent,
        privateKey: options.sshPrivateKey,
        // ssh2 hands over the raw host key (no hostHash set); false ends the connection.
        hostVerifier: (key: Buffer) => {
          const seen = sshFingerprint(key);
          if (typeof pin === "string") return seen === pin;
          pin.capture(seen);
          return true;
        },
      };
      const docker = new Docker({
        ...base,
        host: ep.host,
        port: ep.port,
        protocol: "ssh",
        username: ep.username,
        sshOptions,
      } as Docker.DockerOptions);
      // The modem merges ssh options from DOCKER_HOST over the given ones; ours win.
      (docker.modem as { sshOptions?: unknown }).sshOptions = sshOptions;
      return docker;
    }
  }
}

const SSH_FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** A host key's fingerprint as OpenSSH prints it: `SHA256:` and the unpadded base64 digest. */
export function sshFingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/** Reject with an InfrastructureError unless the engine answers `/_ping` within `timeoutMs`. */
export async function pingEngine(
  docker: Docker,
  timeoutMs = 5_000,
  label = "Docker engine",
): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    await (docker.ping as (opts: { abortSignal: AbortSignal }) => Promise<unknown>).call(docker, {
      abortSignal: signal,
    });
  } catch (err) {
    const why = signal.aborted ? `no answer within ${timeoutMs} ms` : describeDockerError(err);
    throw new InfrastructureError(`${label} unreachable: ${why}`);
  }
}

/** A short, secret-free description of an error from dockerode or the transport. */
export function describeDockerError(err: unknown): string {
  if (err && typeof err === "object") {
    const e = err as {
      statusCode?: number;
      json?: unknown;
      code?: string;
      message?: string;
      reason?: string;
    };
    if (typeof e.statusCode === "number") {
      const json = e.json as { message?: string } | undefined;
      const message =
        json && typeof json === "object" && typeof json.message === "string"
          ? json.message
          : e.reason;
      return `HTTP ${e.statusCode}: ${(message ?? e.message ?? "").trim()}`;
    }
    if (e.code) return `${e.code}${e.message ? ` (${e.message})` : ""}`;
    if (e.message) return e.message;
  }
  return String(err);
}

/** The HTTP status of a dockerode error, if it carries one. */
export function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === "number" ? s : undefined;
}
