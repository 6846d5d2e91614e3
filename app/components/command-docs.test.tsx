// /docs says what the code does: the parser's limits and options, and the verdict rules.
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { formatDuration, parseCommand, parseDuration } from "../../jobs/github/command";
import { LIMITS, OPTION_NAMES } from "../../jobs/github/limits";
import {
  classifyRun,
  defaultPredicate,
  describePredicate,
  FLAKY_CONFIRM_RUNS,
  FLAKY_RUNS,
  FLAKY_THRESHOLD,
  MAX_PATTERN_LENGTH,
  type Predicate,
} from "../../runner/engine";
import { CommandReference, ResultReference } from "./command-docs";

const page = renderToStaticMarkup(
  <>
    <CommandReference />
    <ResultReference />
  </>,
)
  .replace(/<[^>]+>/g, "")
  .replace(/&#x27;|&rsquo;/g, "’")
  .replace(/&amp;/g, "&")
  .replace(/&quot;|&ldquo;|&rdquo;/g, '"');

describe("/docs against the parser", () => {
  it("names every option", () => {
    for (const name of OPTION_NAMES) expect(page).toContain(name);
  });

  it("gives the parser's bounds", () => {
    expect(page).toContain(`Runs per commit (${LIMITS.runs.min}–${LIMITS.runs.max})`);
    expect(page).toContain(`(${LIMITS.parallel.min}–${LIMITS.parallel.max}, within your plan`);
    expect(page).toContain(
      `from ${formatDuration(LIMITS.timeoutSeconds.min)} to ${formatDuration(LIMITS.timeoutSeconds.max)}`,
    );
    expect(parseDuration("24h")).toBe(LIMITS.timeoutSeconds.max);
    expect(page).toContain(`at most ${MAX_PATTERN_LENGTH} characters`);
    expect(page).toContain(`at most ${LIMITS.commandLength.toLocaleString("en")} characters`);
    expect(page).toContain(
      `${FLAKY_RUNS} runs per commit, bad when ${FLAKY_THRESHOLD} or more fail, and up to ${FLAKY_CONFIRM_RUNS} runs`,
    );
  });

  it("its examples parse", () => {
    expect(
      parseCommand("/bisect v1 main --bad-if-output `panicked at|Segfault` -- x"),
    ).toMatchObject({ kind: "bisect", badIfOutput: "panicked at|Segfault" });
    for (const d of ["90s", "10m", "1h30m"]) expect(parseDuration(d)).not.toBeNull();
  });
});

describe("/docs against the verdict rules", () => {
  const p = (over: Partial<Predicate> = {}): Predicate => ({ ...defaultPredicate, ...over });
  const run = (over: Record<string, unknown>) => ({
    exitCode: 0,
    signal: null,
    timedOut: false,
    oomKilled: false,
    aborted: false,
    log: "",
    ...over,
  });

  it("states the defaults in the answer's own words", () => {
    for (const line of describePredicate(defaultPredicate)) expect(page).toContain(line);
    expect(page).not.toMatch(/anything else is bad/i);
  });

  // One row per sentence of the ordered rules on the page.
  it.each<[string, Record<string, unknown>, Partial<Predicate>, string]>([
    ["infrastructure failure", { exitCode: null }, { crash: "bad", timeout: "bad" }, "error"],
    ["memory", { exitCode: 137, oomKilled: true }, { crash: "bad" }, "skip"],
    ["time limit, default", { exitCode: null, timedOut: true }, {}, "skip"],
    ["time limit, --timeout-is bad", { exitCode: null, timedOut: true }, { timeout: "bad" }, "bad"],
    ["exit 125", { exitCode: 125 }, { badIfOutput: "x" }, "skip"],
    ["disk full", { exitCode: 1, log: "No space left on device" }, {}, "skip"],
    ["output matches", { exitCode: 0, log: "panicked at x" }, { badIfOutput: "panicked" }, "bad"],
    ["crash, default", { exitCode: 139 }, {}, "skip"],
    ["crash, --crash bad", { exitCode: 139 }, { crash: "bad" }, "bad"],
    ["signal, --crash bad", { exitCode: null, signal: "SIGKILL" }, { crash: "bad" }, "bad"],
    ["exit 128", { exitCode: 128 }, {}, "skip"],
    ["exit 0", { exitCode: 0 }, {}, "good"],
    ["exit 1", { exitCode: 1 }, {}, "bad"],
    ["exit 127", { exitCode: 127 }, {}, "bad"],
    [
      "output does not match, exit 1",
      { exitCode: 1, log: "ok" },
      { badIfOutput: "panicked" },
      "good",
    ],
    ["--find fix, passing", { exitCode: 0 }, { find: "fix" }, "bad"],
    ["--find fix, failing", { exitCode: 1 }, { find: "fix" }, "good"],
  ])("%s", (_name, result, predicate, verdict) => {
    expect(classifyRun(run(result), { predicate: p(predicate) }).verdict).toBe(verdict);
  });

  it("describes the rules in the classifier's order", () => {
    const order = [
      "An infrastructure failure",
      "too much memory",
      "hits the time limit is skipped",
      "Exit 125",
      "No space left on device",
      "a run whose output matches is bad",
      "A crash (exit 128 or more, or a signal) is skipped",
      "Otherwise exit 0 is good and exit 1–127 is bad",
    ].map((s) => page.indexOf(s));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });
});
