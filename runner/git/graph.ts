// The commit graph of a bisection range: every commit of `bad ^good` with its parents.
import { CommitTable, CompactGraph } from "../engine/compact";
import type { CommitGraph, Sha } from "../engine/types";
import { git, gitBytes } from "./exec";
import { isFullSha } from "./refs";

export interface ListGraphOptions {
  /**
   * List only the first-parent chain from `bad` (`git rev-list --first-parent`). Merge commits
   * still carry all their parents, so the graph stays truthful; side-branch commits are absent.
   * The engine's `policy.firstParent` gives the same result on the full graph.
   */
  firstParent?: boolean;
  /** Only commits touching these paths (git pathspec), parents rewritten past the others. */
  pathspec?: string[];
  signal?: AbortSignal;
}

/**
 * `git rev-list --parents <bad> ^<good>` → CommitGraph, in the engine's compact form (parsed once;
 * `commits` is built only if something asks for the plain object). Both revisions must be full shas (resolve
 * them first with `resolveRef`). Parents are kept in git's order (first parent first), including
 * parents outside the range. An empty range (bad is an ancestor of good, or equal) yields no commits.
 */
export async function listCommitGraph(
  repo: string,
  good: Sha,
  bad: Sha,
  options: ListGraphOptions = {},
): Promise<CompactGraph> {
  if (!isFullSha(good) || !isFullSha(bad))
    throw new Error("listCommitGraph needs full 40-hex shas");
  const args = ["rev-list", "--parents"];
  if (options.firstParent) args.push("--first-parent");
  // With a pathspec, parents are rewritten to the nearest commits touching it (as git bisect does).
  args.push(bad, `^${good}`, "--", ...(options.pathspec ?? []));
  const out = await gitBytes(args, { cwd: repo, signal: options.signal });
  return CompactGraph.fromRevList(good, bad, out);
}

/** Parse `git rev-list --parents` output: one line per commit, `sha parent1 parent2 …`. */
export function parseRevListParents(out: string): CommitGraph["commits"] {
  return CommitTable.fromRevList(out).record;
}

/** True when `ancestor` is an ancestor of (or equal to) `descendant`. */
export async function isAncestor(
  repo: string,
  ancestor: Sha,
  descendant: Sha,
  signal?: AbortSignal,
): Promise<boolean> {
  if (!isFullSha(ancestor) || !isFullSha(descendant))
    throw new Error("isAncestor needs full 40-hex shas");
  try {
    await git(["merge-base", "--is-ancestor", ancestor, descendant], { cwd: repo, signal });
    return true;
  } catch (error) {
    if ((error as { exitCode?: unknown }).exitCode === 1) return false;
    throw error;
  }
}
