// The mirror cache, as the farm keeps it: which repository key a job's mirror goes under, where
// its source is, keeping a host's mirror fresh (one fetch at a time per host and repository, a
// row lock with a deadline; no fetch when the remote's refs are unchanged), least-recently-used
// eviction past the cache size, and removal when an installation goes. The volumes and the fetch
// container themselves are runner/mirror's.
import path from "node:path";
import type { Knex } from "knex";
import { type BisectJob, type RunnerHost, RunnerMirror } from "../../db/models";
import { InfrastructureError } from "../../runner/errors";
import {
  mirrorVolumeExists,
  mirrorVolumeName,
  refreshMirror,
  removeMirror,
  type MirrorSource,
  type RefreshResult,
} from "../../runner/mirror/mirror";
import { remoteRefsDigest } from "../../runner/mirror/remote-refs";
import { enqueue } from "../catalog";
import type { WorkerContext } from "../worker-context";
import { dockerFor } from "./docker-clients";
import { HOST_LABEL } from "../../runner/labels";
import { jobLabels } from "./labels";

const FETCH_LOCK_SECONDS = 15 * 60;

type RepoOf = Pick<BisectJob, "repositoryId" | "repoUrl">;

/** The key a repository's mirrors are cached under: the same on every host. */
export function repoKeyOf(job: RepoOf): string {
  if (job.repositoryId) return `github:${job.repositoryId}`;
  return `url:${job.repoUrl}`;
}

/** The clone source with its credential (GitHub jobs) — handed to the fetch only. */
export async function mirrorSourceOf(ctx: WorkerContext, job: RepoOf): Promise<MirrorSource> {
  if (job.repositoryId) {
    if (!ctx.cloneSource)
      throw new Error("GitHub is not configured: cannot fetch a GitHub repository");
    const source = await ctx.cloneSource(job.repositoryId);
    return { kind: "url", ...source };
  }
  const url = job.repoUrl ?? "";
  if (path.isAbsolute(url)) return { kind: "host-path", path: url };
  return { kind: "url", url };
}

/** Hosts whose mirror of this job's repository was refreshed since the job started. */
export function hostsWithFreshMirror(knex: Knex, job: BisectJob): Promise<number[]> {
  return RunnerMirror.hostsFetchedSince(knex, repoKeyOf(job), job.startedAt ?? new Date(0));
}

export interface EnsureOptions {
  holder: string;
  /** Resolve the job's refs and list its graph (bisect__prepare); otherwise just make sure the mirror is fresh. */
  withGraph?: boolean;
  signal?: AbortSignal;
}

/** What making a mirror fresh took: a fetch container (with its result), or none. */
export type EnsureResult = RefreshResult | null;

/** Makes the host's mirror fresh for the job; returns the refresh result when a container ran. */
export async function ensureMirror(
  ctx: WorkerContext,
  host: RunnerHost,
  job: BisectJob,
  options: EnsureOptions,
): Promise<EnsureResult> {
  const { knex, config } = ctx;
  const repoKey = repoKeyOf(job);
  const waitUntil = Date.now() + config.RUNNER_FETCH_TIMEOUT_SECONDS * 1000;
  const isFresh = (row: RunnerMirror) =>
    !options.withGraph &&
    row.lastFetchedAt !== null &&
    job.startedAt !== null &&
    row.lastFetchedAt >= job.startedAt;
  for (;;) {
    const row = await RunnerMirror.ensure(knex, host.id, repoKey, mirrorVolumeName(repoKey));
    if (isFresh(row)) {
      await row.touch(knex);
      return null;
    }
    if (!(await row.lockFetch(knex, options.holder, FETCH_LOCK_SECONDS))) {
      // Another worker is fetching this repository on this host: wait for it (not forever).
      if (options.signal?.aborted) throw new Error("aborted while waiting for a mirror refresh");
      if (Date.now() > waitUntil)
        throw new InfrastructureError(
          `the mirror refresh on ${host.name} by another worker did not finish`,
        );
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      const source = await mirrorSourceOf(ctx, job);
      const docker = dockerFor(host);
      // Ask the remote for its refs first (no container): when they are what the mirror last
      // fetched, an up-to-date mirror needs no fetch at all.
      const refs = await remoteRefsDigest(source, {
        timeoutMs: config.RUNNER_FETCH_TIMEOUT_SECONDS * 1000,
        signal: options.signal,
      });
      const unchanged =
        refs !== null &&
        refs === row.remoteRefs &&
        row.lastFetchedAt !== null &&
        (await mirrorVolumeExists(docker, row.volume));
      if (unchanged && !options.withGraph) {
        await row.recordUnchanged(knex);
        return null;
      }
      const result = await refreshMirror(docker, {
        volume: row.volume,
        source,
        image: config.RUNNER_IMAGE,
        network: config.RUNNER_FETCH_NETWORK,
        good: options.withGraph ? (job.goodSha ?? job.goodRef) : undefined,
        bad: options.withGraph ? (job.badSha ?? job.badRef) : undefined,
        firstParent: job.options.firstParent,
        pathspec: job.options.pathspec,
        labels: { ...jobLabels(ctx, job.id), [HOST_LABEL]: host.name },
        timeoutMs: config.RUNNER_FETCH_TIMEOUT_SECONDS * 1000,
        signal: options.signal,
        maxCommits: options.withGraph ? config.BISECT_MAX_RANGE_COMMITS : 0,
        maxMirrorBytes: config.RUNNER_MIRROR_MAX_MB * 1024 * 1024,
        skipFetch: unchanged,
      });
      await row.recordFetch(knex, result.sizeBytes, refs);
      await evictLeastRecentlyUsed(ctx, host, repoKey);
      return result;
    } finally {
      await row.unlockFetch(knex, options.holder);
    }
  }
}

/**
 * Past the host's cache size, removes the least recently used mirrors (never `keep`, never one
 * used in the last ten minutes or being fetched). A volume still mounted by a run is kept.
 */
export async function evictLeastRecentlyUsed(
  ctx: WorkerContext,
  host: RunnerHost,
  keep: string,
): Promise<string[]> {
  const { knex } = ctx;
  const limit = ctx.config.RUNNER_CACHE_MAX_MB * 1024 * 1024;
  const rows = await RunnerMirror.byLastUse(knex, host.id);
  let total = rows.reduce((sum, r) => sum + Number(r.sizeBytes), 0);
  const evicted: string[] = [];
  for (const row of rows) {
    if (total <= limit) break;
    if (
      row.repoKey === keep ||
      row.fetchLockUntil ||
      Date.now() - row.lastUsedAt.getTime() < 10 * 60_000
    )
      continue;
    if (await removeMirror(dockerFor(host), row.volume)) {
      await RunnerMirror.remove(knex, row.id);
      total -= Number(row.sizeBytes);
      evicted.push(row.volume);
    }
  }
  return evicted;
}

/** Queues the removal of these repositories' mirrors (installation removed or suspended). */
export async function enqueueMirrorPurge(knex: Knex, repositoryIds: number[]): Promise<void> {
  if (repositoryIds.length) await enqueue(knex, "mirrors__purge", { repositoryIds });
}

/** Removes the mirrors of these repositories from every host (the `mirrors__purge` task). */
export async function removeMirrorsOf(
  ctx: WorkerContext,
  repositoryIds: readonly number[],
): Promise<number> {
  const { knex } = ctx;
  const repoKeys = repositoryIds.map((repositoryId) => repoKeyOf({ repositoryId, repoUrl: null }));
  let removed = 0;
  for (const row of await RunnerMirror.withHosts(knex, repoKeys)) {
    if (await removeMirror(dockerFor(row), row.volume)) {
      await RunnerMirror.remove(knex, row.id);
      removed++;
    } else {
      throw new Error(`mirror ${row.volume} is still in use; will retry`);
    }
  }
  return removed;
}
