// One row per rule of the `/bisect` options and of `.github/bisect.yml`, boundaries included.
import { describe, expect, it } from "vitest";
import { normalizePredicate } from "../../runner/engine";
import { LIMITS, mergePredicateFields, parseCommand, predicateFieldsOf } from "./command";
import { OPTION_NAMES } from "./limits";
import { helpReply } from "./replies";
import { CONFIG_KEYS, parseRepoConfig } from "./repo-config";

const line = (options: string) => `/bisect v1 main ${options} -- ./t.sh`;
const parsed = (options: string) => {
  const r = parseCommand(line(options));
  if (r.kind !== "bisect") throw new Error(`expected a request, got ${JSON.stringify(r)}`);
  return r;
};
const refused = (body: string) => {
  const r = parseCommand(body);
  if (r.kind !== "error") throw new Error(`expected an error, got ${JSON.stringify(r)}`);
  return r.message;
};

describe("/bisect options: accepted", () => {
  it.each<[string, Record<string, unknown>]>([
    [`--runs ${LIMITS.runs.min}`, { runs: 1 }],
    [`--runs ${LIMITS.runs.max}`, { runs: 5 }],
    ["--runs 5 --fail-threshold 5", { runs: 5, failThreshold: 5 }],
    ["--runs 3 --fail-threshold 2", { runs: 3, failThreshold: 2 }],
    [`--parallel ${LIMITS.parallel.min}`, { parallel: 1 }],
    [`--parallel ${LIMITS.parallel.max}`, { parallel: 16 }],
    ["--timeout 1s", { timeoutSeconds: 1 }],
    ["--timeout 24h", { timeoutSeconds: 24 * 3600 }],
    ["--timeout 86400", { timeoutSeconds: 86400 }],
    ["--flaky", { flaky: true }],
    ["--crash bad", { crash: "bad" }],
    ["--crash=skip", { crash: "skip" }],
    ["--timeout-is bad", { timeoutIs: "bad" }],
    ["--find fix", { find: "fix" }],
    ["--find Regression", { find: "regression" }],
    ["--bad-if-output panicked", { badIfOutput: "panicked" }],
    [
      "--bad-if-output `panicked at|Segmentation fault`",
      { badIfOutput: "panicked at|Segmentation fault" },
    ],
    ['--bad-if-output "panicked at"', { badIfOutput: "panicked at" }],
    ['--bad-if-output="a b"', { badIfOutput: "a b" }],
    ["--bad-if-output ``a `b` c``", { badIfOutput: "a `b` c" }],
    [
      "--flaky --crash bad --find fix --first-parent",
      { flaky: true, crash: "bad", find: "fix", firstParent: true },
    ],
  ])("%s", (options, expected) => {
    const r = parsed(options);
    expect(r).toMatchObject({ ...expected, command: "./t.sh" });
  });

  it("keeps a quoted regular expression with spaces out of the command", () => {
    expect(parseCommand("/bisect v1 main --bad-if-output `a b` npm test")).toMatchObject({
      badIfOutput: "a b",
      command: "npm test",
    });
  });
});

describe("/bisect options: refused", () => {
  it.each<[string, RegExp]>([
    [line("--runs 0"), /--runs must be a whole number from 1 to 5/],
    [line("--runs 6"), /--runs must be a whole number from 1 to 5/],
    [line("--fail-threshold 0"), /--fail-threshold must be a whole number from 1 to 5/],
    [line("--fail-threshold 6"), /--fail-threshold must be a whole number from 1 to 5/],
    [line("--runs 2 --fail-threshold 3"), /--fail-threshold 3 is more than --runs 2/],
    [line("--fail-threshold 2"), /--fail-threshold 2 is more than --runs 1/],
    [line("--flaky --runs 3"), /--flaky sets --runs and --fail-threshold itself/],
    [line("--flaky=yes"), /`--flaky` takes no value/],
    [line("--parallel 0"), /--parallel must be a whole number from 1 to 16/],
    [line("--parallel 17"), /--parallel must be a whole number from 1 to 16/],
    [line("--timeout 0s"), /out of range: give from 1s to 24h/],
    [line("--timeout 24h1s"), /out of range: give from 1s to 24h/],
    [line("--timeout 86401"), /out of range/],
    [line("--timeout 1.5"), /is not a duration/],
    [line("--crash maybe"), /--crash must be `bad` or `skip`/],
    [line("--timeout-is hang"), /--timeout-is must be `bad` or `skip`/],
    [line("--find bug"), /--find must be `fix` or `regression`/],
    [line("--crash"), /`--crash` needs a value: `bad` or `skip`/],
    [
      "/bisect v1 main --bad-if-output -- ./t.sh",
      /`--bad-if-output` needs a value: a regular expression/,
    ],
    [line("--bad-if-output ("), /--bad-if-output "\(" is not a valid regular expression/],
    [line("--bad-if-output (a+)+"), /repeats a group/],
    [line("--bad-if-output (a)\\1"), /back-reference/],
    [line(`--bad-if-output ${"x".repeat(201)}`), /longer than 200 characters/],
    [line("--crash bad --crash skip"), /given more than once/],
    ["/bisect v1 `main$(id)` -- x", /not a valid revision/],
    ["/bisect v1 ma`in -- x", /not a valid revision/],
    ["/bisect v$HOME main -- x", /not a valid revision/],
    ["/bisect v1 main;id -- x", /not a valid revision/],
    [line("--verbose"), /Unknown option `--verbose`/],
  ])("%s", (body, message) => {
    expect(refused(body)).toMatch(message);
  });
});

describe("comment options over the file", () => {
  it.each<[string, Record<string, unknown>, string, Record<string, unknown>]>([
    [
      "the file alone",
      { runs: 3, failThreshold: 2 },
      "",
      { runs: 3, failThreshold: 2, flaky: false },
    ],
    ["--runs over the file's runs", { runs: 3 }, "--runs 2", { runs: 2 }],
    [
      "--flaky over the file's runs",
      { runs: 3, failThreshold: 2 },
      "--flaky",
      { runs: 5, failThreshold: 3, flaky: true },
    ],
    [
      "--runs over the file's flaky",
      { flaky: true },
      "--runs 2",
      { runs: 2, failThreshold: 1, flaky: false },
    ],
    ["--crash skip over crash: bad", { crash: "bad" }, "--crash skip", { crash: "skip" }],
    ["find: fix kept", { find: "fix" }, "--crash bad", { find: "fix", crash: "bad" }],
  ])("%s", (_name, file, options, expected) => {
    const request = parsed(options);
    expect(
      normalizePredicate(mergePredicateFields(file, predicateFieldsOf(request))),
    ).toMatchObject(expected);
  });

  it("a file threshold above the comment's runs is a problem named for both", () => {
    expect(() =>
      normalizePredicate(
        mergePredicateFields({ failThreshold: 3 }, predicateFieldsOf(parsed("--runs 2"))),
      ),
    ).toThrow(/failThreshold 3 is more than runs 2/);
  });
});

describe(".github/bisect.yml: one row per rule", () => {
  const ok = (text: string) => {
    const r = parseRepoConfig(text);
    if (!r.ok) throw new Error(r.problems.join("; "));
    return r.config;
  };
  const problems = (text: string) => {
    const r = parseRepoConfig(text);
    if (r.ok) throw new Error(`expected problems, got ${JSON.stringify(r.config)}`);
    return r.problems;
  };

  it.each<[string, Record<string, unknown>]>([
    ["runs: 1", { runs: 1, predicate: { runs: 1 } }],
    ["runs: 5", { runs: 5, predicate: { runs: 5 } }],
    ["timeout: 1", { timeout: 1 }],
    ["timeout: 86400", { timeout: 86400 }],
    ["timeout: 24h", { timeout: 86400 }],
    ["timeout: 1h30m", { timeout: 5400 }],
    ["pathspec: src", { pathspec: ["src"] }],
    ["crash: bad", { predicate: { crash: "bad" } }],
    ["timeout-is: bad", { predicate: { timeout: "bad" } }],
    [
      "bad-if-output: 'panicked at|Segmentation fault'",
      { predicate: { badIfOutput: "panicked at|Segmentation fault" } },
    ],
    ["find: fix", { predicate: { find: "fix" } }],
    ["flaky: true", { predicate: { flaky: true } }],
    ["runs: 4\nfail-threshold: 4", { runs: 4, predicate: { runs: 4, failThreshold: 4 } }],
    ["", {}],
    ["# only a comment\n", {}],
  ])("accepts %j", (text, expected) => {
    expect(ok(text)).toEqual(expected);
  });

  it.each<[string, RegExp]>([
    ["runs: 0", /`runs` must be a whole number from 1 to 5/],
    ["runs: 6", /`runs` must be a whole number from 1 to 5/],
    ["runs: 2.5", /`runs` must be a whole number/],
    ["timeout: 0", /`timeout` must be a duration from 1s to 24h/],
    ["timeout: 1.5", /`timeout` must be a duration from 1s to 24h/],
    ["timeout: 86401", /`timeout` must be a duration from 1s to 24h/],
    ["timeout: 24h1s", /`timeout` must be a duration from 1s to 24h/],
    ["pathspec: []", /`pathspec` must list at least one path/],
    ['pathspec: ["src\\u0007x"]', /has a path with control characters/],
    ['pathspec: ["a\\nb"]', /has a path with control characters/],
    ["pathspec: ['-x']", /has a path starting with '-'/],
    ["crash: maybe", /`crash` must be bad or skip, got "maybe"/],
    ["timeout-is: true", /`timeout-is` must be bad or skip, got true/],
    ["find: bug", /`find` must be regression or fix/],
    ["flaky: yes please", /`flaky` must be true or false/],
    ["fail-threshold: 0", /`fail-threshold` must be an integer from 1 to 5/],
    ["fail-threshold: 2", /`fail-threshold` 2 is more than `runs` 1/],
    ["runs: 2\nfail-threshold: 3", /`fail-threshold` 3 is more than `runs` 2/],
    [
      "flaky: true\nruns: 3",
      /`flaky` sets `runs` and `fail-threshold` itself; give either `flaky` or `runs`\/`fail-threshold`/,
    ],
    ["bad-if-output: '(a+)+'", /`bad-if-output` "\(a\+\)\+" repeats a group/],
    ["bad-if-output: 3", /`bad-if-output` must be a string/],
    ["fail_threshold: 2", /unknown setting `fail_threshold`/],
  ])("refuses %j", (text, message) => {
    expect(problems(text).join("\n")).toMatch(message);
  });

  it("lists every problem at once, the predicate's with the others", () => {
    const all = problems("runs: 9\ncrash: maybe\nfind: bug\ntimeout: 1.5\n").join("\n");
    expect(all).toMatch(/`runs` must be/);
    expect(all).toMatch(/`crash` must be/);
    expect(all).toMatch(/`find` must be/);
    expect(all).toMatch(/`timeout` must be/);
  });

  it("refuses a file over 64 KiB and accepts one at the limit", () => {
    const pad = (n: number) => `command: x\n#${"y".repeat(n - 13)}\n`;
    expect(pad(64 * 1024).length).toBe(64 * 1024);
    expect(ok(pad(64 * 1024))).toEqual({ command: "x" });
    expect(problems(pad(64 * 1024 + 1))).toEqual(["the file is larger than 64 KiB"]);
  });
});

describe("the help reply", () => {
  it("names every option, every setting and every subcommand", () => {
    const help = helpReply();
    for (const name of OPTION_NAMES) expect(help).toContain(`\`${name}`);
    for (const key of CONFIG_KEYS) expect(help).toContain(`\`${key}\``);
    for (const sub of ["verify", "cancel", "retry", "status", "help"])
      expect(help).toContain(`/bisect ${sub}`);
    expect(help).not.toMatch(/anything else (is|for) bad/);
    expect(help).not.toMatch(/#job|#\d/);
  });
});
