// A repository to bisect: a local path (used as-is) or a git URL (cloned as a mirror into a temp dir).
import { chmod, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { git } from "./exec";

export interface PreparedRepo {
  /** Absolute path of the repository (work tree or bare git dir), readable by any user. */
  path: string;
  /** The git directory (`.git` of a work tree, or the bare repository itself). */
  gitDir: string;
  /** True when the repository was cloned from a URL into a temp dir. */
  cloned: boolean;
  /** Removes the temp clone (no-op for a local path). Idempotent. */
  cleanup(): Promise<void>;
}

export interface PrepareOptions {
  /** Parent directory of the temp clone (default: the OS temp dir). */
  tmpRoot?: string;
  signal?: AbortSignal;
}

/**
 * Whether `source` is a git URL rather than a local path: `scheme://…` or scp-like `user@host:path`.
 * `file://` counts as a URL (it is cloned).
 */
export function isGitUrl(source: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return true;
  // A remote helper (`transport::address`) is a URL too — and refused by `urlProblem`.
  if (/^[a-z][a-z0-9+.-]*::/i.test(source)) return true;
  // scp-like syntax: [user@]host:path, where the part before ':' has no '/'.
  return /^[^/:\s]+@[^/:\s]+:/.test(source);
}

/** Transports accepted for URLs; `ext::` and other remote helpers are refused. */
const ALLOWED_SCHEMES = new Set(["https", "http", "ssh", "git", "file"]);

export function urlProblem(url: string): string | null {
  if (url.startsWith("-")) return "starts with '-'";
  const helper = /^([a-z][a-z0-9+.-]*)::/i.exec(url)?.[1];
  if (helper !== undefined) return `uses the unsupported transport '${helper}::'`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f]/.test(url)) return "contains whitespace or control characters";
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined && !ALLOWED_SCHEMES.has(scheme))
    return `uses the unsupported transport '${scheme}'`;
  return null;
}

/**
 * Prepare the repository named by `source`.
 * - A local path must be a git repository (work tree or bare); it is used in place, never modified.
 * - A URL is cloned with `git clone --mirror` into a fresh temp dir (mode 0755 so a non-root
 *   container user can read it); call `cleanup()` when done.
 */
export async function prepareRepo(
  source: string,
  options: PrepareOptions = {},
): Promise<PreparedRepo> {
  if (isGitUrl(source)) {
    const problem = urlProblem(source);
    if (problem) throw new Error(`invalid repository URL: it ${problem}`);
    const dir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), "bisect-repo-"));
    const cleanup = once(() => rm(dir, { recursive: true, force: true }));
    try {
      await chmod(dir, 0o755);
      const path = join(dir, "mirror.git");
      await git(
        [
          "-c",
          "protocol.ext.allow=never",
          "clone",
          "--mirror",
          "--quiet",
          "--no-hardlinks",
          "--",
          source,
          path,
        ],
        { signal: options.signal },
      );
      await chmod(path, 0o755);
      return { path, gitDir: path, cloned: true, cleanup };
    } catch (error) {
      await cleanup();
      throw error;
    }
  }
  if (source.startsWith("-")) throw new Error("invalid repository path: it starts with '-'");
  const path = resolve(source);
  const info = await stat(path).catch(() => null);
  if (!info?.isDirectory()) throw new Error(`repository not found: ${path} is not a directory`);
  let gitDir: string;
  try {
    gitDir = (
      await git(["rev-parse", "--absolute-git-dir"], { cwd: path, signal: options.signal })
    ).trim();
  } catch {
    throw new Error(`not a git repository: ${path}`);
  }
  return { path, gitDir, cloned: false, cleanup: async () => {} };
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}

/**
 * The first directory on the way to `path` (itself included) that `uid`/`gid` — the containers'
 * user — cannot enter and read, or null when it can. A 0700 temp dir or home directory is typical.
 */
export async function unreadableBy(path: string, uid = 1000, gid = 1000): Promise<string | null> {
  const parts = resolve(path).split("/").filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const dir = `/${parts.slice(0, i).join("/")}`;
    const info = await stat(dir).catch(() => null);
    if (!info) return dir;
    const bits = info.uid === uid ? info.mode >> 6 : info.gid === gid ? info.mode >> 3 : info.mode;
    const need = i === parts.length ? 0o5 : 0o1;
    if ((bits & need) !== need) return dir;
  }
  return null;
}
