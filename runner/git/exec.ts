// Running git: always `execFile` with an argument array (no shell), a large output buffer,
// and an error that says which git command failed and what git printed.
import { execFile } from "node:child_process";

/** Output of `git rev-list` on a large range can be tens of megabytes. */
const MAX_BUFFER = 512 * 1024 * 1024;

export class GitError extends Error {
  override name = "GitError";
  constructor(
    message: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export interface GitOptions {
  /** Working directory (a repository or a git dir). */
  cwd?: string;
  signal?: AbortSignal;
  /** Extra environment (merged over process.env). */
  env?: Record<string, string>;
}

/**
 * Run `git <args>` and resolve with its stdout. Rejects with a GitError carrying git's stderr.
 * Interactive prompts are disabled: a clone that needs a password fails instead of hanging.
 */
export function git(args: readonly string[], options: GitOptions = {}): Promise<string> {
  return run(args, options, "utf8");
}

/** `git` with stdout as bytes: for large machine-readable output parsed without a string. */
export function gitBytes(args: readonly string[], options: GitOptions = {}): Promise<Buffer> {
  return run(args, options, "buffer");
}

function run<T extends string | Buffer>(
  args: readonly string[],
  options: GitOptions,
  encoding: T extends string ? "utf8" : "buffer",
): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      args as string[],
      {
        cwd: options.cwd,
        maxBuffer: MAX_BUFFER,
        encoding,
        signal: options.signal,
        env: {
          ...process.env,
          GIT_TERMINAL_PROMPT: "0",
          GIT_ASKPASS: "",
          SSH_ASKPASS: "",
          LC_ALL: "C",
          ...options.env,
        },
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve(stdout as T);
          return;
        }
        const code =
          typeof (error as { code?: unknown }).code === "number"
            ? (error as { code: number }).code
            : null;
        const detail = (String(stderr) || error.message).trim().split("\n").slice(-5).join("\n");
        reject(
          new GitError(`git ${subcommand(args)} failed: ${detail}`, args, code, String(stderr)),
        );
      },
    );
  });
}

/** The git subcommand in `args`, past global options such as `-c name=value` and `-C dir`. */
function subcommand(args: readonly string[]): string {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "-c" || arg === "-C") i++;
    else if (!arg.startsWith("-")) return arg;
  }
  return "";
}
