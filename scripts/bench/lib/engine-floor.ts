// The engine's own cost of a container, with nothing of ours in between: create → start → exit → remove
// of `true` in the given image, `concurrency` at a time. The floor under any executor's overhead.
import type Docker from "dockerode";
import { median } from "./timing-executor";

export interface EngineFloor {
  concurrency: number;
  /** Median create → removed, ms. */
  totalMs: number;
  /** Median start call alone, ms. */
  startMs: number;
}

export async function engineFloor(
  docker: Docker,
  image: string,
  concurrency: number,
  repeats = 3,
): Promise<EngineFloor> {
  const totals: number[] = [];
  const starts: number[] = [];
  const one = async () => {
    const t0 = performance.now();
    const container = await docker.createContainer({
      Image: image,
      Cmd: ["true"],
      Entrypoint: [],
      User: "1000:1000",
      Labels: { "bisect-bot.source": "bench" },
      HostConfig: { NetworkMode: "none", LogConfig: { Type: "none", Config: {} } },
    });
    try {
      const exited = container.wait({ condition: "next-exit" } as never);
      const t1 = performance.now();
      await container.start();
      starts.push(performance.now() - t1);
      await exited;
    } finally {
      await container.remove({ force: true });
    }
    totals.push(performance.now() - t0);
  };
  for (let r = 0; r < repeats; r++) await Promise.all(Array.from({ length: concurrency }, one));
  return { concurrency, totalMs: median(totals), startMs: median(starts) };
}
