// Maps how one run ended (an executor's result, seen as a RunEnd) to a verdict, so "bad" only ever
// means "the test failed".
import { defaultPredicate, MAX_PATTERN_LENGTH, patternProblem, type Predicate } from "./predicate";
import type { RunEnd, Verdict } from "./types";

export interface ClassifyOptions {
  /** Count a run that hit the wall-clock timeout as bad (a hang is the bug) instead of skipped. */
  timeoutIsBad?: boolean;
  /** The run's meaning; overrides `timeoutIsBad`. Default: `defaultPredicate`. */
  predicate?: Predicate;
}

export interface Classification {
  verdict: Verdict;
  reason?: string;
}

/** Linux signal numbers, for exit codes 128 + n reported by shells and container runtimes. */
const SIGNALS: Record<number, string> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  4: "SIGILL",
  5: "SIGTRAP",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  10: "SIGUSR1",
  11: "SIGSEGV",
  12: "SIGUSR2",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
  16: "SIGSTKFLT",
  17: "SIGCHLD",
  18: "SIGCONT",
  19: "SIGSTOP",
  20: "SIGTSTP",
  21: "SIGTTIN",
  22: "SIGTTOU",
  23: "SIGURG",
  24: "SIGXCPU",
  25: "SIGXFSZ",
  26: "SIGVTALRM",
  27: "SIGPROF",
  28: "SIGWINCH",
  29: "SIGIO",
  30: "SIGPWR",
  31: "SIGSYS",
};

/** "SIGSEGV" for 11; "signal 40" for numbers without a name. */
export function signalName(n: number): string {
  return SIGNALS[n] ?? `signal ${n}`;
}

/** Output looked at by `badIfOutput` and the disk-full check: the last 64 KiB, lines cut at 4 KiB. */
const EXCERPT_BYTES = 64 * 1024;
const LINE_CHARS = 4096;
const DISK_FULL = /No space left on device|ENOSPC/;

const compiled = new Map<string, RegExp>();
function compile(source: string): RegExp {
  let re = compiled.get(source);
  if (!re) {
    // Checked again here: a predicate read from stored options may not have gone through validation.
    const problem = source.length > MAX_PATTERN_LENGTH ? "too long" : patternProblem(source);
    if (problem) throw new RangeError(`badIfOutput ${problem}`);
    re = new RegExp(source);
    if (compiled.size > 100) compiled.clear();
    compiled.set(source, re);
  }
  return re;
}

/** Whether any line of the output's bounded excerpt matches. */
export function outputMatches(log: string, source: string): boolean {
  const re = compile(source);
  const excerpt = log.length > EXCERPT_BYTES ? log.slice(log.length - EXCERPT_BYTES) : log;
  for (const line of excerpt.split("\n")) {
    if (re.test(line.length > LINE_CHARS ? line.slice(0, LINE_CHARS) : line)) return true;
  }
  return false;
}

type Outcome = { fails: boolean; reason?: string } | Classification;

/**
 * The rules, in order (first match wins); "fails"/"passes" then become bad/good, or the other way
 * round when hunting a fix (`find: "fix"`: passing means fixed = bad, failing means not yet fixed = good):
 * - aborted (cancelled, worker shutting down) → error "aborted": the run says nothing about the commit;
 * - no exit code and no signal, or a negative one → error "infrastructure";
 * - OOM kill → skip "out of memory";
 * - wall-clock timeout → skip "timeout", or fails with `timeout: "bad"`;
 * - exit 125 → skip (git bisect's "cannot test");
 * - a run that did not pass and printed "No space left on device" → skip "disk full";
 * - `badIfOutput` given: output matches → fails; else a crash follows the crash rule, anything else passes;
 * - death by a signal, or exit ≥ 128 (128 + n: a shell reporting its child's death by signal n)
 *   → skip "killed by SIGxxx" / "exit N", or fails with `crash: "bad"`;
 * - exit 0 → passes; exit 1–127 → fails "exit N".
 * Infrastructure failures, OOM kills and a full disk are never bad nor good, whatever the options.
 */
export function classifyRun(result: RunEnd, options: ClassifyOptions = {}): Classification {
  const predicate: Predicate = options.predicate ?? {
    ...defaultPredicate,
    timeout: options.timeoutIsBad ? "bad" : "skip",
  };
  const o = judgeRun(result, predicate);
  if ("verdict" in o) return o;
  const fix = predicate.find === "fix";
  const verdict: Verdict = o.fails !== fix ? "bad" : "good";
  const reason = fix
    ? o.fails
      ? `not yet fixed: ${o.reason ?? "fails"}`
      : "fixed: passes"
    : o.reason;
  return reason ? { verdict, reason } : { verdict };
}

function judgeRun(result: RunEnd, p: Predicate): Outcome {
  if (result.aborted) return { verdict: "error", reason: "aborted" };
  const code = result.exitCode;
  const hasCode = code !== null && code !== undefined;
  if (!hasCode && !result.signal && !result.timedOut && !result.oomKilled && !result.diskFull)
    return { verdict: "error", reason: "infrastructure" };
  if (hasCode && (!Number.isInteger(code) || code < 0))
    return { verdict: "error", reason: `infrastructure: unexpected exit code ${code}` };
  if (result.oomKilled) return { verdict: "skip", reason: "out of memory" };
  // The executor stopped the run at its work directory's size limit.
  if (result.diskFull) return { verdict: "skip", reason: "disk full" };
  if (result.timedOut)
    return p.timeout === "bad"
      ? { fails: true, reason: "timeout" }
      : { verdict: "skip", reason: "timeout" };
  if (code === 125) return { verdict: "skip", reason: "exit 125 (cannot test this commit)" };
  const log = result.log ?? "";
  if (code !== 0 && DISK_FULL.test(log.slice(-EXCERPT_BYTES)))
    return { verdict: "skip", reason: "disk full (No space left on device)" };
  if (p.badIfOutput !== undefined && outputMatches(log, p.badIfOutput))
    return { fails: true, reason: "output matches" };
  const crash = result.signal
    ? `killed by ${result.signal}`
    : code! === 128 || code! >= 160
      ? `exit ${code}`
      : code! > 128
        ? `killed by ${signalName(code! - 128)}`
        : null;
  if (crash !== null)
    return p.crash === "bad"
      ? { fails: true, reason: `crash: ${crash}` }
      : { verdict: "skip", reason: crash };
  if (p.badIfOutput !== undefined) return { fails: false, reason: "output does not match" };
  if (code === 0) return { fails: false };
  return { fails: true, reason: `exit ${code}` };
}
