// The farm's version of the command line's pipelining refinements (runner/bisection): pure, over
// a job's step rows, so bisect__advance can decide without keeping state between verdicts.
import type { BisectStep } from "../../db/models";

/** The gathering window as a fraction of the typical run (as in the command line's loop). */
export const GATHER_FRACTION = 0.3;

type Timed = Pick<BisectStep, "status" | "verdict" | "startedAt" | "finishedAt" | "exitCode">;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * When a verdict arrives while other runs that started about as long ago are due to end within a
 * short window, the next probes are better chosen knowing their verdicts too (full multisection
 * instead of one probe per verdict). Returns the time until which to wait for them, or null to
 * decide now. A run counts as due from `typical - window` after its start until `typical +
 * window`: one that is late is not waited for, so a deferral never lasts much past the window.
 * The typical run is the median from lease to verdict of the job's runs that produced a result.
 */
export function gatherUntil(
  steps: readonly Timed[],
  now: number,
  fraction = GATHER_FRACTION,
): number | null {
  if (fraction <= 0) return null;
  const times = steps
    .filter((s) => s.status === "done" && s.verdict !== "error" && s.startedAt && s.finishedAt)
    .map((s) => s.finishedAt!.getTime() - s.startedAt!.getTime());
  if (times.length === 0) return null;
  const typical = median(times);
  const window = fraction * typical;
  const due = steps.filter((s) => {
    if (s.status !== "running" || !s.startedAt) return false;
    const elapsed = now - s.startedAt.getTime();
    return elapsed >= typical - window && elapsed < typical + window;
  });
  if (due.length === 0) return null;
  return Math.max(...due.map((s) => s.startedAt!.getTime() + typical + window));
}

/**
 * Whether probes queued now open a new round: a round is one generation of decisions, so it
 * changes only when a verdict (good or bad) that can narrow the range arrived since the current
 * round was opened — not an endpoint check's (`isEndpoint`), which confirms the range. Endpoint
 * checks, retries after an error and slots freed by a stopped run join the current round.
 */
export function opensRound(
  steps: readonly (Timed & Pick<BisectStep, "round" | "createdAt" | "sha">)[],
  round: number,
  isEndpoint: (sha: string) => boolean = () => false,
): boolean {
  if (round === 0) return true;
  const opened = Math.min(
    ...steps.filter((s) => s.round === round).map((s) => s.createdAt.getTime()),
  );
  if (!Number.isFinite(opened)) return true;
  return steps.some(
    (s) =>
      s.status === "done" &&
      (s.verdict === "good" || s.verdict === "bad") &&
      !isEndpoint(s.sha) &&
      s.finishedAt !== null &&
      s.finishedAt.getTime() > opened,
  );
}
