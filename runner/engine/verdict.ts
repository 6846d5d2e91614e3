// Maps how one run ended (an executor's RunResult) to a verdict, so "bad" only ever means "the test failed".
import type { RunResult } from "../executors/types";
import type { Verdict } from "./types";

export interface ClassifyOptions {
  /** Count a run that hit the wall-clock timeout as bad (a hang is the bug) instead of skipped. */
  timeoutIsBad?: boolean;
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

/**
 * - aborted (cancelled, worker shutting down) → error "aborted": the run says nothing about the commit;
 * - OOM kill → skip "out of memory"; work directory full → skip "disk full";
 * - wall-clock timeout → skip "timeout" (bad "timeout" with `timeoutIsBad`);
 * - death by a signal → skip "killed by SIGxxx";
 * - no exit code and no signal → error "infrastructure";
 * - exit 0 → good; exit 125 → skip (git bisect's "cannot test"); exit 1–127 → bad "exit N";
 * - exit 128 + n → skip "killed by SIGxxx" (a shell reporting its child's death by signal n);
 *   other codes (≥ 160 or negative) → skip / error: never bad.
 * Infrastructure failures, timeouts (by default), OOM kills and signals are never "bad".
 */
export function classifyRun(
  result: Pick<
    RunResult,
    "exitCode" | "signal" | "timedOut" | "oomKilled" | "aborted" | "diskFull"
  >,
  options: ClassifyOptions = {},
): Classification {
  if (result.aborted) return { verdict: "error", reason: "aborted" };
  if (result.oomKilled) return { verdict: "skip", reason: "out of memory" };
  if (result.diskFull) return { verdict: "skip", reason: "disk full" };
  if (result.timedOut) return { verdict: options.timeoutIsBad ? "bad" : "skip", reason: "timeout" };
  if (result.signal) return { verdict: "skip", reason: `killed by ${result.signal}` };
  const code = result.exitCode;
  if (code === null || code === undefined) return { verdict: "error", reason: "infrastructure" };
  if (!Number.isInteger(code) || code < 0)
    return { verdict: "error", reason: `infrastructure: unexpected exit code ${code}` };
  if (code === 0) return { verdict: "good" };
  if (code === 125) return { verdict: "skip", reason: "exit 125 (cannot test this commit)" };
  if (code < 128) return { verdict: "bad", reason: `exit ${code}` };
  if (code > 128 && code < 160)
    return { verdict: "skip", reason: `killed by ${signalName(code - 128)}` };
  return { verdict: "skip", reason: `exit ${code}` };
}
