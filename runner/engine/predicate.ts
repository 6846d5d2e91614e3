// What a run's outcome means: one serialisable set of options shared by the CLI, a job's options
// and the repository config, with its defaults, its validation and its description in words.
import type { Policy } from "./types";

export interface Predicate {
  /** Exit codes ≥ 128 and deaths by a signal: a failure ("bad") or untestable ("skip"). */
  crash: "bad" | "skip";
  /** A run that hit the wall-clock timeout: a failure ("bad", a hang is the bug) or untestable. */
  timeout: "bad" | "skip";
  /**
   * A regular expression (JavaScript syntax, source only). When set, the output decides: a run
   * whose output matches fails, one that does not passes, whatever its exit code (except 125 and
   * the crash, timeout and infrastructure rules, which still apply).
   */
  badIfOutput?: string;
  /**
   * "regression": find the first commit where the test fails (good = passes, bad = fails).
   * "fix": find the first commit where it passes (git's old/new terms: good = still broken,
   * bad = fixed).
   */
  find: "regression" | "fix";
  /** Runs per commit (1–5). */
  runs: number;
  /** A commit fails when at least this many of its runs fail (1..runs). */
  failThreshold: number;
  /**
   * The flaky-test preset: 5 runs, majority threshold (3), and when the runs of a commit the
   * answer rests on disagree (an endpoint, the culprit, its parent), 15 runs of it before the
   * answer. Overrides `runs` and `failThreshold`.
   */
  flaky: boolean;
}

export const defaultPredicate: Predicate = Object.freeze({
  crash: "skip",
  timeout: "skip",
  find: "regression",
  runs: 1,
  failThreshold: 1,
  flaky: false,
}) as Predicate;

export const FLAKY_RUNS = 5;
export const FLAKY_THRESHOLD = 3;
/** Results wanted on a commit the answer rests on when its runs disagree, with `--flaky`. */
export const FLAKY_CONFIRM_RUNS = 15;
export const MAX_RUNS = 5;
/** Longest accepted `badIfOutput` pattern, in characters. */
export const MAX_PATTERN_LENGTH = 200;

export class PredicateError extends Error {
  override name = "PredicateError";
}

/**
 * Why a pattern is refused, or null. Besides compiling, patterns that can backtrack
 * catastrophically are refused: back-references, and a quantified group that itself holds a
 * quantifier or an alternation ((a+)+, (a|aa)*). Matching runs over a bounded excerpt as well.
 */
export function patternProblem(source: string): string | null {
  if (source.length === 0) return "is empty";
  if (source.length > MAX_PATTERN_LENGTH) return `is longer than ${MAX_PATTERN_LENGTH} characters`;
  if ([...source].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
    return "contains control characters";
  try {
    new RegExp(source, "m");
  } catch (error) {
    return `is not a valid regular expression (${error instanceof Error ? error.message : String(error)})`;
  }
  if (/\\[1-9]|\\k</.test(source))
    return "uses a back-reference, which can make matching very slow";
  if (hasNestedQuantifier(source))
    return "repeats a group that itself repeats or alternates (like (a+)+), which can make matching very slow";
  return null;
}

/** A group followed by a quantifier whose body holds a quantifier or `|` (escapes and classes skipped). */
function hasNestedQuantifier(source: string): boolean {
  // For each open group: whether its body (so far) holds a quantifier or an alternation.
  const stack: boolean[] = [];
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i]!;
    if (ch === "\\") {
      i++;
      continue;
    }
    if (inClass) {
      if (ch === "]") inClass = false;
      continue;
    }
    if (ch === "[") inClass = true;
    else if (ch === "(") stack.push(false);
    else if (ch === "|" && stack.length > 0) stack[stack.length - 1] = true;
    else if ((ch === "*" || ch === "+" || ch === "?" || ch === "{") && stack.length > 0) {
      // "(?:" and "(?=" are group syntax, not a quantifier.
      if (ch === "?" && source[i - 1] === "(") continue;
      stack[stack.length - 1] = true;
    } else if (ch === ")") {
      const risky = stack.pop() ?? false;
      const next = source[i + 1];
      if (risky && (next === "*" || next === "+" || next === "{")) return true;
      if (risky && stack.length > 0) stack[stack.length - 1] = true;
    }
  }
  return false;
}

const isInt = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x);

/**
 * Defaults filled in and every field checked; throws PredicateError with one sentence per problem.
 * Unknown fields are refused, so a typo in a config is an error rather than a silent default.
 */
export function normalizePredicate(input: unknown): Predicate {
  if (input === undefined || input === null) return { ...defaultPredicate };
  if (typeof input !== "object" || Array.isArray(input))
    throw new PredicateError("the predicate must be an object");
  const raw = input as Record<string, unknown>;
  const problems: string[] = [];
  const known = new Set([
    "crash",
    "timeout",
    "badIfOutput",
    "find",
    "runs",
    "failThreshold",
    "flaky",
  ]);
  for (const key of Object.keys(raw))
    if (!known.has(key)) problems.push(`unknown predicate option ${JSON.stringify(key)}`);

  const choice = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const v = raw[key];
    if (v === undefined) return fallback;
    if (typeof v === "string" && (allowed as readonly string[]).includes(v)) return v as T;
    problems.push(`${key} must be ${allowed.join(" or ")}, got ${JSON.stringify(v)}`);
    return fallback;
  };
  const crash = choice("crash", ["bad", "skip"], defaultPredicate.crash);
  const timeout = choice("timeout", ["bad", "skip"], defaultPredicate.timeout);
  const find = choice("find", ["regression", "fix"], defaultPredicate.find);

  let flaky = false;
  if (raw.flaky !== undefined) {
    if (typeof raw.flaky === "boolean") flaky = raw.flaky;
    else problems.push(`flaky must be true or false, got ${JSON.stringify(raw.flaky)}`);
  }
  let runs = defaultPredicate.runs;
  if (raw.runs !== undefined) {
    if (isInt(raw.runs) && raw.runs >= 1 && raw.runs <= MAX_RUNS) runs = raw.runs;
    else
      problems.push(
        `runs must be an integer from 1 to ${MAX_RUNS}, got ${JSON.stringify(raw.runs)}`,
      );
  }
  let failThreshold = defaultPredicate.failThreshold;
  if (raw.failThreshold !== undefined) {
    if (isInt(raw.failThreshold) && raw.failThreshold >= 1 && raw.failThreshold <= MAX_RUNS)
      failThreshold = raw.failThreshold;
    else
      problems.push(
        `failThreshold must be an integer from 1 to ${MAX_RUNS}, got ${JSON.stringify(raw.failThreshold)}`,
      );
  }
  if (flaky) {
    if (raw.runs !== undefined || raw.failThreshold !== undefined)
      problems.push(
        "flaky sets runs and failThreshold itself; give either flaky or runs/failThreshold",
      );
    runs = FLAKY_RUNS;
    failThreshold = FLAKY_THRESHOLD;
  } else if (failThreshold > runs) {
    problems.push(
      `failThreshold ${failThreshold} is more than runs ${runs} (a commit cannot fail more often than it runs)`,
    );
  }

  let badIfOutput: string | undefined;
  if (raw.badIfOutput !== undefined) {
    if (typeof raw.badIfOutput !== "string") problems.push("badIfOutput must be a string");
    else {
      const problem = patternProblem(raw.badIfOutput);
      if (problem)
        problems.push(`badIfOutput ${JSON.stringify(raw.badIfOutput.slice(0, 60))} ${problem}`);
      else badIfOutput = raw.badIfOutput;
    }
  }
  if (problems.length > 0) throw new PredicateError(problems.join("; "));
  return {
    crash,
    timeout,
    ...(badIfOutput !== undefined ? { badIfOutput } : {}),
    find,
    runs,
    failThreshold,
    flaky,
  };
}

/** The engine's policy fields that follow from a predicate. */
export function policyOfPredicate(
  p: Predicate,
): Pick<Policy, "runs" | "failThreshold" | "confirmRuns" | "find"> {
  return {
    runs: p.runs,
    failThreshold: p.failThreshold,
    confirmRuns: p.flaky ? FLAKY_CONFIRM_RUNS : p.runs,
    find: p.find,
  };
}

/** The words of one side of a bisection, so every text can say "fixed" when hunting a fix. */
export interface Terms {
  /** What the engine's "bad" is called: "bad" / "fixed". */
  bad: string;
  /** What the engine's "good" is called: "good" / "not yet fixed". */
  good: string;
  /** "first bad commit" / "first fixed commit". */
  first: string;
  /** How the good revision is called: "good revision" / "old revision (not yet fixed)". */
  goodRevision: string;
  badRevision: string;
  /** Verb for a run counted bad / good: "fails" / "passes" (swapped when hunting a fix). */
  badVerb: "fails" | "passes";
  goodVerb: "fails" | "passes";
}

export function termsOf(find: Predicate["find"] | undefined): Terms {
  return find === "fix"
    ? {
        bad: "fixed",
        good: "not yet fixed",
        first: "first fixed commit",
        goodRevision: "old revision (not yet fixed)",
        badRevision: "new revision (fixed)",
        badVerb: "passes",
        goodVerb: "fails",
      }
    : {
        bad: "bad",
        good: "good",
        first: "first bad commit",
        goodRevision: "good revision",
        badRevision: "bad revision",
        badVerb: "fails",
        goodVerb: "passes",
      };
}

/**
 * The predicate in words, one short sentence per rule, e.g. "a crash (exit code ≥ 128 or a
 * signal) counts as bad". Always lists every rule, defaults included, so a reader never guesses.
 */
export function describePredicate(p: Predicate): string[] {
  const fix = p.find === "fix";
  const fail = fix ? "not yet fixed" : "bad";
  const lines: string[] = [];
  lines.push(
    fix
      ? "Looking for the first fixed commit: a run that passes means fixed, a run that fails means not yet fixed."
      : "Looking for the first bad commit: a run that passes (exit 0) is good, a failing one (exit 1–127 except 125) is bad.",
  );
  if (p.badIfOutput !== undefined)
    lines.push(
      `The output decides: a run whose output matches /${p.badIfOutput}/ counts as a failure (${fail}), one that does not counts as a pass, whatever its exit code.`,
    );
  lines.push(
    p.crash === "bad"
      ? `A crash (exit code ≥ 128 or a signal) counts as a failure (${fail}).`
      : "A crash (exit code ≥ 128 or a signal) counts as untestable (skip).",
  );
  lines.push(
    p.timeout === "bad"
      ? `A run that hits the time limit counts as a failure (${fail}).`
      : "A run that hits the time limit counts as untestable (skip).",
  );
  lines.push("Exit 125 means the commit cannot be tested (skip).");
  if (p.flaky)
    lines.push(
      `Flaky test: each commit runs ${FLAKY_RUNS} times and fails when ${FLAKY_THRESHOLD} or more runs fail; a commit the answer rests on whose runs disagree runs up to ${FLAKY_CONFIRM_RUNS} times.`,
    );
  else if (p.runs > 1)
    lines.push(
      `Each commit runs ${p.runs} times and fails when ${p.failThreshold} or more runs fail.`,
    );
  lines.push(
    "Infrastructure failures (out of memory, a full disk, a cancelled or lost run) never count as a failure.",
  );
  return lines;
}

/** A PredicateError's text with the field names replaced by the names a reader wrote. */
export function renamePredicateFields(message: string, names: Record<string, string>): string {
  return message.replace(
    // "…than it runs" is English, not the field.
    /(?<!it )\b(crash|timeout|badIfOutput|find|runs|failThreshold|flaky)\b/g,
    (field) => names[field] ?? field,
  );
}
