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
}

/** The first day of the month of `date`, UTC, as 'YYYY-MM-01'. */
export function monthOf(date: Date): string {
  return `${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, "0")}-01`;
}
