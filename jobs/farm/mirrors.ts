// The mirror cache, as the farm keeps it: which repository key a job's mirror goes under, where
// its source is, keeping a host's mirror fresh (one fetch at a time per host and repository, a
// row lock with a deadline; no fetch when the remote's refs are unchanged), least-recently-used
// eviction past the cache size, and removal when an installation goes. The volumes and the fetch
// container themselves are runner/mirror's.
//
// A host's dependency caches (caches.ts) share the mirrors' budget, RUNNER_CACHE_MAX_MB: one pass
// (`evictLeastRecentlyUsed`, after each fetch and hourly) measures the caches and removes mirrors
// and caches alike, least recently used first (eviction.ts); the purge removes both.
import path from "node:path";
import type { Knex } from "knex";
import { type BisectJob, RunnerCache, type RunnerHost, RunnerMirror } from "../../db/models";
import {
  removeCacheVolume,
  volumeUsage,
  type VolumeUsage,
} from "../../runner/executors/cache-volume";
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
import { type CacheEntry, pickEvictions } from "./eviction";

const FETCH_LOCK_SECONDS = 15 * 60;

type RepoOf = Pick<BisectJob, "repositoryId" | "repoUrl">;

/**
 * The volume of a repository's mirror, named with the deployment's id as well as the key: keys are
 * the deployment's own row ids, and two deployments may share a runner host. A row made before
 * names were scoped keeps its volume (`mirrorVolumeOn` reads the row).
 */
export function mirrorVolumeOf(ctx: Pick<WorkerContext, "instanceId">, repoKey: string): string {
  return mirrorVolumeName(`${ctx.instanceId}:${repoKey}`);
}

/** The volume of the job's mirror on the host (its row is made by `ensureMirror`). */
export async function mirrorVolumeOn(knex: Knex, hostId: number, job: RepoOf): Promise<string> {
  const row = await RunnerMirror.query(knex).findOne({
    runnerHostId: hostId,
    repoKey: repoKeyOf(job),
  });
  if (!row) throw new InfrastructureError(`the repository has no mirror on runner host ${hostId}`);
  return row.volume;
}

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
    const row = await RunnerMirror.ensure(knex, host.id, repoKey, mirrorVolumeOf(ctx, repoKey));
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
 * Past the host's cache size (RUNNER_CACHE_MAX_MB), removes the least recently used mirrors and
 * dependency caches (never `keep`'s mirror, never one used in the last ten minutes, being fetched,
 * used by a running step or mounted by a container). Returns the volumes removed.
 */
export async function evictLeastRecentlyUsed(
  ctx: Pick<WorkerContext, "knex" | "config">,
  host: RunnerHost,
  keep: string | null,
  now = new Date(),
): Promise<string[]> {
  const { knex } = ctx;
  const docker = dockerFor(host);
  const mirrors = await RunnerMirror.byLastUse(knex, host.id);
  const caches = await RunnerCache.byLastUse(knex, host.id);
  // Caches grow in every setup: measure them now (the engine measures all volumes at once). An
  // engine that cannot say leaves the caches alone this time.
  let usage: Map<string, VolumeUsage> | null = new Map();
  if (caches.length > 0) usage = await volumeUsage(docker).catch(() => null);
  const entries: CacheEntry[] = mirrors.map((m) => ({
    kind: "mirror",
    id: m.id,
    volume: m.volume,
    sizeBytes: Number(m.sizeBytes),
    lastUsedAt: m.lastUsedAt,
    busy: m.repoKey === keep || m.fetchLockUntil !== null,
  }));
  for (const c of usage ? caches : []) {
    const measured = usage!.get(c.volume);
    if (!measured) {
      // Gone from the host (removed by hand): only the row is left.
      await RunnerCache.remove(knex, c.id);
      continue;
    }
    if (measured.sizeBytes !== Number(c.sizeBytes))
      await RunnerCache.recordSize(knex, c.id, measured.sizeBytes);
    entries.push({
      kind: "cache",
      id: c.id,
      volume: c.volume,
      sizeBytes: measured.sizeBytes,
      lastUsedAt: c.lastUsedAt,
      busy: c.inUse === true || measured.containers !== 0,
    });
  }
  const limit = ctx.config.RUNNER_CACHE_MAX_MB * 1024 * 1024;
  const evicted: string[] = [];
  for (const entry of pickEvictions(entries, limit, now)) {
    if (entry.kind === "mirror") {
      if (await removeMirror(docker, entry.volume)) {
        await RunnerMirror.remove(knex, entry.id);
        evicted.push(entry.volume);
      }
    } else if (await removeCacheVolume(docker, entry.volume)) {
      await RunnerCache.remove(knex, entry.id);
      evicted.push(entry.volume);
    }
  }
  return evicted;
}

/** Queues the removal of these repositories' mirrors and caches (installation removed or suspended). */
export async function enqueueMirrorPurge(knex: Knex, repositoryIds: number[]): Promise<void> {
  if (repositoryIds.length) await enqueue(knex, "mirrors__purge", { repositoryIds });
}

/**
 * Removes the mirrors and dependency caches of these repositories from every host (the
 * `mirrors__purge` task); one still in use fails the task, which is retried.
 */
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
  for (const row of await RunnerCache.withHosts(knex, repoKeys)) {
    if (await removeCacheVolume(dockerFor(row), row.volume)) {
      await RunnerCache.remove(knex, row.id);
      removed++;
    } else {
      throw new Error(`cache ${row.volume} is still in use; will retry`);
    }
  }
  return removed;
}
