// What every task needs, built once per worker process and passed in (no module-level singletons).
import type { Knex } from "knex";
import type { Config } from "../config/env";

export interface WorkerContext {
  config: Config;
  knex: Knex;
  /** The direct (non-pooled) URL graphile-worker uses. */
  workerDatabaseUrl: string;
  /** The clone URL and credential of a GitHub repository (absent in setup mode). */
  cloneSource?: (repositoryId: number) => Promise<{ url: string; username: string; password: string }>;
}
