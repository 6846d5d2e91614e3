// Where a job's repository comes from, and the key its mirrors are cached under.
import path from "node:path";
import type { BisectJob } from "../../db/models";
import type { MirrorSource } from "../../runner/mirror/mirror";
import type { WorkerContext } from "../worker-context";

export function repoKeyOf(job: Pick<BisectJob, "repositoryId" | "repoUrl">): string {
  if (job.repositoryId) return `github:${job.repositoryId}`;
  return `url:${job.repoUrl}`;
}

/** The clone source with its credential (GitHub jobs) — handed to the fetch container only. */
export async function mirrorSourceOf(ctx: WorkerContext, job: Pick<BisectJob, "repositoryId" | "repoUrl">): Promise<MirrorSource> {
  if (job.repositoryId) {
    if (!ctx.cloneSource) throw new Error("GitHub is not configured: cannot fetch a GitHub repository");
    const source = await ctx.cloneSource(job.repositoryId);
    return { kind: "url", ...source };
  }
  const url = job.repoUrl ?? "";
  if (path.isAbsolute(url)) return { kind: "host-path", path: url };
  return { kind: "url", url };
}
