// The worker process: graphile-worker with our task list, crontab, heartbeat and graceful shutdown.
import { pathToFileURL } from "node:url";
import {
  Logger,
  run,
  type LogFunctionFactory,
  type Runner,
  type WorkerEvents,
} from "graphile-worker";
import { EventEmitter } from "node:events";
import { ConfigError, directDatabaseUrl, loadConfig, type Config } from "../config/env";
import { createLogger, type Logger as AppLogger } from "../config/log";
import { createKnex } from "../db/connection";
import { instanceId } from "../db/instance";
import { Model } from "objection";
import pg from "pg";
import { crontab } from "./catalog";
import { registerEnvHost } from "./farm/env-host";
import { checkHosts } from "./farm/health";
import { createGitHubApp, githubCloneSource } from "./github/app-client";
import { StatusCommentCache } from "./github/status-cache";
import { StopSignals } from "./farm/stop-signals";
import { beat, forget, unlockDeadWorkers } from "./heartbeat";
import { createTaskList } from "./task-list";
import { workerLogLevel } from "./worker-log";
import type { WorkerContext } from "./worker-context";

export interface StartedWorker {
  runner: Runner;
  /** Settles when one of graphile-worker's workers died (it could not record a job's end). */
  fatal: Promise<string>;
  workerIds: () => string[];
  stop(): Promise<void>;
}

/** graphile-worker's log lines, through our redacting JSON logger. */
function logFactory(log: AppLogger): LogFunctionFactory {
  return (scope) => (level, message) => {
    const fields = { task: scope.taskIdentifier, jobId: scope.jobId };
    log[workerLogLevel(level, scope.taskIdentifier)](message, fields);
  };
}

export async function startWorker(
  config: Config,
  options: {
    concurrency?: number;
    registerEnvHost?: boolean;
    ctx?: Partial<WorkerContext>;
    /** How often idle workers look for due jobs, ms (default 1 s). See `pollInterval` below. */
    pollIntervalMs?: number;
  } = {},
): Promise<StartedWorker> {
  const url = directDatabaseUrl(config);
  if (!url) throw new Error("the worker needs DATABASE_URL (or DATABASE_DIRECT_URL)");
  const log = createLogger("worker", config.LOG_LEVEL);
  const knex = createKnex(url, { poolMax: 4, applicationName: "bisect-bot-worker" });
  Model.knex(knex);
  const ctx: WorkerContext = {
    config,
    knex,
    workerDatabaseUrl: url,
    instanceId: await instanceId(knex),
    statusComments: new StatusCommentCache(),
    stopSignals: new StopSignals(url, (m) => log.warn(m)),
    ...options.ctx,
  };
  await ctx.stopSignals?.start();
  // One GitHub App per worker process (tokens, write gate), unless the caller gave one.
  if (config.github) ctx.github ??= createGitHubApp(config.github, knex);
  if (config.github) ctx.cloneSource ??= (repositoryId) => githubCloneSource(ctx, repositoryId);

  const ids = new Set<string>();
  const events: WorkerEvents = new EventEmitter() as WorkerEvents;
  events.on("worker:create", ({ worker }) => ids.add(worker.workerId));
  // A worker that could not write a job's end back (database gone) stops; its lock must not stay
  // covered by our heartbeat, or that job would never run again. Stop beating for it.
  let onFatal: (reason: string) => void = () => {};
  const fatal = new Promise<string>((resolve) => (onFatal = resolve));
  events.on("worker:fatalError", ({ worker, error }) => {
    ids.delete(worker.workerId);
    onFatal(`worker ${worker.workerId} stopped: ${(error as Error)?.message ?? error}`);
  });

  const pgPool = new pg.Pool({
    connectionString: url,
    max: (options.concurrency ?? config.WORKER_CONCURRENCY) + 4,
    application_name: "bisect-bot-worker",
  });
  // A dropped idle connection (database restart) is logged, not fatal: the pool reconnects.
  pgPool.on("error", (error) => log.error(`database connection lost: ${error.message}`));

  const runner = await run({
    pgPool,
    concurrency: options.concurrency ?? config.WORKER_CONCURRENCY,
    taskList: createTaskList(ctx),
    crontab,
    events,
    logger: new Logger(logFactory(log)),
    noHandleSignals: true,
    // Nothing on a job's path waits for this: add_job notifies idle workers (LISTEN/NOTIFY) and a
    // step is queued with its slot. Polling only finds jobs scheduled for later (retries, the
    // fallback advance after a gathering window, a step that found every slot taken).
    pollInterval: options.pollIntervalMs ?? 1000,
    // Tasks get helpers.abortSignal this long after a shutdown starts: enough to kill containers.
    gracefulShutdownAbortTimeout: 5_000,
  });

  const deadAfterMs = config.WORKER_DEAD_AFTER_SECONDS * 1000;
  // Each beat also frees the jobs of workers that stopped beating (crash, kill -9, lost machine).
  const beatNow = async () => {
    try {
      await beat(knex, [...ids]);
      const dead = await unlockDeadWorkers(knex, deadAfterMs);
      if (dead.length) log.warn(`unlocked the jobs of dead workers ${dead.join(", ")}`);
    } catch (e) {
      log.error(`heartbeat failed: ${e}`);
    }
  };
  await beatNow();
  const timer = setInterval(beatNow, config.WORKER_HEARTBEAT_SECONDS * 1000);
  if (options.registerEnvHost ?? true) {
    await registerEnvHost(ctx, (m) => log.info(m)).catch((e) =>
      log.error(`registering the runner host failed: ${e}`),
    );
  }
  void checkHosts(ctx).catch((e) => log.error(`runner health check failed: ${e}`));

  let stopping: Promise<void> | null = null;
  return {
    runner,
    fatal,
    workerIds: () => [...ids],
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(timer);
        await runner.stop();
        await ctx.stopSignals?.stop();
        await forget(knex, [...ids]).catch(() => {});
        await knex.destroy();
        await pgPool.end();
      })()),
  };
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  }
  // A stray rejection (a bug; e.g. a lost runner host answering late) is logged, not fatal: the
  // tasks in flight have their own error handling, and losing the process would strand them.
  process.on("unhandledRejection", (reason) =>
    createLogger("worker", config.LOG_LEVEL).error("unhandled rejection", {
      error: reason instanceof Error ? reason : String(reason),
    }),
  );
  const worker = await startWorker(config);
  let stopping = false;
  const shutdown = async (signal: string) => {
    stopping = true;
    createLogger("worker", config.LOG_LEVEL).info(`${signal}: stopping gracefully`);
    const force = setTimeout(() => process.exit(1), 30_000);
    force.unref();
    await worker.stop();
    process.exit(0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
  // graphile-worker's runner ends by itself when it loses the database for good. Exit then, so the
  // heartbeat stops and a supervisor (compose's restart policy, npm start) starts a fresh worker;
  // the dead one's jobs are unlocked by the others' heartbeats.
  const reason = await Promise.race([
    worker.runner.promise.then(
      () => "the job runner stopped",
      (error: Error) => `the job runner failed: ${error.message}`,
    ),
    worker.fatal,
  ]);
  if (stopping) return; // a graceful stop settles the runner too; shutdown() exits 0
  createLogger("worker", config.LOG_LEVEL).error(`${reason}; exiting so a fresh worker takes over`);
  process.exit(1);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
