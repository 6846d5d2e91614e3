// Admin: usage against the plans, and the monthly roll-over that opens each month's usage rows.
import type { Knex } from "knex";
import { monthOf, UsageStat } from "../../db/models";
import type { ArgsOf } from "./commands";

export interface UsageLine {
  installationId: number;
  login: string;
  tier: string;
  state: "active" | "suspended" | "deleted";
  /** Jobs counted against the monthly quota. */
  jobs: number;
  computeMinutes: number;
  jobsPerMonth: number | null;
  maxDurationMinutes: number;
  maxConcurrent: number;
  /** jobs ÷ jobsPerMonth in percent, one decimal; null for an unlimited plan. */
  quotaPercent: number | null;
}

export interface UsageReport {
  month: string;
  installations: UsageLine[];
  totals: { jobs: number; computeMinutes: number };
}

/** Percent of a quota used, one decimal; null when the plan is unlimited. */
export function quotaPercent(jobs: number, limit: number | null): number | null {
  if (limit === null) return null;
  if (limit === 0) return jobs > 0 ? 100 : 0;
  return Math.round((jobs / limit) * 1000) / 10;
}

/** Installed installations, plus any that used something that month (since uninstalled). */
export async function usageReport(
  knex: Knex,
  args: ArgsOf<"usage.report">,
  now = new Date(),
): Promise<UsageReport> {
  const month = args.month ? `${args.month}-01` : monthOf(now);
  const rows = (await knex("installations as i")
    .join("rateLimits as p", "p.tier", "i.tier")
    .leftJoin("usageStats as u", (j) => j.on("u.installationId", "i.id").andOnVal("u.month", month))
    .where((q) => q.whereNull("i.deletedAt").orWhereNotNull("u.id"))
    .orderBy("i.accountLogin")
    .orderBy("i.id")
    .select(
      "i.id",
      "i.accountLogin",
      "i.tier",
      "i.suspendedAt",
      "i.deletedAt",
      "p.jobsPerMonth",
      "p.maxDurationSeconds",
      "p.maxConcurrent",
      knex.raw("coalesce(u.jobs, 0) as jobs"),
      knex.raw("coalesce(u.compute_seconds, 0) as compute_seconds"),
    )) as Array<{
    id: number;
    accountLogin: string;
    tier: string;
    suspendedAt: Date | null;
    deletedAt: Date | null;
    jobsPerMonth: number | null;
    maxDurationSeconds: number;
    maxConcurrent: number;
    jobs: number;
    computeSeconds: number;
  }>;
  const installations = rows.map((r) => ({
    installationId: Number(r.id),
    login: r.accountLogin,
    tier: r.tier,
    state: r.deletedAt
      ? ("deleted" as const)
      : r.suspendedAt
        ? ("suspended" as const)
        : ("active" as const),
    jobs: Number(r.jobs),
    computeMinutes: Math.round(Number(r.computeSeconds) / 6) / 10,
    jobsPerMonth: r.jobsPerMonth,
    maxDurationMinutes: Math.round(r.maxDurationSeconds / 60),
    maxConcurrent: r.maxConcurrent,
    quotaPercent: quotaPercent(Number(r.jobs), r.jobsPerMonth),
  }));
  const computeSeconds = rows.reduce((sum, r) => sum + Number(r.computeSeconds), 0);
  return {
    month: month.slice(0, 7),
    installations,
    totals: {
      jobs: installations.reduce((sum, i) => sum + i.jobs, 0),
      computeMinutes: Math.round(computeSeconds / 6) / 10,
    },
  };
}

/**
 * Opens the month: every usable installation gets its usage row for the month of `now` with zero
 * counts (existing rows are left alone), so quota reads find a row and the boundary is explicit.
 */
export async function rollOverUsage(
  knex: Knex,
  now = new Date(),
): Promise<{ month: string; created: number }> {
  const month = monthOf(now);
  const created = await UsageStat.openMonth(knex, month);
  return { month: month.slice(0, 7), created };
}
