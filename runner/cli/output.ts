// What `npm run bisect` prints: progress and the result for people (stderr), one JSON object (stdout).
import type { CommitInfo } from "../git/commit-info";
import { termsOf, type Predicate } from "../engine/predicate";
import { shellQuote } from "./args";
import type {
  BisectionEvent,
  BisectionOutcome,
  BisectionResult,
  BisectionStep,
} from "../bisection/run-bisection";

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
  info
    ? `${short(sha)}  ${info.subject}\n    author: ${info.authorName} <${info.authorEmail}>, ${info.authorDate}`
    : short(sha);

/** The closing paragraph: what was found, in words (fixed / not yet fixed when hunting a fix). */
export function formatResult(
  result: BisectionResult,
  infos: Map<string, CommitInfo>,
  wallMs: number,
  options: { find?: Predicate["find"] } = {},
): string {
  const terms = termsOf(options.find);
  const lines: string[] = [];
  const stopped = result.cancelled > 0 ? ` (and ${result.cancelled} stopped early)` : "";
  const tally = `${result.steps.length} run${result.steps.length === 1 ? "" : "s"}${stopped} in ${result.rounds} round${result.rounds === 1 ? "" : "s"}, ${formatSeconds(wallMs)}`;
  switch (result.outcome) {
    case "found":
      lines.push(
        `found: the ${terms.first} is`,
        `    ${describeCommit(infos.get(result.culprit!), result.culprit!)}`,
      );
      break;
    case "likely":
      lines.push(
        `likely (not sure): the ${terms.first} is probably`,
        `    ${describeCommit(infos.get(result.culprit!), result.culprit!)}`,
      );
      break;
    case "ambiguous":
      lines.push(
        `ambiguous: the ${terms.first} is one of these ${result.candidates.length} (some could not be tested):`,
      );
      for (const sha of result.candidates.slice(0, 30)) {
        const info = infos.get(sha);
        lines.push(`    ${short(sha)}  ${info?.subject ?? ""}`);
      }
      if (result.candidates.length > 30)
        lines.push(`    … and ${result.candidates.length - 30} more`);
      break;
    default:
      lines.push(`${result.outcome}:`);
  }
  if (result.explanation) lines.push(`    ${result.explanation}`);
  if ((result.outcome === "found" || result.outcome === "likely") && result.confidence < 1)
    lines.push(`    confidence ${result.confidence.toFixed(2)}`);
  lines.push(`    ${tally}`);
  return lines.join("\n");
}

/**
 * What to do about exit codes that say more than "the test failed": 127 and 126 (the command
 * cannot run where it runs), 139 and 134 (crashes). One hint per code seen, in a stable order.
 */
export function exitCodeHints(
  result: Pick<BisectionResult, "steps">,
  context: { image: boolean; crash?: Predicate["crash"] },
): string[] {
  const codes = new Set(result.steps.map((s) => s.exitCode));
  const reasons = result.steps.map((s) => s.reason ?? "");
  const crashAdvice =
    context.crash === "bad"
      ? "crashes already count as bad here (--crash bad)"
      : "a crash counts as untestable (skip) by default; if the crash is the regression, run again with --crash bad";
  const hints: string[] = [];
  if (codes.has(127))
    hints.push(
      context.image
        ? "hint: exit 127 means command not found: the image the runs use lacks the command (every commit runs in the same image). Choose an image that has it with --image IMG (an image with the project's toolchain), check the spelling, or call it by its path in the repository."
        : "hint: exit 127 means command not found: it is not on this machine's PATH. Install it, check the spelling, or call it by its path in the repository.",
    );
  if (codes.has(126))
    hints.push(
      "hint: exit 126 means the command was found but is not executable: commit the script with its executable bit (git update-index --chmod=+x FILE) or run it through its interpreter (sh ./test.sh).",
    );
  if (codes.has(139) || reasons.some((r) => r.includes("SIGSEGV")))
    hints.push(
      `hint: exit 139 is a segmentation fault (SIGSEGV), a crash: ${crashAdvice}. To see where it crashes, run that commit under a debugger (gdb --args …) or with AddressSanitizer.`,
    );
  if (codes.has(134) || reasons.some((r) => r.includes("SIGABRT")))
    hints.push(
      `hint: exit 134 is an abort (SIGABRT), usually a failed assertion or an uncaught C++ exception; the output just before it says which: ${crashAdvice}.`,
    );
  return hints;
}

/**
 * The command that re-measures a likely culprit against its parent with the flaky preset: the
 * same options and test command, --good set to the parent and --bad to the culprit.
 */
export function settleCommand(argv: readonly string[], parent: string, culprit: string): string {
  const split = argv.indexOf("--");
  const options = split === -1 ? [...argv] : argv.slice(0, split);
  const command = split === -1 ? [] : argv.slice(split + 1);
  const dropWithValue = new Set(["--good", "--bad", "--runs", "--fail-threshold"]);
  const kept: string[] = [];
  for (let i = 0; i < options.length; i++) {
    const arg = options[i]!;
    const name = arg.split("=")[0]!;
    if (dropWithValue.has(name)) {
      if (!arg.includes("=")) i++;
      continue;
    }
    if (arg === "--flaky") continue;
    kept.push(arg);
  }
  const args = [...kept, "--good", parent, "--bad", culprit, "--flaky", "--", ...command];
  return `npm run bisect -- ${args.map(shellQuote).join(" ")}`;
}

export interface JsonResult {
  outcome: BisectionOutcome;
  culprit: string | null;
  candidates: string[];
  rounds: number;
  steps: {
    sha: string;
    verdict: string;
    exitCode: number | null;
    durationMs: number;
    round: number;
    reason?: string;
  }[];
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
