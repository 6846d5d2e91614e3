// Real git repositories for tests and benchmarks, written in one `git fast-import` stream.
//
// Every commit holds `state.txt` ("good" or "bad") and `skip.txt` ("run" or "skip"), so a test
// command like `sh -c 'grep -q skip skip.txt && exit 125; ! grep -q bad state.txt'` gives the
// verdict. A commit is bad exactly when the culprit is one of its ancestors (or itself).
import { spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prng as seededRandom } from "../../../runner/engine/testkit";
import { git } from "../../../runner/git/exec";

export interface GenCommit {
  /** Indices of parents (earlier in the list), first parent first. */
  parents: number[];
  message: string;
}

export interface GeneratedRepo {
  dir: string;
  /** sha of each commit, by index. */
  shas: string[];
  /** Whether each commit is bad (descends from the culprit). */
  bad: boolean[];
  /** Index of the culprit, or -1 for none. */
  culprit: number;
  cleanup(): Promise<void>;
}

export interface GenOptions {
  /** Index of the first bad commit (-1: all good). */
  culprit: number;
  /** Indices whose test command exits 125. */
  skip?: Iterable<number>;
  /** Tags to create: name → commit index. */
  tags?: Record<string, number>;
  /** Branch pointing at the last commit (default "main"). */
  branch?: string;
  /** Parent dir for the repository (default: OS temp dir). */
  tmpRoot?: string;
}

/** The shell predicate matching the files written by `generateRepo`. */
export const PREDICATE = "if grep -q skip skip.txt; then exit 125; fi; ! grep -q bad state.txt";

/** Which commits descend from (or are) `culprit`. */
export function badSet(commits: readonly GenCommit[], culprit: number): boolean[] {
  const bad = commits.map(() => false);
  if (culprit < 0) return bad;
  commits.forEach((c, i) => {
    bad[i] = i === culprit || c.parents.some((p) => bad[p]);
  });
  return bad;
}

export async function generateRepo(
  commits: readonly GenCommit[],
  options: GenOptions,
): Promise<GeneratedRepo> {
  commits.forEach((c, i) => {
    if (c.parents.some((p) => p < 0 || p >= i))
      throw new Error(`commit ${i}: parents must come earlier`);
  });
  const dir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), "bisect-gen-"));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    await chmod(dir, 0o755); // readable by the container's uid 1000
    const branch = options.branch ?? "main";
    await git(["init", "--quiet", `--initial-branch=${branch}`, dir]);
    const bad = badSet(commits, options.culprit);
    const skip = new Set(options.skip ?? []);

    const chunks: string[] = [];
    const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
    commits.forEach((c, i) => {
      const when = 1_700_000_000 + i * 60;
      chunks.push(
        `commit refs/heads/${branch}\nmark :${i + 1}\n` +
          `author Dev ${i % 7} <dev${i % 7}@example.test> ${when} +0000\n` +
          `committer Dev ${i % 7} <dev${i % 7}@example.test> ${when} +0000\n` +
          data(c.message) +
          (c.parents.length > 0 ? `from :${c.parents[0]! + 1}\n` : "") +
          c.parents
            .slice(1)
            .map((p) => `merge :${p + 1}\n`)
            .join("") +
          "deleteall\n" +
          `M 100644 inline state.txt\n${data(bad[i] ? "bad\n" : "good\n")}` +
          `M 100644 inline skip.txt\n${data(skip.has(i) ? "skip\n" : "run\n")}` +
          `M 100644 inline n.txt\n${data(`${i}\n`)}\n`,
      );
    });
    const last = commits.length;
    chunks.push(`reset refs/heads/${branch}\nfrom :${last}\n\n`);
    for (const [name, index] of Object.entries(options.tags ?? {})) {
      chunks.push(`reset refs/tags/${name}\nfrom :${index + 1}\n\n`);
    }
    const marksFile = join(dir, ".git", "marks");
    await fastImport(dir, chunks.join(""), marksFile);
    const shas = new Array<string>(commits.length);
    for (const line of (await readFile(marksFile, "utf8")).split("\n")) {
      const m = /^:(\d+) ([0-9a-f]{40})$/.exec(line);
      if (m) shas[Number(m[1]) - 1] = m[2]!;
    }
    await rm(marksFile);
    await git(["checkout", "--quiet", "--force", branch], { cwd: dir });
    return { dir, shas, bad, culprit: options.culprit, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

function fastImport(dir: string, stream: string, marksFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", ["fast-import", "--quiet", `--export-marks=${marksFile}`], {
      cwd: dir,
      stdio: ["pipe", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`git fast-import failed (${code}): ${stderr}`)),
    );
    child.stdin.end(stream);
  });
}

/** A line of `n` commits: 0 ← 1 ← … ← n-1. */
export function linearHistory(n: number): GenCommit[] {
  return Array.from({ length: n }, (_, i) => ({
    parents: i === 0 ? [] : [i - 1],
    message: `commit ${i}`,
  }));
}

/** Deterministic pseudo-random numbers: the engine test kit's generator. */
export { seededRandom };

export interface MergeHistory {
  commits: GenCommit[];
  /** Indices of commits on the main line (first-parent chain of the last commit). */
  mainLine: number[];
  /** Indices of commits on side branches. */
  side: number[];
}

/**
 * A main line of `mainLength` commits with side branches: each branch forks from a main-line
 * commit, has 1–`maxBranchLength` commits, and is merged back a few main commits later (the merge
 * has the main commit as first parent). Some branches fork from other branches' commits.
 */
export function mergeHistory(mainLength: number, seed: number, maxBranchLength = 4): MergeHistory {
  const rand = seededRandom(seed);
  const commits: GenCommit[] = [{ parents: [], message: "root" }];
  const mainLine = [0];
  const side: number[] = [];
  const open: { tip: number; mergeAt: number }[] = [];
  let head = 0;
  for (let m = 1; m < mainLength; m++) {
    // Maybe fork a branch from the current head (or from an open branch's tip).
    if (rand() < 0.45) {
      const from =
        open.length > 0 && rand() < 0.3 ? open[Math.floor(rand() * open.length)]!.tip : head;
      const length = 1 + Math.floor(rand() * maxBranchLength);
      let tip = from;
      for (let b = 0; b < length; b++) {
        commits.push({ parents: [tip], message: `side ${commits.length}` });
        tip = commits.length - 1;
        side.push(tip);
      }
      open.push({ tip, mergeAt: m + 1 + Math.floor(rand() * 3) });
    }
    const due = open.filter((o) => o.mergeAt <= m);
    if (due.length > 0) {
      const o = due[0]!;
      open.splice(open.indexOf(o), 1);
      commits.push({ parents: [head, o.tip], message: `merge ${commits.length}` });
    } else {
      commits.push({ parents: [head], message: `main ${commits.length}` });
    }
    head = commits.length - 1;
    mainLine.push(head);
  }
  // Merge what is still open so every commit is reachable from the tip.
  for (const o of open) {
    commits.push({ parents: [head, o.tip], message: `merge ${commits.length}` });
    head = commits.length - 1;
    mainLine.push(head);
  }
  return { commits, mainLine, side };
}
