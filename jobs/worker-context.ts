// What every task needs, built once per worker process and passed in (no module-level singletons).
import type { Knex } from "knex";
import type { Config } from "../config/env";
import type { BisectJob, RunnerHost } from "../db/models";
import type { Executor } from "../runner/executors/types";
import type { GitHubApp } from "./github/app-client";
import type { StatusCommentCache } from "./github/status-cache";
import type { StopSignals } from "./farm/stop-signals";

export interface WorkerContext {
  config: Config;
  knex: Knex;
  /** This deployment's id, on every container it creates (db/instance.ts). */
  instanceId: string;
  /** The direct (non-pooled) URL graphile-worker uses. */
  workerDatabaseUrl: string;
  /** The clone URL and credential of a GitHub repository (absent in setup mode). */
  cloneSource?: (
    repositoryId: number,
  ) => Promise<{ url: string; username: string; password: string }>;
  /** The GitHub App client (tokens, write gate), made once at the worker's start; absent in setup mode. */
  github?: GitHubApp;
  /** The status comment's memory (last edits, commits looked up), made once at the worker's start. */
  statusComments: StatusCommentCache;
  /** Stop signals (farm/stop-signals.ts), heard by this process; steps poll when absent. */
  stopSignals?: StopSignals;
  /**
   * The executor for a job's runs on a host; Docker on that host when absent. Tests of the farm's
   * bookkeeping (take-over, retries, cancellation, hand-back) give a scripted one.
   */
  executorFor?: (host: RunnerHost, job: BisectJob) => Executor;
}
