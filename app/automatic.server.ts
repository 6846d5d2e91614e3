// What the dashboard says about automatic bisection: per installation, why it is off (the
// `checks: read` permission not accepted yet); per job, the breakage that started it.
import { automaticUnavailable } from "../jobs/github/auto/handle";
import { getDb } from "./db.server";

/** Installation id → why automatic bisection is off (absent: it is available). */
export async function automaticOff(installationIds: number[]): Promise<Record<number, string>> {
  if (installationIds.length === 0) return {};
  const rows: Array<{ id: number; permissions: Record<string, string> | null }> = await getDb()(
    "installations",
  )
    .whereIn("id", installationIds)
    .select("id", "permissions");
  const off: Record<number, string> = {};
  for (const row of rows) {
    const reason = automaticUnavailable({ permissions: row.permissions ?? {} });
    if (reason) off[Number(row.id)] = reason;
  }
  return off;
}

export interface AutomaticView {
  checkName: string;
  greenSha: string;
  redSha: string;
  checkRunUrl: string | null;
  joinedRuns: number;
  notify: string;
  state: string;
  reportUrl: string | null;
  reportNote: string | null;
}

/** The breakage behind an automatic job (null for any other job). */
export async function automaticOfJob(jobId: number): Promise<AutomaticView | null> {
  const row = await getDb()("autoBisections")
    .where({ bisectJobId: jobId })
    .first(
      "checkName",
      "greenSha",
      "redSha",
      "checkRunUrl",
      "joinedRuns",
      "notify",
      "state",
      "reportUrl",
      "reportNote",
    );
  return row ? (row as AutomaticView) : null;
}
