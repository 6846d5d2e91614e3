// Which runner host holds a dependency cache of which repository (of which installation): its
// size when last measured and its last use, for least-recently-used eviction beside the mirrors,
// and the purge when an installation goes.
import type { Knex } from "knex";
import { BaseModel } from "./base-model";

/** A cache's row with the endpoint of its host: enough to reach its volume. */
export interface CacheWithHost {
  id: number;
  volume: string;
  dockerEndpoint: string;
  tlsPath: string | null;
  sshHostKey: string | null;
}

export class RunnerCache extends BaseModel {
  static override tableName = "runner_caches";

  id!: number;
  runnerHostId!: number;
  /** github:<repository id> or url:<clone source> */
  repoKey!: string;
  installationId!: number | null;
  volume!: string;
  sizeBytes!: number;
  lastUsedAt!: Date;
  /** Set by `byLastUse`: a step of a job of this cache's repository holds a lease on the host. */
  inUse?: boolean;
  createdAt!: Date;
  updatedAt!: Date;

  /** A step is about to use the cache: its row, made on first use, is marked used now. */
  static async use(
    knex: Knex,
    row: Pick<RunnerCache, "runnerHostId" | "repoKey" | "installationId" | "volume">,
  ): Promise<void> {
    await RunnerCache.query(knex)
      .insert(row)
      .onConflict(["runnerHostId", "volume"])
      .merge({ lastUsedAt: knex.fn.now() as unknown as Date });
  }

  /**
   * The host's caches, least recently used first, each with `inUse`: an open lease on the host
   * belongs to a step of a job of the same repository and installation.
   */
  static async byLastUse(knex: Knex, runnerHostId: number): Promise<RunnerCache[]> {
    return RunnerCache.query(knex)
      .where({ runnerHostId })
      .select(
        "runner_caches.*",
        knex.raw(
          `exists (
            select 1 from runner_leases l
            join bisect_steps s on s.id = l.bisect_step_id
            join bisect_jobs j on j.id = s.bisect_job_id
            where l.runner_host_id = runner_caches.runner_host_id and l.released_at is null
              and runner_caches.repo_key = case when j.repository_id is not null
                then 'github:' || j.repository_id else 'url:' || j.repo_url end
              and j.installation_id is not distinct from runner_caches.installation_id
          ) as in_use`,
        ),
      )
      .orderBy("lastUsedAt", "asc");
  }

  /** The caches of these repositories on every host, with the hosts' endpoints. */
  static async withHosts(knex: Knex, repoKeys: readonly string[]): Promise<CacheWithHost[]> {
    return knex("runner_caches as c")
      .join("runner_hosts as h", "h.id", "c.runnerHostId")
      .whereIn("c.repoKey", repoKeys)
      .select("c.id", "c.volume", "h.dockerEndpoint", "h.tlsPath", "h.sshHostKey");
  }

  static async recordSize(knex: Knex, id: number, sizeBytes: number): Promise<void> {
    await RunnerCache.query(knex).where({ id }).patch({ sizeBytes });
  }

  static async remove(knex: Knex, id: number): Promise<void> {
    await RunnerCache.query(knex).deleteById(id);
  }
}
