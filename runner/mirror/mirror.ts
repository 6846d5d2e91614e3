// The per-host repository mirror cache: one Docker volume per repository holding a bare mirror.
//
// A short-lived fetch container creates or refreshes it (fetch, never a fresh clone) and, in the
// same run, resolves the good and bad revisions and lists the commit graph of `bad ^good`. It is
// the only container with network access and the only one that receives the clone credential:
// through the environment, as an Authorization header git sends to the source's origin from the
// first request on (never written to disk, never on a command line, never printed). Step containers mount the volume read-only.
import { createHash } from "node:crypto";
import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import { describeDockerError, statusOf } from "../docker/connect";
import type { CommitGraph } from "../engine/types";
import { APP_LABEL, MIRROR_LABEL } from "../labels";
import { InfrastructureError } from "../errors";
import { parseRevListParents } from "../git/graph";
import { refProblem } from "../git/refs";

export { MIRROR_LABEL };

export type MirrorSource =
  /** A git URL (https://…, no credentials in it) and an optional credential for it. */
  | { kind: "url"; url: string; username?: string; password?: string }
  /** A repository directory on the engine's own machine (trusted local use), mounted read-only. */
  | { kind: "host-path"; path: string };

export interface RefreshOptions {
  volume: string;
  source: MirrorSource;
  image: string;
  /** Network mode of the fetch container ("bridge" in production; "host" to reach a loopback server). */
  network: string;
  /** Resolve these and list `bad ^good`; omit both to only refresh. */
  good?: string;
  bad?: string;
  firstParent?: boolean;
  pathspec?: string[];
  labels?: Record<string, string>;
  timeoutMs?: number;
  /** Refuse a range of more commits than this (counted before the graph is listed); 0: any. */
  maxCommits?: number;
  /** Refuse a mirror larger than this many bytes after fetching; 0: any. */
  maxMirrorBytes?: number;
  /** The remote's refs are what the mirror already holds: no `git fetch` (an empty mirror is fetched all the same). */
  skipFetch?: boolean;
  signal?: AbortSignal;
}

export interface RefreshResult {
  graph: CommitGraph | null;
  sizeBytes: number;
  durationMs: number;
}

/** The range or the repository is larger than the operator allows: refused, not retried. */
export class RangeRefusedError extends Error {
  override name = "RangeRefusedError";
}

/** A ref the repository does not have: the requester's mistake, not the infrastructure's. */
export class UnknownRefError extends Error {
  override name = "UnknownRefError";
  constructor(readonly ref: string) {
    super(`the repository has no revision named ${JSON.stringify(ref)}`);
  }
}

/** The volume holding one repository's mirror; the same repository key gives the same name on every host. */
export function mirrorVolumeName(repoKey: string): string {
  return `bisect-mirror-${createHash("sha256").update(repoKey).digest("hex").slice(0, 24)}`;
}

// $1 good, $2 bad, $3 first-parent (0/1), $4 most commits (0: any), $5 most mirror bytes (0: any);
// pathspec after. Markers on stdout: @@good, @@bad, @@graph … @@end, @@size; on stderr
// @@unknown-ref on a bad revision (exit 3), @@too-many N when the range holds more commits than
// allowed — counted before anything is listed (exit 4), @@too-large N for a mirror over its cap
// (exit 5).
const FETCH_SCRIPT = `
set -eu
cd /cache
[ -f HEAD ] || git init -q --bare .
git config remote.origin.url "$BISECT_SOURCE"
git config --replace-all remote.origin.fetch '+refs/heads/*:refs/heads/*'
git config --add remote.origin.fetch '+refs/tags/*:refs/tags/*'
if [ -z "\${BISECT_SKIP_FETCH:-}" ] || [ -z "$(git for-each-ref --count=1)" ]; then
  git fetch -q --prune --force origin
fi
good=$1 bad=$2 fp=$3 maxcommits=$4 maxbytes=$5
shift 5
size=$(du -sb /cache | cut -f1)
if [ "$maxbytes" -gt 0 ] && [ "$size" -gt "$maxbytes" ]; then echo "@@too-large $size" >&2; exit 5; fi
resolve() {
  git rev-parse -q --verify "$1^{commit}" 2>/dev/null && return 0
  # A commit no branch or tag names (e.g. from a pull request): ask for it by sha.
  case "$1" in *[!0-9a-fA-F]*) ;; *) git fetch -q origin "$1" 2>/dev/null && git rev-parse -q --verify "$1^{commit}" 2>/dev/null && return 0 ;; esac
  echo "@@unknown-ref $1" >&2
  exit 3
}
if [ -n "$good" ]; then
  g=$(resolve "$good"); b=$(resolve "$bad")
  if [ "$fp" = 1 ]; then n=$(git rev-list --count --first-parent "$b" "^$g" -- "$@"); else n=$(git rev-list --count "$b" "^$g" -- "$@"); fi
  if [ "$maxcommits" -gt 0 ] && [ "$n" -gt "$maxcommits" ]; then echo "@@too-many $n" >&2; exit 4; fi
  echo "@@good $g"; echo "@@bad $b"; echo "@@graph"
  if [ "$fp" = 1 ]; then git rev-list --parents --first-parent "$b" "^$g" -- "$@"; else git rev-list --parents "$b" "^$g" -- "$@"; fi
  echo "@@end"
fi
echo "@@size $size"
`;

/**
 * The credential as an Authorization header git sends with its first request to the source's
 * origin (and only there). A credential helper would be asked only after an anonymous request
 * was refused: one request more, and one the server logs as unauthenticated.
 */
export function credentialHeader(
  url: string,
  username: string,
  password: string,
): { key: string; value: string; secret: string } {
  const secret = Buffer.from(`${username}:${password}`).toString("base64");
  return {
    key: `http.${new URL(url).origin}/.extraHeader`,
    value: `Authorization: Basic ${secret}`,
    secret,
  };
}

export async function refreshMirror(
  docker: Docker,
  options: RefreshOptions,
): Promise<RefreshResult> {
  for (const ref of [options.good, options.bad]) {
    if (ref !== undefined) {
      const problem = refProblem(ref);
      if (problem) throw new UnknownRefError(ref);
    }
  }
  const { source } = options;
  const env = ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "GIT_TERMINAL_PROMPT=0"];
  const mounts: Docker.MountSettings[] = [
    { Type: "volume", Source: options.volume, Target: "/cache" },
  ];
  if (source.kind === "url") {
    if (/^[a-z+]+:\/\/[^/]*@/i.test(source.url))
      throw new Error("the mirror URL must not carry credentials; pass them separately");
    env.push(`BISECT_SOURCE=${source.url}`);
    if (source.password !== undefined) {
      // Through the environment (never argv, never a file); git does not print extra headers.
      const header = credentialHeader(
        source.url,
        source.username ?? "x-access-token",
        source.password,
      );
      env.push(
        "GIT_CONFIG_COUNT=1",
        `GIT_CONFIG_KEY_0=${header.key}`,
        `GIT_CONFIG_VALUE_0=${header.value}`,
      );
    }
  } else {
    env.push("BISECT_SOURCE=/source");
    mounts.push({ Type: "bind", Source: source.path, Target: "/source", ReadOnly: true });
  }

  if (options.skipFetch) env.push("BISECT_SKIP_FETCH=1");
  await ensureVolume(docker, options.volume);
  const started = Date.now();
  let container: Docker.Container | undefined;
  try {
    container = await docker.createContainer({
      Image: options.image,
      Entrypoint: [],
      Cmd: [
        "sh",
        "-c",
        FETCH_SCRIPT,
        "bisect-fetch",
        options.good ?? "",
        options.bad ?? "",
        options.firstParent ? "1" : "0",
        String(options.maxCommits ?? 0),
        String(options.maxMirrorBytes ?? 0),
        ...(options.pathspec ?? []),
      ],
      // Root without capabilities: it owns the (root-owned) volume and can do nothing else of note.
      User: "0:0",
      Env: env,
      Labels: { ...options.labels, ...APP_LABEL, [MIRROR_LABEL]: options.volume },
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: {
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        ReadonlyRootfs: true,
        Tmpfs: { "/tmp": "rw,nosuid,nodev,size=67108864" },
        Mounts: mounts,
        NetworkMode: source.kind === "url" ? options.network : "none",
        Memory: 2 * 1024 * 1024 * 1024,
        MemorySwap: 2 * 1024 * 1024 * 1024,
        PidsLimit: 256,
      },
    });
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    stdout.on("data", (c: Buffer) => out.push(c));
    stderr.on("data", (c: Buffer) => err.push(c));
    docker.modem.demuxStream(stream, stdout, stderr);
    const ended = new Promise<void>((resolve) => stream.once("end", () => resolve()));
    const exited = container.wait({ condition: "next-exit" }) as Promise<{ StatusCode: number }>;
    // Awaited below; marked handled now so a failed start (host lost) cannot leave it unhandled.
    exited.catch(() => {});
    await container.start();

    const kill = () => container?.kill({ signal: "SIGKILL" }).catch(() => {});
    const timer = setTimeout(kill, options.timeoutMs ?? 15 * 60_000);
    options.signal?.addEventListener("abort", kill, { once: true });
    let status: number;
    try {
      status = (await exited).StatusCode;
      await Promise.race([ended, new Promise((r) => setTimeout(r, 2_000))]);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", kill);
    }
    if (options.signal?.aborted) throw new InfrastructureError("mirror refresh aborted");
    const text = Buffer.concat(out).toString("utf8");
    const unknown = /^@@unknown-ref (.*)$/m.exec(Buffer.concat(err).toString("utf8"));
    if (status === 3 && unknown) throw new UnknownRefError(unknown[1]!);
    const stderrText = Buffer.concat(err).toString("utf8");
    const tooMany = /^@@too-many (\d+)$/m.exec(stderrText);
    if (status === 4 && tooMany) {
      throw new RangeRefusedError(
        `the range holds ${Number(tooMany[1]).toLocaleString("en-US")} commits, more than the ${options.maxCommits!.toLocaleString("en-US")} allowed here: give a later good revision or an earlier bad one (or a pathspec in .github/bisect.yml)`,
      );
    }
    const tooLarge = /^@@too-large (\d+)$/m.exec(stderrText);
    if (status === 5 && tooLarge) {
      const mib = (n: number) => `${Math.round(n / 1024 / 1024).toLocaleString("en-US")} MiB`;
      throw new RangeRefusedError(
        `the repository takes ${mib(Number(tooLarge[1]))}, more than the ${mib(options.maxMirrorBytes!)} allowed here`,
      );
    }
    if (status !== 0) {
      const tail = scrub(Buffer.concat(err).toString("utf8"), source)
        .trim()
        .split("\n")
        .slice(-5)
        .join(" | ");
      throw new InfrastructureError(
        `mirror refresh failed (exit ${status}): ${tail || "no output"}`,
      );
    }
    return {
      graph: parseFetchOutput(text),
      sizeBytes: Number(/^@@size (\d+)/m.exec(text)?.[1] ?? 0),
      durationMs: Date.now() - started,
    };
  } catch (error) {
    if (
      error instanceof UnknownRefError ||
      error instanceof RangeRefusedError ||
      error instanceof InfrastructureError
    )
      throw error;
    throw new InfrastructureError(
      `mirror refresh failed: ${scrub(describeDockerError(error), source)}`,
    );
  } finally {
    await container?.remove({ force: true, v: false }).catch(() => {});
  }
}

/** Parses the fetch container's markers into the commit graph (null when no range was asked for). */
export function parseFetchOutput(text: string): CommitGraph | null {
  const good = /^@@good ([0-9a-f]{40})$/m.exec(text)?.[1];
  const bad = /^@@bad ([0-9a-f]{40})$/m.exec(text)?.[1];
  if (!good || !bad) return null;
  const start = text.indexOf("@@graph\n");
  const end = text.indexOf("@@end", start);
  if (start < 0 || end < 0) throw new InfrastructureError("mirror refresh printed no commit graph");
  return { good, bad, commits: parseRevListParents(text.slice(start + "@@graph\n".length, end)) };
}

function scrub(text: string, source: MirrorSource): string {
  if (source.kind !== "url" || !source.password) return text;
  const { secret } = credentialHeader(
    source.url,
    source.username ?? "x-access-token",
    source.password,
  );
  return text.split(source.password).join("[redacted]").split(secret).join("[redacted]");
}

async function ensureVolume(docker: Docker, name: string): Promise<void> {
  try {
    await docker.getVolume(name).inspect();
  } catch (error) {
    if (statusOf(error) !== 404)
      throw new InfrastructureError(`volume ${name}: ${describeDockerError(error)}`);
    await docker.createVolume({ Name: name, Labels: { ...APP_LABEL, [MIRROR_LABEL]: name } });
  }
}

/** Whether the mirror's volume is on the engine, made by us (not an empty one a mount created). */
export async function mirrorVolumeExists(docker: Docker, volume: string): Promise<boolean> {
  try {
    const info = (await docker.getVolume(volume).inspect()) as { Labels?: Record<string, string> };
    return info.Labels?.[MIRROR_LABEL] === volume;
  } catch (error) {
    if (statusOf(error) === 404) return false;
    throw new InfrastructureError(`volume ${volume}: ${describeDockerError(error)}`);
  }
}

/** Removes a mirror volume. Returns false when it is in use (a step still mounts it). */
export async function removeMirror(docker: Docker, volume: string): Promise<boolean> {
  try {
    await docker.getVolume(volume).remove();
    return true;
  } catch (error) {
    const status = statusOf(error);
    if (status === 404) return true;
    if (status === 409) return false;
    throw new InfrastructureError(`removing ${volume}: ${describeDockerError(error)}`);
  }
}
