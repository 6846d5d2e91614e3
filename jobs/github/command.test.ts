import { describe, expect, it } from "vitest";
import {
  EXAMPLE,
  formatDuration,
  mentionsBisect,
  parseCommand,
  parseDuration,
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
