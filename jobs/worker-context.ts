// What every task needs, built once per worker process and passed in (no module-level singletons).
import type { Knex } from "knex";
import type { Config } from "../config/env";
import type { GitHubApp } from "./github/app-client";

export interface WorkerContext {
  config: Config;
  knex: Knex;
  /** This deployment's id, on every container it creates (db/instance.ts). */
  instanceId: string;
  /** The direct (non-pooled) URL graphile-worker uses. */
  workerDatabaseUrl: string;
  /** The clone URL and credential of a GitHub repository (absent in setup mode). */
  cloneSource?: (repositoryId: number) => Promise<{ url: string; username: string; password: string }>;
  /** The GitHub App client (tokens, write gate); made from config.github on first use when absent. */
  github?: GitHubApp;
}
