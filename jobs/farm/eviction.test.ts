import { describe, expect, it } from "vitest";
import { type CacheEntry, pickEvictions } from "./eviction";

const now = new Date("2026-12-07T12:00:00Z");
const MB = 1024 * 1024;
const entry = (
  kind: CacheEntry["kind"],
  id: number,
  sizeMb: number,
  minutesAgo: number,
  busy = false,
): CacheEntry => ({
  kind,
  id,
  volume: `${kind}-${id}`,
  sizeBytes: sizeMb * MB,
  lastUsedAt: new Date(now.getTime() - minutesAgo * 60_000),
  busy,
});
const names = (picked: CacheEntry[]) => picked.map((e) => e.volume);

describe("pickEvictions", () => {
  it("removes nothing within the budget", () => {
    expect(
      pickEvictions([entry("mirror", 1, 50, 600), entry("cache", 1, 50, 600)], 100 * MB, now),
    ).toEqual([]);
  });

  it("removes mirrors and caches alike, least recently used first, until the rest fits", () => {
    const entries = [
      entry("mirror", 1, 40, 30),
      entry("cache", 2, 40, 300),
      entry("cache", 3, 40, 60),
      entry("mirror", 4, 40, 120),
    ];
    expect(names(pickEvictions(entries, 100 * MB, now))).toEqual(["cache-2", "mirror-4"]);
  });

  it("never picks an entry in use or used in the last ten minutes, even over the budget", () => {
    const entries = [
      entry("cache", 1, 80, 600, true),
      entry("mirror", 2, 80, 5),
      entry("cache", 3, 10, 500),
    ];
    expect(names(pickEvictions(entries, 10 * MB, now))).toEqual(["cache-3"]);
  });
});
