// Git plumbing for local repositories: refs, the commit graph of a range, commit details, preparing a repo.
export { git, GitError, type GitOptions } from "./exec.js";
export { isFullSha, refProblem, resolveRef, RefError, validateRef } from "./refs.js";
export {
  isAncestor,
  listCommitGraph,
  parseRevListParents,
  type ListGraphOptions,
} from "./graph.js";
export { readCommitInfo, readCommitInfos, type CommitInfo } from "./commit-info.js";
export {
  isGitUrl,
  prepareRepo,
  urlProblem,
  type PreparedRepo,
  type PrepareOptions,
} from "./prepare.js";
