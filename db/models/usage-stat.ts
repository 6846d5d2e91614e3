import type { Knex } from "knex";
import { BaseModel } from "./base-model";

/** One installation's usage in one calendar month (UTC). */
export class UsageStat extends BaseModel {
  static override tableName = "usage_stats";

  id!: number;
  installationId!: number;
  /** 'YYYY-MM-01' */
  month!: string;
  jobs!: number;
  computeSeconds!: number;
  createdAt!: Date;
  updatedAt!: Date;

  /**
   * The jobs counted this month, with the month's row created if needed and locked until the
   * transaction ends: concurrent admissions of one installation wait here, so a quota cannot be
   * overrun by parallel requests.
   */
  static async reserve(
    trx: Knex.Transaction,
    installationId: number,
    month: string,
  ): Promise<number> {
    await trx("usage_stats")
      .insert({ installationId, month, jobs: 0 })
      .onConflict(["installationId", "month"])
      .ignore();
    const row = await UsageStat.query(trx).findOne({ installationId, month }).forUpdate();
    return row?.jobs ?? 0;
  }

  /** One more job this month (after `reserve` in the same transaction). */
  static async countJob(
    trx: Knex.Transaction,
    installationId: number,
    month: string,
  ): Promise<void> {
    await UsageStat.query(trx).where({ installationId, month }).increment("jobs", 1);
  }

  /** A finished run's time, added to the month's compute (the row made if needed). */
  static async addComputeSeconds(
    db: Knex | Knex.Transaction,
    installationId: number,
    month: string,
    seconds: number,
  ): Promise<void> {
    await db("usage_stats")
      .insert({ installationId, month, jobs: 0, computeSeconds: seconds })
      .onConflict(["installationId", "month"])
      .merge({ computeSeconds: db.raw("usage_stats.compute_seconds + excluded.compute_seconds") });
  }

  /**
   * Opens the month for every usable installation: a zero row each (existing rows are left
   * alone). Returns how many rows were made.
   */
  static async openMonth(db: Knex | Knex.Transaction, month: string): Promise<number> {
    const { rowCount } = await db.raw<{ rowCount: number }>(
      `insert into usage_stats (installation_id, month, jobs, compute_seconds)
       select id, ?::date, 0, 0 from installations where deleted_at is null and suspended_at is null
       on conflict (installation_id, month) do nothing`,
      [month],
    );
    return rowCount ?? 0;
  }
}

/** The first day of the month of `date`, UTC, as 'YYYY-MM-01'. */
export function monthOf(date: Date): string {
  return `${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, "0")}-01`;
}
