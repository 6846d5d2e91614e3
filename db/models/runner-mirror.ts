// Which runner host holds a mirror of which repository: host choice, freshness, one fetch at a
// time (a row lock with a deadline), least-recently-used eviction.
import type { Knex } from "knex";
import { BaseModel } from "./base-model";

/** A mirror's row with the endpoint of its host: enough to reach its volume. */
export interface MirrorWithHost {
  id: number;
  volume: string;
  dockerEndpoint: string;
  tlsPath: string | null;
  sshHostKey: string | null;
}

export class RunnerMirror extends BaseModel {
  static override tableName = "runner_mirrors";

  id!: number;
  runnerHostId!: number;
  /** github:<repository id> or url:<clone source> */
  repoKey!: string;
  volume!: string;
  sizeBytes!: number;
  lastFetchedAt!: Date | null;
  lastUsedAt!: Date;
  /** A digest of the remote's refs when the mirror was last fetched (null: unknown). */
  remoteRefs!: string | null;
  fetchLockHolder!: string | null;
  fetchLockUntil!: Date | null;
  createdAt!: Date;
  updatedAt!: Date;

  /** The host's row for this repository, made on first use. */
  static async ensure(
    knex: Knex,
    runnerHostId: number,
    repoKey: string,
    volume: string,
  ): Promise<RunnerMirror> {
    await RunnerMirror.query(knex)
      .insert({ runnerHostId, repoKey, volume })
      .onConflict(["runnerHostId", "repoKey"])
      .ignore();
    return (await RunnerMirror.query(knex).findOne({ runnerHostId, repoKey }))!;
  }

  /** Hosts whose mirror of the repository was fetched at or after `since`. */
  static async hostsFetchedSince(knex: Knex, repoKey: string, since: Date): Promise<number[]> {
    const rows = await RunnerMirror.query(knex)
      .where({ repoKey })
      .where("lastFetchedAt", ">=", since)
      .select("runnerHostId");
    return rows.map((r) => Number(r.runnerHostId));
  }

  /** The host's mirrors, least recently used first. */
  static async byLastUse(knex: Knex, runnerHostId: number): Promise<RunnerMirror[]> {
    return RunnerMirror.query(knex).where({ runnerHostId }).orderBy("lastUsedAt", "asc");
  }

  /** The mirrors of these repositories on every host, with the hosts' endpoints. */
  static async withHosts(knex: Knex, repoKeys: readonly string[]): Promise<MirrorWithHost[]> {
    return knex("runner_mirrors as m")
      .join("runner_hosts as h", "h.id", "m.runnerHostId")
      .whereIn("m.repoKey", repoKeys)
      .select("m.id", "m.volume", "h.dockerEndpoint", "h.tlsPath", "h.sshHostKey");
  }

  /** Whether a fetch into this volume on this host holds its lock now. */
  static async isFetching(knex: Knex, runnerHostId: number, volume: string): Promise<boolean> {
    const row = await RunnerMirror.query(knex)
      .where({ runnerHostId, volume })
      .where("fetchLockUntil", ">", knex.fn.now())
      .first();
    return row !== undefined;
  }

  static async remove(knex: Knex, id: number): Promise<void> {
    await RunnerMirror.query(knex).deleteById(id);
  }

  /** Takes the fetch lock for `seconds` unless another holder has it; true when taken. */
  async lockFetch(knex: Knex, holder: string, seconds: number): Promise<boolean> {
    const locked = await RunnerMirror.query(knex)
      .where({ id: this.id })
      .where((q) => q.whereNull("fetchLockUntil").orWhere("fetchLockUntil", "<", knex.fn.now()))
      .patch({
        fetchLockHolder: holder,
        fetchLockUntil: knex.raw("now() + make_interval(secs => ?)", [seconds]) as unknown as Date,
      });
    return locked > 0;
  }

  /** Gives the fetch lock back (only if `holder` still has it). */
  async unlockFetch(knex: Knex, holder: string): Promise<void> {
    await RunnerMirror.query(knex)
      .where({ id: this.id, fetchLockHolder: holder })
      .patch({ fetchLockHolder: null, fetchLockUntil: null });
  }

  /** Used now (a run of a job reads it). */
  async touch(knex: Knex): Promise<void> {
    await RunnerMirror.query(knex)
      .where({ id: this.id })
      .patch({ lastUsedAt: knex.fn.now() as unknown as Date });
  }

  /** Fetched now: its size, and the remote's refs it now holds (when known). */
  async recordFetch(knex: Knex, sizeBytes: number, remoteRefs: string | null): Promise<void> {
    await RunnerMirror.query(knex)
      .where({ id: this.id })
      .patch({
        sizeBytes,
        remoteRefs,
        lastFetchedAt: knex.fn.now() as unknown as Date,
        lastUsedAt: knex.fn.now() as unknown as Date,
      });
  }

  /** Up to date without a fetch: the remote's refs were unchanged. */
  async recordUnchanged(knex: Knex): Promise<void> {
    await RunnerMirror.query(knex)
      .where({ id: this.id })
      .patch({
        lastFetchedAt: knex.fn.now() as unknown as Date,
        lastUsedAt: knex.fn.now() as unknown as Date,
      });
  }
}
