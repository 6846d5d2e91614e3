// Git plumbing for local repositories: refs, the commit graph of a range, commit details, preparing a repo.
export { git, GitError, type GitOptions } from "./exec";
export { isFullSha, refProblem, resolveRef, RefError, validateRef } from "./refs";
export { isAncestor, listCommitGraph, parseRevListParents, type ListGraphOptions } from "./graph";
export { readCommitInfo, readCommitInfos, type CommitInfo } from "./commit-info";
export {
  isGitUrl,
  prepareRepo,
  urlProblem,
  type PreparedRepo,
  type PrepareOptions,
} from "./prepare";
