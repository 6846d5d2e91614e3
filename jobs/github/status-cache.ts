// The status comment's own memory in a worker process (one per WorkerContext, made at the
// worker's start): the last edit of each job's comment, and the commits already looked up.
import type { CommitDetails } from "./render";

export class StatusCommentCache {
  /** Last status comment edit per job (time, body digest): throttles edits and skips no-ops. */
  private readonly edits = new Map<number, { at: number; digest: string }>();
  /** Commit details by `repositoryId:sha` (a commit never changes). */
  private readonly commits = new Map<string, CommitDetails>();

  lastEdit(jobId: number): { at: number; digest: string } | undefined {
    return this.edits.get(jobId);
  }

  rememberEdit(jobId: number, digest: string): void {
    this.edits.delete(jobId);
    this.edits.set(jobId, { at: Date.now(), digest });
    if (this.edits.size > 5000) this.edits.delete(this.edits.keys().next().value!);
  }

  commit(key: string): CommitDetails | undefined {
    return this.commits.get(key);
  }

  rememberCommit(key: string, details: CommitDetails): void {
    this.commits.set(key, details);
    if (this.commits.size > 500) this.commits.delete(this.commits.keys().next().value!);
  }
}
