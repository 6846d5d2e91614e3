import { describe, expect, it } from "vitest";
import {
  EXAMPLE,
  formatDuration,
  mentionsBisect,
  mergePredicateFields,
  parseCommand,
  parseDuration,
  predicateFieldsOf,
  revisionProblem,
} from "./command";

const bisect = (over: Record<string, unknown> = {}) => ({
  kind: "bisect",
  good: "v1.4.0",
  bad: "main",
  firstParent: false,
  command: "npm test",
  ...over,
});
const errorOf = (body: string) => {
  const result = parseCommand(body);
  if (result.kind !== "error") throw new Error(`expected an error, got ${JSON.stringify(result)}`);
  return result;
};

describe("parseCommand: finding the command line", () => {
  it("takes the first line that starts with /bisect", () => {
    expect(
      parseCommand(
        "Thanks for the report!\n\n/bisect v1.4.0 main -- npm test\n/bisect a b -- other",
      ),
    ).toEqual(bisect());
  });

  it("allows up to three spaces of indentation and \\r\\n line ends", () => {
    expect(parseCommand("hi\r\n   /bisect v1.4.0 main -- npm test\r\n")).toEqual(bisect());
  });

  it("is none without a /bisect line", () => {
    expect(parseCommand("Looks like a regression.")).toEqual({ kind: "none" });
    expect(parseCommand("")).toEqual({ kind: "none" });
    expect(parseCommand("/bisected it myself")).toEqual({ kind: "none" });
    expect(parseCommand("Try /bisect v1 main -- npm test")).toEqual({ kind: "none" });
  });

  it("ignores /bisect in code spans, fenced blocks, quotes, HTML comments and indented code", () => {
    expect(parseCommand("`/bisect v1 main -- npm test`")).toEqual({ kind: "none" });
    expect(parseCommand("```\n/bisect v1 main -- npm test\n```")).toEqual({ kind: "none" });
    expect(parseCommand("~~~~md\n/bisect v1 main -- npm test\n~~~\n~~~~")).toEqual({
      kind: "none",
    });
    expect(parseCommand("> /bisect v1 main -- npm test")).toEqual({ kind: "none" });
    expect(parseCommand("  > /bisect v1 main -- npm test")).toEqual({ kind: "none" });
    expect(parseCommand("<!-- /bisect v1 main -- npm test -->")).toEqual({ kind: "none" });
    expect(parseCommand("<!--\n/bisect v1 main -- npm test\n-->")).toEqual({ kind: "none" });
    expect(parseCommand("    /bisect v1 main -- npm test")).toEqual({ kind: "none" });
  });

  it("finds the real command after ignored ones", () => {
    const body = [
      "> /bisect v0 main -- quoted",
      "```",
      "/bisect v0 main -- in code",
      "```",
      "<!-- /bisect v0 main -- hidden -->",
      "/bisect v1.4.0 main -- npm test",
    ].join("\n");
    expect(parseCommand(body)).toEqual(bisect());
  });

  it("does not let a fence inside an HTML comment hide the rest, nor a comment inside a fence", () => {
    expect(parseCommand("```\n<!--\n```\n/bisect v1.4.0 main -- npm test")).toEqual(bisect());
    expect(parseCommand("<!-- ``` -->\n/bisect v1.4.0 main -- npm test")).toEqual(bisect());
  });

  it("needs a closing fence at least as long as the opening one", () => {
    expect(
      parseCommand("````\n```\n/bisect v1 main -- x\n````\n/bisect v1.4.0 main -- npm test"),
    ).toEqual(bisect());
  });

  it("offers a cheap pre-filter for the webhook route", () => {
    expect(mentionsBisect("hello\n/bisect v1 main -- x")).toBe(true);
    expect(mentionsBisect("/bisect")).toBe(true);
    expect(mentionsBisect("nothing here")).toBe(false);
    expect(mentionsBisect("/bisected")).toBe(false);
  });
});

describe("parseCommand: bisect", () => {
  it("parses refs, options and the command after --", () => {
    expect(
      parseCommand(
        '/bisect v1.4.0 main --runs 3 --timeout 10m --parallel 4 --first-parent -- npm test -- -t "parses dates"',
      ),
    ).toEqual(
      bisect({
        runs: 3,
        timeoutSeconds: 600,
        parallel: 4,
        firstParent: true,
        command: 'npm test -- -t "parses dates"',
      }),
    );
  });

  it("accepts --option=value and a command without --", () => {
    expect(parseCommand("/bisect v1.4.0 main --runs=2 --timeout=90s npm test")).toEqual(
      bisect({ runs: 2, timeoutSeconds: 90 }),
    );
  });

  it("keeps the command verbatim, options after the command included", () => {
    expect(parseCommand("/bisect abc1234 feature/x make test --runs 3  'a  b'")).toEqual(
      bisect({ good: "abc1234", bad: "feature/x", command: "make test --runs 3  'a  b'" }),
    );
  });

  it("unwraps refs and a command written as inline code", () => {
    expect(parseCommand("/bisect `v1.4.0` `main` -- `npm test`")).toEqual(bisect());
  });

  it("takes the command from a fenced code block under the line", () => {
    const body = "/bisect v1.4.0 main --runs 2\n\n```sh\nnpm ci\nnpm test\n```\nMore text.";
    expect(parseCommand(body)).toEqual(bisect({ runs: 2, command: "npm ci\nnpm test" }));
    expect(parseCommand("/bisect v1.4.0 main --\n~~~\nnpm test\n~~~")).toEqual(bisect());
  });

  it("leaves the command unset when none is given (the repository default applies)", () => {
    expect(parseCommand("/bisect v1.4.0 main")).toEqual(bisect({ command: null }));
    expect(parseCommand("/bisect v1.4.0 main --first-parent\n\nsome prose")).toEqual(
      bisect({ command: null, firstParent: true }),
    );
  });

  it("accepts full and short SHAs, tags and branches", () => {
    const sha = "0123456789abcdef0123456789abcdef01234567";
    expect(parseCommand(`/bisect ${sha} release/2.x -- true`)).toEqual(
      bisect({ good: sha, bad: "release/2.x", command: "true" }),
    );
  });
});

describe("parseCommand: mistakes get a precise message and an example", () => {
  it.each([
    ["/bisect", /needs a good revision, a bad revision and the test command/],
    ["/bisect v1.4.0", /Missing the bad revision/],
    ["/bisect v1.4.0 --runs 3 -- npm test", /Missing the bad revision/],
    ["/bisect --runs 3 v1 main -- npm test", /must be the good revision/],
    ["/bisect -x main -- npm test", /must be the good revision/],
    [
      "/bisect v1..v2 main -- npm test",
      /good revision `v1\.\.v2` is not a valid revision: it contains '\.\.'/,
    ],
    ["/bisect v1 main~1 -- npm test", /bad revision `main~1` is not a valid revision/],
    ["/bisect v1 HEAD^ -- npm test", /not a valid revision/],
    ["/bisect v1 refs/heads/x.lock -- npm test", /\.lock/],
    ["/bisect v1 feature/ -- npm test", /ends with '\/'/],
    ["/bisect main main -- npm test", /both `main`/],
    [
      "/bisect v1 main --runs 9 -- npm test",
      /--runs 9` is not allowed: --runs must be a whole number from 1 to 5/,
    ],
    ["/bisect v1 main --runs x -- npm test", /whole number from 1 to 5/],
    ["/bisect v1 main --parallel 0 -- npm test", /from 1 to 16/],
    ["/bisect v1 main --runs -- npm test", /`--runs` needs a value: a whole number/],
    ["/bisect v1 main --timeout -- npm test", /needs a value: a duration/],
    ["/bisect v1 main --timeout 10x -- npm test", /is not a duration/],
    ["/bisect v1 main --timeout 48h -- npm test", /out of range/],
    ["/bisect v1 main --timeout 0s -- npm test", /out of range/],
    ["/bisect v1 main --runs 2 --runs 3 -- npm test", /more than once/],
    ["/bisect v1 main --verbose -- npm test", /Unknown option `--verbose`.*put `--` before it/],
    ["/bisect v1 main -t npm test", /Unknown option `-t`/],
    ["/bisect v1 main --first-parent=yes -- x", /takes no value/],
    ["/bisect v1 main --", /Missing the test command after `--`/],
    ["/bisect v1 main --\n```\nnpm test", /not closed/],
  ])("%s", (body, message) => {
    const result = errorOf(body);
    expect(result.message).toMatch(message);
    expect(result.example).toBe(EXAMPLE);
  });

  it("refuses an over-long command", () => {
    expect(errorOf(`/bisect v1 main -- ${"x".repeat(10_001)}`).message).toMatch(/limit is 10000/);
  });
});

describe("parseCommand: other commands", () => {
  it.each([
    ["/bisect cancel", { kind: "cancel" }],
    ["/bisect cancel #12", { kind: "cancel", jobId: 12 }],
    ["/bisect Cancel 7", { kind: "cancel", jobId: 7 }],
    ["/bisect retry", { kind: "retry" }],
    ["/bisect retry #3", { kind: "retry", jobId: 3 }],
    ["/bisect status", { kind: "status" }],
    ["/bisect help", { kind: "help" }],
    ["/bisect --help", { kind: "help" }],
  ])("%s", (body, expected) => {
    expect(parseCommand(body)).toEqual(expected);
  });

  it("explains a bad job reference", () => {
    expect(errorOf("/bisect cancel #abc")).toMatchObject({
      message: expect.stringMatching(/not a bisection number/),
      example: "/bisect cancel 12",
    });
    expect(errorOf("/bisect retry #1 #2")).toMatchObject({
      message: expect.stringMatching(/at most one bisection number/),
      example: "/bisect retry 12",
    });
    expect(errorOf("/bisect cancel #0").message).toMatch(/not a bisection number/);
  });
});

describe("durations and revisions", () => {
  it.each([
    ["90", 90],
    ["90s", 90],
    ["10m", 600],
    ["1h", 3600],
    ["1h30m", 5400],
    ["2m30s", 150],
    ["1H", 3600],
  ])("parseDuration(%s) = %d", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(["", "h", "1.5h", "10 m", "-5", "1d"])("parseDuration(%j) is null", (text) => {
    expect(parseDuration(text)).toBeNull();
  });

  it("formats durations", () => {
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(75)).toBe("1m 15s");
    expect(formatDuration(3600)).toBe("1h");
    expect(formatDuration(3725)).toBe("1h 2m 5s");
  });

  it("applies git's ref rules", () => {
    expect(revisionProblem("v1.4.0")).toBeNull();
    expect(revisionProblem("feature/a-b_c")).toBeNull();
    expect(revisionProblem("-rf")).toMatch(/starts with '-'/);
    expect(revisionProblem(".hidden")).toMatch(/starting with '\.'/);
    expect(revisionProblem("a//b")).toMatch(/'\/\/'/);
    expect(revisionProblem("@")).toMatch(/'@'/);
    expect(revisionProblem("a;rm")).toMatch(/cannot have/);
    expect(revisionProblem("a@{1}")).toMatch(/@\{/);
  });
});

describe("parseCommand: where the command line is, exactly", () => {
  const real = "/bisect v1.4.0 main -- npm test";

  it("reads a command after an HTML comment that ends on its line, not inside it", () => {
    expect(parseCommand(`<!-- start\n/bisect x y -- no\nend -->\n${real}`)).toEqual(bisect());
    expect(parseCommand(`<!--\nhidden\n-->${real}`)).toEqual(bisect());
    expect(parseCommand(`<!--\nhidden\n--> ${real}`)).toEqual(bisect());
    expect(parseCommand(`<!-- a --><!-- b -->${real}`)).toEqual(bisect());
    expect(parseCommand(`note <!-- open\n${real}`)).toEqual({ kind: "none" });
    expect(parseCommand(`note <!-- open\n-->\n${real}`)).toEqual(bisect());
  });

  it("does not take a line with a backtick in its info string for a fence", () => {
    expect(parseCommand("```js`x\n" + real)).toEqual(bisect());
    expect(parseCommand("~~~js`x\n/bisect a b -- hidden\n~~~\n" + real)).toEqual(bisect());
  });

  it("closes a fence only with a bare line of the same character", () => {
    expect(parseCommand("```\n``` more\n/bisect a b -- hidden\n```\n" + real)).toEqual(bisect());
    expect(parseCommand("~~~\n```\n/bisect a b -- hidden\n~~~\n" + real)).toEqual(bisect());
    expect(parseCommand("```\n/bisect a b -- hidden\n```  \n" + real)).toEqual(bisect());
  });

  it("splits lines at \\r as well", () => {
    expect(parseCommand(`thanks\r${real}`)).toEqual(bisect());
  });

  it("pre-filters only lines that start with /bisect", () => {
    expect(mentionsBisect("see x/bisect a b")).toBe(false);
    expect(mentionsBisect("a\n\t/bisect a b")).toBe(true);
  });
});

describe("parseCommand: the command itself", () => {
  it("takes the command from a code block after blank lines, trimmed", () => {
    expect(parseCommand("/bisect v1.4.0 main\n\n \n```sh\n  npm test  \n```\n")).toEqual(bisect());
    expect(parseCommand("/bisect v1.4.0 main\n\n")).toEqual(bisect({ command: null }));
    expect(parseCommand("/bisect v1.4.0 main -- npm test   ")).toEqual(bisect());
  });

  it("says when the code block is not closed", () => {
    expect(errorOf("/bisect v1.4.0 main\n```\nnpm test\n").message).toBe(
      "The code block with the test command under the `/bisect` line is not closed: end it with a line of three backticks.",
    );
  });

  it("says when the command after -- is missing", () => {
    expect(errorOf("/bisect v1.4.0 main --").message).toBe(
      "Missing the test command after `--`: write it on the same line, or in a code block under the line.",
    );
  });

  it("accepts a command of exactly the length limit", () => {
    const command = `echo ${"x".repeat(10_000 - 5)}`;
    expect(parseCommand(`/bisect v1.4.0 main -- ${command}`)).toEqual(bisect({ command }));
    expect(errorOf(`/bisect v1.4.0 main -- ${command}x`).message).toBe(
      "The test command is 10001 characters long; the limit is 10000. Put it in a script in the repository and run that.",
    );
  });

  it("keeps a quoted pattern's inner text, and inline code with backticks inside", () => {
    const pattern = (option: string) => {
      const r = parseCommand(`/bisect v1.4.0 main --bad-if-output ${option} -- npm test`);
      return r.kind === "bisect" ? r.badIfOutput : r;
    };
    expect(pattern('"panicked at"')).toBe("panicked at");
    expect(pattern("`panicked at`")).toBe("panicked at");
    expect(pattern("`` a `b` c ``")).toBe("a `b` c");
    expect(pattern("``")).toBe("``");
    expect(pattern("x`y`")).toBe("x`y`");
  });
});

describe("parseCommand: option messages, word for word", () => {
  const message = (options: string) =>
    errorOf(`/bisect v1.4.0 main ${options} -- npm test`).message;

  it("names the value an option needs", () => {
    expect(message("--runs")).toBe("The option `--runs` needs a value: a whole number.");
    expect(message("--runs=")).toBe("The option `--runs` needs a value: a whole number.");
    expect(message("--runs --parallel 2")).toBe(
      "The option `--runs` needs a value: a whole number.",
    );
    expect(message("--timeout")).toBe(
      "The option `--timeout` needs a value: a duration such as `90s`, `10m` or `1h`.",
    );
    expect(message("--crash")).toBe("The option `--crash` needs a value: `bad` or `skip`.");
    expect(message("--bad-if-output")).toBe(
      "The option `--bad-if-output` needs a value: a regular expression, in backticks when it holds spaces (`panicked at|Segmentation fault`).",
    );
  });

  it("names the allowed values", () => {
    expect(message("--crash maybe")).toBe(
      "`--crash maybe` is not allowed: --crash must be `bad` or `skip`.",
    );
    expect(message("--timeout soon")).toBe(
      "`--timeout soon` is not a duration: write it like `90s`, `10m` or `1h`.",
    );
    expect(message("--timeout 25h")).toBe("`--timeout 25h` is out of range: give from 1s to 24h.");
    expect(message("--runs 2x")).toBe(
      "`--runs 2x` is not allowed: --runs must be a whole number from 1 to 5.",
    );
    expect(message("--parallel x2")).toBe(
      "`--parallel x2` is not allowed: --parallel must be a whole number from 1 to 16.",
    );
    expect(message("--frobnicate")).toBe(
      "Unknown option `--frobnicate`. The options are `--runs`, `--fail-threshold`, `--flaky`, `--crash`, `--timeout-is`, `--bad-if-output`, `--find`, `--timeout`, `--parallel`, `--first-parent`; if your test command starts with a dash, put `--` before it.",
    );
  });

  it("hands every predicate option on", () => {
    const r = parseCommand(
      "/bisect v1.4.0 main --timeout-is bad --find fix --crash bad --bad-if-output boom -- npm test",
    );
    if (r.kind !== "bisect") throw new Error(JSON.stringify(r));
    expect(predicateFieldsOf(r)).toEqual({
      timeout: "bad",
      find: "fix",
      crash: "bad",
      badIfOutput: "boom",
    });
    expect(mergePredicateFields({ flaky: true }, { failThreshold: 1 })).toEqual({
      failThreshold: 1,
    });
    expect(mergePredicateFields({ flaky: true }, { crash: "bad" })).toEqual({
      flaky: true,
      crash: "bad",
    });
  });
});

describe("parseCommand: job references, exactly", () => {
  it.each([
    ["/bisect verify", { kind: "verify" }],
    ["/bisect verify 1", { kind: "verify", jobId: 1 }],
    ["/bisect -h", { kind: "help" }],
    ["/bisect HELP", { kind: "help" }],
  ])("%s", (body, expected) => {
    expect(parseCommand(body)).toEqual(expected);
  });

  it("refuses a number with anything around it, word for word", () => {
    for (const ref of ["12x", "x12", "#"])
      expect(errorOf(`/bisect retry ${ref}`).message).toBe(
        `\`${ref}\` is not a bisection number: write it as \`12\` (or leave it out for the latest bisection on this issue).`,
      );
    expect(errorOf("/bisect retry #1 #2").message).toBe(
      "`/bisect retry` takes at most one bisection number, got `#1 #2`.",
    );
  });
});
