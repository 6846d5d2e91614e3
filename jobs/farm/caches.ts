// A step's dependency cache on its runner host: one volume per repository of an installation,
// never given to another repository or installation, recorded in `runner_caches` each time a
// step uses it, with bisect.yml's extra `cache:` paths. Eviction (one budget and one pass with the
// mirrors) and the purge when an installation goes are mirrors.ts's.
import { type BisectJob, type RunnerHost, RunnerCache } from "../../db/models";
import { cacheVolumeName } from "../../runner/executors/cache-volume";
import type { RunSpec } from "../../runner/executors/types";
import type { WorkerContext } from "../worker-context";
import { repoKeyOf } from "./mirrors";

type CacheOwner = Pick<BisectJob, "installationId" | "repositoryId" | "repoUrl">;

/**
 * The cache volume of the job's repository (the same on every host), named with the deployment's
 * id: installation and repository ids are the deployment's own, and deployments may share a host.
 */
export function cacheVolumeOf(ctx: Pick<WorkerContext, "instanceId">, job: CacheOwner): string {
  return cacheVolumeName(`${ctx.instanceId}:${job.installationId ?? "cli"}:${repoKeyOf(job)}`);
}

/**
 * The cache part of a step's run spec on `host` — nothing when the operator turned caches off
 * (RUNNER_DEPENDENCY_CACHE=off) or the repository did (`cache: false`) — and its use recorded.
 */
export async function stepCache(
  ctx: Pick<WorkerContext, "knex" | "config" | "instanceId">,
  host: Pick<RunnerHost, "id">,
  job: CacheOwner & Pick<BisectJob, "options">,
): Promise<Pick<RunSpec, "cacheVolume" | "cachePaths">> {
  const setting = job.options.cache;
  if (!ctx.config.RUNNER_DEPENDENCY_CACHE || setting === false) return {};
  const volume = cacheVolumeOf(ctx, job);
  await RunnerCache.use(ctx.knex, {
    runnerHostId: host.id,
    repoKey: repoKeyOf(job),
    installationId: job.installationId,
    volume,
  });
  return { cacheVolume: volume, ...(setting?.length ? { cachePaths: setting } : {}) };
}
