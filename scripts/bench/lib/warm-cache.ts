// bench:real's warm-cache part: how much faster a step's setup is when the repository's dependency
// cache (and its bisect.yml `cache:` paths) is warm. Per project and repeat: a fresh cache volume,
// one step on a commit (cold: empty cache), then one on another commit (warm: what the first
// setup left). The setup's own time is printed by the setup itself (a line the bench reads back),
// so container start and the test do not blur it.
import { randomUUID } from "node:crypto";
import { loadavg } from "node:os";
import type Docker from "dockerode";
import { removeCacheVolume } from "../../../runner/executors/cache-volume";
import { DockerExecutor } from "../../../runner/executors/docker-executor";
import { runOnce } from "../../../runner/executors/run-once";
import type { RunSpec } from "../../../runner/executors/types";
import { median } from "./timing-executor";

export interface WarmCacheProject {
  name: string;
  /** A step's spec for a commit (no cache yet). */
  specFor(sha: string): RunSpec;
  /** The setup to time (it must work on an empty cache and on a warm one). */
  setup: string;
  /** bisect.yml's `cache:` paths for it. */
  cachePaths: string[];
  /** The two commits: cold, then warm. */
  shas: [string, string];
}

const MARK = "bench-setup-ms";

/** The setup wrapped so that it prints its own duration (GNU date in the images here). */
function timed(setup: string): string {
  return `__t0=$(date +%s%N)\n${setup}\necho "${MARK} $(( ($(date +%s%N) - __t0) / 1000000 ))"`;
}

function setupMs(log: string, project: string): number {
  const m = new RegExp(`${MARK} (\\d+)`).exec(log);
  if (!m) throw new Error(`${project}: the setup did not report its time:\n${log.slice(-2000)}`);
  return Number(m[1]);
}

/** Runs the measurement and prints its table; returns the median warm / cold ratio per project. */
export async function measureWarmCache(
  docker: Docker,
  image: string,
  projects: readonly WarmCacheProject[],
  repeat: number,
): Promise<void> {
  const load0 = loadavg();
  console.log(
    `\nwarm cache: a step's setup with an empty cache, then the next step's with the cache it left (${repeat} repeats)`,
  );
  console.log(`load average at start: ${load0.map((l) => l.toFixed(2)).join(" ")}`);
  const rows: string[][] = [];
  for (const p of projects) {
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const volume = `bisect-cache-bench-${randomUUID().slice(0, 12)}`;
      const executor = new DockerExecutor(docker, { image, networkMode: "host" });
      try {
        for (const [k, sha] of p.shas.entries()) {
          const spec: RunSpec = {
            ...p.specFor(sha),
            setup: timed(p.setup),
            cacheVolume: volume,
            cachePaths: p.cachePaths,
          };
          const result = await runOnce(executor, spec);
          if (result.exitCode !== 0 && result.exitCode !== 1)
            throw new Error(`${p.name}: the run ended with ${result.exitCode}:\n${result.log}`);
          (k === 0 ? cold : warm).push(setupMs(result.log, p.name));
        }
      } finally {
        await executor.close();
        await removeCacheVolume(docker, volume);
      }
    }
    const s = (ms: number[]) => `${(median(ms) / 1000).toFixed(2)} s`;
    rows.push([
      p.name,
      p.cachePaths.length ? p.cachePaths.join(", ") : "(tools' caches only)",
      s(cold),
      s(warm),
      `${(median(warm) / median(cold)).toFixed(2)}×`,
    ]);
  }
  const header = ["project", "cache: paths", "setup, cold", "setup, warm", "warm / cold"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  console.log(
    `load average at end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")} (medians of ${repeat} repeats; each repeat a fresh cache volume)`,
  );
}
