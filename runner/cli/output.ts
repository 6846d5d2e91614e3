// What `npm run bisect` prints: progress and the result for people (stderr), one JSON object (stdout).
import type { CommitInfo } from "../git/commit-info.js";
import type { BisectionEvent, BisectionOutcome, BisectionResult, BisectionStep } from "../bisection/run-bisection.js";

export const short = (sha: string) => sha.slice(0, 10);

export function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** One line per event worth a person's attention; null for the others. */
export function formatEvent(event: BisectionEvent): string | null {
  switch (event.type) {
    case "round":
      return `round ${event.round}: ${event.candidates} candidate${event.candidates === 1 ? "" : "s"} left`;
    case "step-finished":
      return `  ${formatStep(event.step)}`;
    case "step-cancelled":
      return `  r${event.round} ${short(event.sha)}  stopped: its verdict can no longer change the result`;
    default:
      return null;
  }
}

export function formatStep(step: BisectionStep): string {
  const why = step.reason ?? (step.exitCode === null ? "" : `exit ${step.exitCode}`);
  return `r${step.round} ${short(step.sha)}  ${step.verdict.padEnd(5)}  ${formatSeconds(step.durationMs).padStart(7)}${why ? `  ${why}` : ""}`;
}

const describeCommit = (info: CommitInfo | undefined, sha: string) =>
  info ? `${short(sha)}  ${info.subject}\n    author: ${info.authorName} <${info.authorEmail}>, ${info.authorDate}` : short(sha);

/** The closing paragraph: what was found, in words. */
export function formatResult(
  result: BisectionResult,
  infos: Map<string, CommitInfo>,
  wallMs: number,
): string {
  const lines: string[] = [];
  const stopped = result.cancelled > 0 ? ` (and ${result.cancelled} stopped early)` : "";
  const tally = `${result.steps.length} run${result.steps.length === 1 ? "" : "s"}${stopped} in ${result.rounds} round${result.rounds === 1 ? "" : "s"}, ${formatSeconds(wallMs)}`;
  switch (result.outcome) {
    case "found":
      lines.push(`found: the first bad commit is`, `    ${describeCommit(infos.get(result.culprit!), result.culprit!)}`);
      break;
    case "ambiguous":
      lines.push(`ambiguous: the first bad commit is one of these ${result.candidates.length} (some could not be tested):`);
      for (const sha of result.candidates.slice(0, 30)) {
        const info = infos.get(sha);
        lines.push(`    ${short(sha)}  ${info?.subject ?? ""}`);
      }
      if (result.candidates.length > 30) lines.push(`    … and ${result.candidates.length - 30} more`);
      break;
    default:
      lines.push(`${result.outcome}:`);
  }
  if (result.explanation) lines.push(`    ${result.explanation}`);
  if (result.outcome === "found" && result.confidence < 1) lines.push(`    confidence ${result.confidence.toFixed(2)}`);
  lines.push(`    ${tally}`);
  return lines.join("\n");
}

export interface JsonResult {
  outcome: BisectionOutcome;
  culprit: string | null;
  candidates: string[];
  rounds: number;
  steps: { sha: string; verdict: string; exitCode: number | null; durationMs: number; round: number; reason?: string }[];
  confidence: number;
  explanation: string;
  culpritInfo?: CommitInfo;
  range?: { good: string; bad: string; commits: number };
  aborted?: boolean;
  error?: string;
}

export function toJson(
  result: BisectionResult,
  extra: { culpritInfo?: CommitInfo; range?: JsonResult["range"] } = {},
): JsonResult {
  return {
    outcome: result.outcome,
    culprit: result.culprit,
    candidates: result.candidates,
    rounds: result.rounds,
    steps: result.steps.map((s) => ({
      sha: s.sha,
      verdict: s.verdict,
      exitCode: s.exitCode,
      durationMs: s.durationMs,
      round: s.round,
      ...(s.reason ? { reason: s.reason } : {}),
    })),
    confidence: result.confidence,
    explanation: result.explanation,
    ...(extra.culpritInfo ? { culpritInfo: extra.culpritInfo } : {}),
    ...(extra.range ? { range: extra.range } : {}),
    ...(result.aborted ? { aborted: true } : {}),
  };
}

/** The JSON of a run that failed before (or outside) the bisection itself. */
export function errorJson(message: string, aborted = false): JsonResult {
  return {
    outcome: "error",
    culprit: null,
    candidates: [],
    rounds: 0,
    steps: [],
    confidence: 0,
    explanation: message,
    error: message,
    ...(aborted ? { aborted: true } : {}),
  };
}
