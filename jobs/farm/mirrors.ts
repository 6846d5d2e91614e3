// Keeping a host's mirror of a job's repository fresh: one fetch at a time per host and
// repository (a row lock with a deadline), least-recently-used eviction past the cache size.
import type { Knex } from "knex";
import type { BisectJob, RunnerHost } from "../../db/models";
import { dockerFor } from "../../runner/farm/docker-clients";
import {
  mirrorVolumeName,
  refreshMirror,
  removeMirror,
  type RefreshResult,
} from "../../runner/mirror/mirror";
import type { WorkerContext } from "../worker-context";
import { InfrastructureError } from "../../runner/errors";
import { jobLabels } from "./labels";
import { mirrorSourceOf, repoKeyOf } from "./repo-source";

const FETCH_LOCK_SECONDS = 15 * 60;

interface MirrorRow {
  id: number;
  volume: string;
  lastFetchedAt: Date | null;
}

async function mirrorRow(knex: Knex, hostId: number, repoKey: string): Promise<MirrorRow> {
  await knex("runner_mirrors")
    .insert({ runnerHostId: hostId, repoKey, volume: mirrorVolumeName(repoKey) })
    .onConflict(["runnerHostId", "repoKey"])
    .ignore();
  return knex("runner_mirrors").where({ runnerHostId: hostId, repoKey }).first();
}

/** Hosts whose mirror of this job's repository was refreshed since the job started. */
export async function hostsWithFreshMirror(knex: Knex, job: BisectJob): Promise<number[]> {
  const rows = await knex("runner_mirrors")
    .where({ repoKey: repoKeyOf(job) })
    .where("lastFetchedAt", ">=", job.startedAt ?? new Date(0))
    .pluck("runnerHostId");
  return rows.map(Number);
}

export interface EnsureOptions {
  holder: string;
  /** Resolve the job's refs and list its graph (bisect__prepare); otherwise just make sure the mirror is fresh. */
  withGraph?: boolean;
  signal?: AbortSignal;
}

/** Makes the host's mirror fresh for the job; returns the refresh result when one ran. */
export async function ensureMirror(
  ctx: WorkerContext,
  host: RunnerHost,
  job: BisectJob,
  options: EnsureOptions,
): Promise<RefreshResult | null> {
  const { knex, config } = ctx;
  const repoKey = repoKeyOf(job);
  const waitUntil = Date.now() + config.RUNNER_FETCH_TIMEOUT_SECONDS * 1000;
  const isFresh = (row: MirrorRow) =>
    !options.withGraph &&
    row.lastFetchedAt !== null &&
    job.startedAt !== null &&
    row.lastFetchedAt >= job.startedAt;
  for (;;) {
    const row = await mirrorRow(knex, host.id, repoKey);
    if (isFresh(row)) {
      await knex("runner_mirrors").where({ id: row.id }).update({ lastUsedAt: knex.fn.now() });
      return null;
    }
    const locked = await knex("runner_mirrors")
      .where({ id: row.id })
      .where((q) => q.whereNull("fetchLockUntil").orWhere("fetchLockUntil", "<", knex.fn.now()))
      .update({
        fetchLockHolder: options.holder,
        fetchLockUntil: knex.raw("now() + make_interval(secs => ?)", [FETCH_LOCK_SECONDS]),
      });
    if (locked === 0) {
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
      const result = await refreshMirror(dockerFor(host), {
        volume: row.volume,
        source: await mirrorSourceOf(ctx, job),
        image: config.RUNNER_IMAGE,
        network: config.RUNNER_FETCH_NETWORK,
        good: options.withGraph ? (job.goodSha ?? job.goodRef) : undefined,
        bad: options.withGraph ? (job.badSha ?? job.badRef) : undefined,
        firstParent: job.options.firstParent,
        pathspec: job.options.pathspec,
        labels: { ...jobLabels(ctx, job.id), "bisect-bot.host": host.name },
        timeoutMs: config.RUNNER_FETCH_TIMEOUT_SECONDS * 1000,
        signal: options.signal,
        maxCommits: options.withGraph ? config.BISECT_MAX_RANGE_COMMITS : 0,
        maxMirrorBytes: config.RUNNER_MIRROR_MAX_MB * 1024 * 1024,
      });
      await knex("runner_mirrors").where({ id: row.id }).update({
        sizeBytes: result.sizeBytes,
        lastFetchedAt: knex.fn.now(),
        lastUsedAt: knex.fn.now(),
      });
      await evictLeastRecentlyUsed(ctx, host, repoKey);
      return result;
    } finally {
      await knex("runner_mirrors")
        .where({ id: row.id, fetchLockHolder: options.holder })
        .update({ fetchLockHolder: null, fetchLockUntil: null });
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
  const rows: { id: number; repoKey: string; volume: string; sizeBytes: number }[] = await knex(
    "runner_mirrors",
  )
    .where({ runnerHostId: host.id })
    .orderBy("lastUsedAt", "asc")
    .select("id", "repoKey", "volume", "sizeBytes", "lastUsedAt", "fetchLockUntil");
  let total = rows.reduce((sum, r) => sum + Number(r.sizeBytes), 0);
  const evicted: string[] = [];
  for (const row of rows as ((typeof rows)[number] & {
    lastUsedAt: Date;
    fetchLockUntil: Date | null;
  })[]) {
    if (total <= limit) break;
    if (
      row.repoKey === keep ||
      row.fetchLockUntil ||
      Date.now() - row.lastUsedAt.getTime() < 10 * 60_000
    )
      continue;
    if (await removeMirror(dockerFor(host), row.volume)) {
      await knex("runner_mirrors").where({ id: row.id }).delete();
      total -= Number(row.sizeBytes);
      evicted.push(row.volume);
    }
  }
  return evicted;
}

/** Removes the mirrors of these repositories from every host (installation removed or suspended). */
export async function purgeMirrors(ctx: WorkerContext, repoKeys: string[]): Promise<number> {
  const { knex } = ctx;
  const rows = await knex("runner_mirrors as m")
    .join("runner_hosts as h", "h.id", "m.runnerHostId")
    .whereIn("m.repoKey", repoKeys)
    .select("m.id", "m.volume", "h.dockerEndpoint", "h.tlsPath", "h.sshHostKey");
  let removed = 0;
  for (const row of rows as {
    id: number;
    volume: string;
    dockerEndpoint: string;
    tlsPath: string | null;
    sshHostKey: string | null;
  }[]) {
    if (await removeMirror(dockerFor(row), row.volume)) {
      await knex("runner_mirrors").where({ id: row.id }).delete();
      removed++;
    } else {
      throw new Error(`mirror ${row.volume} is still in use; will retry`);
    }
  }
  return removed;
}
