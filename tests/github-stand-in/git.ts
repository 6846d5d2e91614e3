// Git access for the stand-in: metadata and file contents read from repositories on disk, and the
// smart-HTTP protocol served by `git http-backend` as a CGI program.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface GitEnvironment {
  env: NodeJS.ProcessEnv;
  dispose(): void;
}

/**
 * A hermetic environment for the git commands the stand-in runs: no system or user config, any
 * directory trusted (test repositories may belong to another uid), and upload-pack behaving as
 * GitHub's does (fetch of reachable SHAs, partial clone filters).
 */
export function gitEnvironment(): GitEnvironment {
  const dir = mkdtempSync(join(tmpdir(), "gh-stand-in-git-"));
  const config = join(dir, "gitconfig");
  writeFileSync(
    config,
    [
      "[safe]",
      "\tdirectory = *",
      "[uploadpack]",
      "\tallowReachableSHA1InWant = true",
      "\tallowFilter = true",
      "[http]",
      "\treceivepack = false",
      "",
    ].join("\n"),
  );
  const env: NodeJS.ProcessEnv = {
    NODE_ENV: process.env.NODE_ENV ?? "test",
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: config,
    GIT_LITERAL_PATHSPECS: "1",
    GIT_TERMINAL_PROMPT: "0",
    LANG: "C",
  };
  return { env, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

export function runGit(
  repoPath: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "git",
      ["-C", repoPath, ...args],
      { env, encoding: "buffer", maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr: stderr.toString("utf8") });
      },
    );
  });
}

/** The full SHA of the commit a ref (branch, tag, SHA, `HEAD~2`) names, or null. */
export async function resolveCommit(
  repoPath: string,
  ref: string,
  env: NodeJS.ProcessEnv,
): Promise<string | null> {
  if (ref.startsWith("-")) return null;
  const r = await runGit(
    repoPath,
    ["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`],
    env,
  );
  const sha = r.stdout.toString("utf8").trim();
  return r.code === 0 && /^[0-9a-f]{40}$/.test(sha) ? sha : null;
}

export interface CommitInfo {
  sha: string;
  tree: string;
  parents: string[];
  authorName: string;
  authorEmail: string;
  authorDate: string;
  committerName: string;
  committerEmail: string;
  committerDate: string;
  message: string;
}

export async function commitInfo(
  repoPath: string,
  sha: string,
  env: NodeJS.ProcessEnv,
): Promise<CommitInfo | null> {
  const format = ["%H", "%T", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%B"].join("%x00");
  const r = await runGit(repoPath, ["log", "-1", `--format=${format}`, sha, "--"], env);
  if (r.code !== 0) return null;
  const [h, t, p, an, ae, ad, cn, ce, cd, ...body] = r.stdout.toString("utf8").split("\0");
  if (!h || !t) return null;
  return {
    sha: h.trim(),
    tree: t,
    parents: (p ?? "").split(" ").filter(Boolean),
    authorName: an ?? "",
    authorEmail: ae ?? "",
    authorDate: ad ?? "",
    committerName: cn ?? "",
    committerEmail: ce ?? "",
    committerDate: cd ?? "",
    // %B ends with the newline git log adds after each record; GitHub's message has none.
    message: body.join("\0").replace(/\n+$/, ""),
  };
}

export interface TreeEntry {
  mode: string;
  type: "blob" | "tree" | "commit";
  sha: string;
  size: number | null;
  path: string;
}

async function lsTree(
  repoPath: string,
  treeish: string,
  path: string | null,
  env: NodeJS.ProcessEnv,
) {
  const args = ["ls-tree", "-z", "-l", treeish];
  if (path !== null) args.push("--", path);
  const r = await runGit(repoPath, args, env);
  if (r.code !== 0) return null;
  const entries: TreeEntry[] = [];
  for (const record of r.stdout.toString("utf8").split("\0")) {
    const m = /^(\d+) (blob|tree|commit) ([0-9a-f]+)\s+(-|\d+)\t(.*)$/s.exec(record);
    if (!m) continue;
    entries.push({
      mode: m[1]!,
      type: m[2] as TreeEntry["type"],
      sha: m[3]!,
      size: m[4] === "-" ? null : Number(m[4]),
      path: m[5]!,
    });
  }
  return entries;
}

export type PathContent =
  | { kind: "file"; entry: TreeEntry; content: Buffer }
  | { kind: "symlink"; entry: TreeEntry; target: string }
  | { kind: "submodule"; entry: TreeEntry }
  | { kind: "dir"; path: string; entries: TreeEntry[] };

/** What `path` is at commit `sha`: a file with its bytes, a directory listing, or null when missing. */
export async function readPath(
  repoPath: string,
  sha: string,
  path: string,
  env: NodeJS.ProcessEnv,
): Promise<PathContent | null> {
  const clean = path.replace(/^\/+|\/+$/g, "");
  if (clean === "") {
    const entries = await lsTree(repoPath, sha, null, env);
    return entries ? { kind: "dir", path: "", entries } : null;
  }
  const found = (await lsTree(repoPath, sha, clean, env))?.find((e) => e.path === clean);
  if (!found) return null;
  if (found.type === "tree") {
    const entries = await lsTree(repoPath, sha, `${clean}/`, env);
    return entries ? { kind: "dir", path: clean, entries } : null;
  }
  if (found.type === "commit") return { kind: "submodule", entry: found };
  const blob = await runGit(repoPath, ["cat-file", "blob", found.sha], env);
  if (blob.code !== 0) return null;
  if (found.mode === "120000")
    return { kind: "symlink", entry: found, target: blob.stdout.toString("utf8") };
  return { kind: "file", entry: found, content: blob.stdout };
}

/**
 * Serve one smart-HTTP request (`/info/refs` or `/git-upload-pack`) for the repository at
 * `repoPath` by running `git http-backend` as a CGI program: the request body is streamed to its
 * stdin, its CGI headers are parsed and the rest is streamed back.
 */
export function serveHttpBackend(
  req: IncomingMessage,
  res: ServerResponse,
  opts: {
    repoPath: string;
    pathInfo: string;
    query: string;
    env: NodeJS.ProcessEnv;
    remoteUser?: string;
  },
): Promise<void> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = {
      ...opts.env,
      GIT_PROJECT_ROOT: opts.repoPath,
      GIT_HTTP_EXPORT_ALL: "1",
      PATH_INFO: opts.pathInfo,
      REQUEST_METHOD: req.method ?? "GET",
      QUERY_STRING: opts.query,
      CONTENT_TYPE: req.headers["content-type"] ?? "",
      REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
      REMOTE_USER: opts.remoteUser ?? "",
      SERVER_PROTOCOL: "HTTP/1.1",
      GATEWAY_INTERFACE: "CGI/1.1",
    };
    if (req.headers["content-length"] !== undefined)
      env.CONTENT_LENGTH = req.headers["content-length"];
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || name === "authorization") continue;
      env[`HTTP_${name.toUpperCase().replace(/-/g, "_")}`] = Array.isArray(value)
        ? value.join(", ")
        : value;
    }
    const protocol = req.headers["git-protocol"];
    if (typeof protocol === "string") env.GIT_PROTOCOL = protocol;

    const child = spawn("git", ["http-backend"], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    child.stdin.on("error", () => {
      /* the backend may stop reading early (e.g. on a bad request); its answer still comes */
    });
    req.pipe(child.stdin);
    req.on("aborted", () => child.kill("SIGKILL"));
    res.on("close", () => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });

    let head = Buffer.alloc(0);
    let headersDone = false;
    child.stdout.on("data", (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const crlf = head.indexOf("\r\n\r\n");
      const lf = head.indexOf("\n\n");
      let end = -1;
      let sepLen = 0;
      if (crlf !== -1 && (lf === -1 || crlf < lf)) [end, sepLen] = [crlf, 4];
      else if (lf !== -1) [end, sepLen] = [lf, 2];
      if (end === -1) return;
      headersDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString("latin1").split(/\r?\n/)) {
        const i = line.indexOf(":");
        if (i <= 0) continue;
        const name = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (name.toLowerCase() === "status") status = Number.parseInt(value, 10) || 200;
        else res.setHeader(name, value);
      }
      res.statusCode = status;
      const rest = head.subarray(end + sepLen);
      if (rest.length > 0) res.write(rest);
    });
    child.on("close", (code) => {
      if (!headersDone) {
        if (!res.headersSent) {
          res.statusCode = 500;
          res.setHeader("content-type", "text/plain");
          res.end(`git http-backend failed (exit ${code}): ${stderr}`);
        } else res.end();
      } else res.end();
      resolve();
    });
    child.on("error", (err) => {
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end(`could not run git http-backend: ${err.message}`);
      }
      resolve();
    });
  });
}
