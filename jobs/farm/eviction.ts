// What leaves a runner host when its mirrors and dependency caches outgrow their one budget
// (RUNNER_CACHE_MAX_MB): the least recently used first, until the rest fits. Pure: the rows in,
// the ones to remove out (mirrors.ts removes them). An entry is never picked while something may
// still need it: used in the last ten minutes (a step about to mount it), being fetched, in use by
// a running step, or mounted by any container.

/** Entries used more recently than this are kept whatever the budget. */
export const RECENT_USE_MS = 10 * 60_000;

export interface CacheEntry {
  kind: "mirror" | "cache";
  id: number;
  volume: string;
  sizeBytes: number;
  lastUsedAt: Date;
  /** Why it must stay now (fetching, in use, mounted, the repository being fetched), if so. */
  busy?: boolean;
}

/** The entries to remove, oldest use first, so that the rest fits in `limitBytes` if it can. */
export function pickEvictions(
  entries: readonly CacheEntry[],
  limitBytes: number,
  now: Date,
): CacheEntry[] {
  let total = entries.reduce((sum, e) => sum + e.sizeBytes, 0);
  const picked: CacheEntry[] = [];
  const oldestFirst = [...entries].sort((a, b) => a.lastUsedAt.getTime() - b.lastUsedAt.getTime());
  for (const entry of oldestFirst) {
    if (total <= limitBytes) break;
    if (entry.busy || now.getTime() - entry.lastUsedAt.getTime() < RECENT_USE_MS) continue;
    picked.push(entry);
    total -= entry.sizeBytes;
  }
  return picked;
}
