// Several web processes on one port (node:cluster): the primary only forks and supervises; each
// worker is a whole web process. Everything they must share (rate limits; the webhook's rows) is
// in PostgreSQL, so which process a connection lands on does not matter.
import cluster from "node:cluster";
import type { Logger } from "../config/log";

/**
 * Forks `count` web processes and keeps that many running: one that dies is replaced after a
 * pause that grows while they keep dying at once. SIGTERM/SIGINT stop them all, then this process.
 */
export function superviseWebProcesses(count: number, log: Logger): void {
  let stopping = false;
  let quickDeaths = 0;
  const fork = () => {
    const started = Date.now();
    const worker = cluster.fork();
    worker.once("exit", (code, signal) => {
      if (stopping) return;
      quickDeaths = Date.now() - started < 10_000 ? quickDeaths + 1 : 0;
      const pause = Math.min(30_000, 250 * 2 ** quickDeaths);
      log.warn(
        `web process ${worker.process.pid} exited (${signal ?? code}); another in ${pause} ms`,
      );
      setTimeout(() => !stopping && fork(), pause);
    });
  };
  for (let i = 0; i < count; i++) fork();
  log.info(`${count} web processes`);
  const stop = () => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
    if (workers.length === 0) process.exit(0);
    let left = workers.length;
    for (const worker of workers) {
      worker.once("exit", () => --left === 0 && process.exit(0));
      worker.process.kill("SIGTERM");
    }
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
