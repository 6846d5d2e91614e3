// The reference: real `git bisect run` on a repository, in a throwaway clone.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { git } from "../../../runner/git/exec";

export interface GitBisectResult {
  /** The sha git calls "the first bad commit", if it found one. */
  culprit: string | null;
  /** With skipped commits: "The first bad commit could be any of" (sorted); else [culprit]. */
  candidates: string[];
  /** Wall time of `git bisect run` alone (the clone and setup excluded), ms. */
  wallMs: number;
  /** Commits git tested (lines "running …" in its output). */
  steps: number;
  output: string;
}

export async function gitBisect(
  repo: string,
  good: string,
  bad: string,
  predicate: string,
  options: {
    firstParent?: boolean;
    /**
     * Bisect in this clone and keep it (made when missing; a bisection left in it is reset first),
     * so what the predicate leaves untracked there (a build directory) is there for the next one.
     */
    clone?: string;
  } = {},
): Promise<GitBisectResult> {
  const kept = options.clone;
  const work = kept ?? (await mkdtemp(join(tmpdir(), "bisect-ref-")));
  try {
    if (kept && existsSync(join(kept, ".git"))) await git(["bisect", "reset"], { cwd: kept });
    else await git(["clone", "--quiet", "--no-checkout", repo, work]);
    await git(["bisect", "start", ...(options.firstParent ? ["--first-parent"] : []), bad, good], {
      cwd: work,
    });
    const started = performance.now();
    const { output } = await run("git", ["bisect", "run", "sh", "-c", predicate], work);
    const wallMs = performance.now() - started;
    const found = /^([0-9a-f]{40}) is the first bad commit$/m.exec(output);
    let candidates: string[] = [];
    const any = /The first bad commit could be any of:\n((?:[0-9a-f]{40}\n)+)/.exec(output);
    if (any) candidates = any[1]!.trim().split("\n").sort();
    else if (found) candidates = [found[1]!];
    const steps = (output.match(/^running /gm) ?? []).length;
    return { culprit: found ? found[1]! : null, candidates, wallMs, steps, output };
  } finally {
    if (!kept) await rm(work, { recursive: true, force: true });
  }
}

function run(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}
