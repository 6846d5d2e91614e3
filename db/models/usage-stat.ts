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
}

/** The first day of the month of `date`, UTC, as 'YYYY-MM-01'. */
export function monthOf(date: Date): string {
  return `${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, "0")}-01`;
}
