import { describe, expect, it } from "vitest";
import { parseCliArgs, shellCommand, USAGE } from "./args";

const base = ["--repo", "/r", "--good", "v1.0", "--bad", "main"];

function options(argv: string[]) {
  const parsed = parseCliArgs(argv);
  if (parsed.kind !== "options") throw new Error(`expected options, got ${JSON.stringify(parsed)}`);
  return parsed.options;
}

function usageError(argv: string[]): string {
  const parsed = parseCliArgs(argv);
  if (parsed.kind !== "usage-error")
    throw new Error(`expected a usage error, got ${JSON.stringify(parsed)}`);
  return parsed.message;
}

describe("parseCliArgs", () => {
  it("takes the defaults", () => {
    expect(options([...base, "--", "npm test"])).toEqual({
      repo: "/r",
      good: "v1.0",
      bad: "main",
      parallel: 1,
      runs: 1,
      failThreshold: 1,
      executor: "docker",
      timeoutSeconds: 600,
      firstParent: false,
      json: false,
      farm: false,
      endpoints: "when-needed",
      env: {},
      network: "none",
      commandArgs: ["npm test"],
      command: "npm test",
    });
  });

  it("tests the endpoints alongside the first probes above --parallel 1, unless told", () => {
    expect(options([...base, "--parallel", "4", "--", "x"]).endpoints).toBe("alongside");
    expect(options([...base, "--endpoints", "alongside", "--", "x"]).endpoints).toBe("alongside");
    expect(
      options([...base, "--parallel", "4", "--endpoints", "when-needed", "--", "x"]).endpoints,
    ).toBe("when-needed");
  });

  it("reads every option, in either spelling", () => {
    const o = options([
      "--repo=https://example.test/x.git",
      "--good",
      "abc123",
      "--bad=feature/x",
      "--parallel",
      "4",
      "--runs=3",
      "--fail-threshold",
      "2",
      "--executor",
      "docker",
      "--image",
      "bisect-runner:latest",
      "--timeout",
      "2.5",
      "--first-parent",
      "--docker-host",
      "tcp://127.0.0.1:23761",
      "--json",
      "--",
      "sh",
      "-c",
      "exit 1",
    ]);
    expect(o).toMatchObject({
      repo: "https://example.test/x.git",
      good: "abc123",
      bad: "feature/x",
      parallel: 4,
      runs: 3,
      failThreshold: 2,
      executor: "docker",
      image: "bisect-runner:latest",
      timeoutSeconds: 2.5,
      firstParent: true,
      dockerHost: "tcp://127.0.0.1:23761",
      json: true,
      commandArgs: ["sh", "-c", "exit 1"],
      command: "sh -c 'exit 1'",
    });
  });

  it("keeps a second -- inside the command", () => {
    const o = options([...base, "--", "npm", "test", "--", "-t", "parses dates"]);
    expect(o.commandArgs).toEqual(["npm", "test", "--", "-t", "parses dates"]);
    expect(o.command).toBe("npm test -- -t 'parses dates'");
  });

  it("answers --help and -h", () => {
    expect(parseCliArgs(["--help"])).toEqual({ kind: "help" });
    expect(parseCliArgs(["-h", "--repo", "x"])).toEqual({ kind: "help" });
  });

  it.each([
    [["--good", "a", "--bad", "b", "--", "x"], "missing --repo (a repository path or git URL)"],
    [
      ["--repo", "/r", "--bad", "b", "--", "x"],
      "missing --good (a revision where the command passes)",
    ],
    [
      ["--repo", "/r", "--good", "a", "--", "x"],
      "missing --bad (a revision where the command fails)",
    ],
    [[...base], "missing the test command: put it after --, as in -- npm test"],
    [[...base, "--"], "missing the test command after --"],
    [[...base, "--", " "], "missing the test command after --"],
    [[...base, "npm", "--", "x"], "unexpected argument 'npm': put the test command after --"],
    [[...base, "--frobnicate", "--", "x"], "unknown option --frobnicate"],
    [[...base, "-p", "2", "--", "x"], "unknown option -p"],
    [[...base, "--parallel", "--", "x"], "option --parallel needs a value"],
    [[...base, "--parallel", "--json", "--", "x"], "option --parallel needs a value"],
    [
      [...base, "--parallel", "0", "--", "x"],
      "--parallel must be an integer from 1 to 64, got '0'",
    ],
    [
      [...base, "--parallel", "two", "--", "x"],
      "--parallel must be an integer from 1 to 64, got 'two'",
    ],
    [
      [...base, "--parallel", "1.5", "--", "x"],
      "--parallel must be an integer from 1 to 64, got '1.5'",
    ],
    [[...base, "--runs", "6", "--", "x"], "--runs must be an integer from 1 to 5, got '6'"],
    [
      [...base, "--fail-threshold", "2", "--", "x"],
      "--fail-threshold 2 is more than --runs 1 (a commit cannot fail more often than it runs)",
    ],
    [
      [...base, "--executor", "podman", "--", "x"],
      "--executor must be docker or local, got 'podman'",
    ],
    [
      [...base, "--executor", "local", "--image", "x", "--", "x"],
      "--image applies only to --executor docker",
    ],
    [
      [...base, "--executor", "local", "--docker-host", "unix:///s", "--", "x"],
      "--docker-host applies only to --executor docker",
    ],
    [
      [...base, "--docker-host", "localhost:2376", "--", "x"],
      "--docker-host must look like unix:///path, tcp://host:port or ssh://user@host, got 'localhost:2376'",
    ],
    [
      [...base, "--timeout", "0", "--", "x"],
      "--timeout must be a number of seconds greater than 0 and at most 86400, got '0'",
    ],
    [
      [...base, "--timeout", "1e3", "--", "x"],
      "--timeout must be a number of seconds greater than 0 and at most 86400, got '1e3'",
    ],
    [[...base, "--json=yes", "--", "x"], "option --json takes no value"],
    [[...base, "--json", "--json", "--", "x"], "option --json is given more than once"],
    [
      ["--repo", "/r", "--good=-x", "--bad", "b", "--", "x"],
      "--good \"-x\" is not a valid revision: it starts with '-'",
    ],
    [
      ["--repo", "/r", "--good", "a", "--bad", "a..b", "--", "x"],
      "--bad \"a..b\" is not a valid revision: it contains '..' (give one revision, not a range)",
    ],
    [
      ["--repo", "/r", "--good", "a b", "--bad", "b", "--", "x"],
      '--good "a b" is not a valid revision: it contains whitespace or control characters',
    ],
    [
      ["--repo", "ext::sh", "--good", "a", "--bad", "b", "--", "x"],
      "--repo URL \"ext::sh\" uses the unsupported transport 'ext::'",
    ],
    [
      ["--repo", "foo://host/x", "--good", "a", "--bad", "b", "--", "x"],
      "--repo URL \"foo://host/x\" uses the unsupported transport 'foo'",
    ],
  ])("rejects %j", (argv, message) => {
    expect(usageError(argv)).toBe(message);
  });

  it("has a usage line naming every option", () => {
    for (const flag of [
      "--repo",
      "--good",
      "--bad",
      "--parallel",
      "--runs",
      "--fail-threshold",
      "--executor",
      "--image",
      "--timeout",
      "--first-parent",
      "--docker-host",
      "--json",
      "--setup",
      "--env",
      "--network",
      "--config",
    ]) {
      expect(USAGE).toContain(flag);
    }
  });
});

describe("shellCommand", () => {
  it("takes one word as a script", () => {
    expect(shellCommand(["make && ./t; echo 'x'"])).toBe("make && ./t; echo 'x'");
  });
  it("quotes several words", () => {
    expect(shellCommand(["printf", "%s\n", "it's", "$HOME"])).toBe(
      `printf '%s\n' 'it'\\''s' '$HOME'`,
    );
  });
});

describe("--farm", () => {
  const base = ["--repo", "/r", "--good", "v1", "--bad", "main"];
  it("queues on the farm instead of running here", () => {
    const parsed = parseCliArgs([...base, "--farm", "--parallel", "4", "--", "make", "test"]);
    expect(parsed).toMatchObject({
      kind: "options",
      options: { farm: true, parallel: 4, command: "make test" },
    });
  });
  it("refuses options that choose where to run", () => {
    expect(parseCliArgs([...base, "--farm", "--executor", "local", "--", "x"])).toEqual({
      kind: "usage-error",
      message: "--farm runs on the farm's hosts; drop --executor",
    });
    expect(
      parseCliArgs([...base, "--farm", "--docker-host", "unix:///x", "--", "x"]),
    ).toMatchObject({ kind: "usage-error" });
    expect(parseCliArgs([...base, "--farm", "--endpoints", "when-needed", "--", "x"])).toEqual({
      kind: "usage-error",
      message:
        "--endpoints when-needed applies to runs here; the farm tests the endpoints alongside the first probes",
    });
    expect(parseCliArgs([...base, "--farm", "--endpoints", "alongside", "--", "x"])).toMatchObject({
      kind: "options",
      options: { farm: true },
    });
    expect(parseCliArgs([...base, "--farm", "--network", "setup", "--", "x"])).toMatchObject({
      kind: "usage-error",
      message:
        "--network applies to runs here; on the farm the repository's settings and the plan decide",
    });
  });
});

describe("predicate options", () => {
  it("reads --crash, --timeout-is, --bad-if-output and --find", () => {
    const o = options([
      ...base,
      "--crash",
      "bad",
      "--timeout-is=bad",
      "--bad-if-output",
      "panicked at|Segmentation fault",
      "--find",
      "fix",
      "--",
      "x",
    ]);
    expect(o.predicate).toEqual({
      crash: "bad",
      timeout: "bad",
      badIfOutput: "panicked at|Segmentation fault",
      find: "fix",
      runs: 1,
      failThreshold: 1,
      flaky: false,
    });
  });

  it("--flaky is 5 runs with a majority threshold", () => {
    const o = options([...base, "--flaky", "--", "x"]);
    expect(o).toMatchObject({
      runs: 5,
      failThreshold: 3,
      predicate: { flaky: true, runs: 5, failThreshold: 3 },
    });
  });

  it("keeps --runs and --fail-threshold in the predicate", () => {
    expect(
      options([...base, "--runs", "3", "--fail-threshold", "2", "--crash", "bad", "--", "x"])
        .predicate,
    ).toMatchObject({ runs: 3, failThreshold: 2 });
    expect(options([...base, "--", "x"]).predicate).toBeUndefined();
  });

  it.each([
    [[...base, "--crash", "yes", "--", "x"], "--crash must be bad or skip, got 'yes'"],
    [[...base, "--timeout-is", "good", "--", "x"], "--timeout-is must be bad or skip, got 'good'"],
    [[...base, "--find", "bug", "--", "x"], "--find must be regression or fix, got 'bug'"],
    [
      [...base, "--endpoints", "first", "--", "x"],
      "--endpoints must be alongside or when-needed, got 'first'",
    ],
    [
      [...base, "--flaky", "--runs", "3", "--", "x"],
      "--flaky sets --runs 5 and --fail-threshold 3 itself; give either --flaky or --runs/--fail-threshold",
    ],
    [
      [...base, "--bad-if-output", "(a+)+", "--", "x"],
      /^--bad-if-output "\(a\+\)\+" repeats a group/,
    ],
    [
      [...base, "--bad-if-output", "([", "--", "x"],
      /^--bad-if-output "\(\[" is not a valid regular expression/,
    ],
    [[...base, "--bad-if-output", "x".repeat(201), "--", "x"], /longer than 200 characters/],
  ])("refuses %j", (argv, message) => {
    if (typeof message === "string") expect(usageError(argv)).toBe(message);
    else expect(usageError(argv)).toMatch(message);
  });
});

describe("replaying a job: --setup, --env, --network, --config", () => {
  const files: Record<string, string> = {
    "ok.yml": [
      "image: node:20-bookworm",
      "setup: npm ci",
      "command: npm test",
      "timeout: 5m",
      "flaky: true",
      "network: true",
      "env:",
      "  NODE_ENV: test",
      "  LEVEL: 1",
    ].join("\n"),
    "bad.yml": "env:\n  PATH: /x\nruns: 9\n",
    "setup.yml": "setup: npm ci\nnetwork: setup\n",
    "cache.yml": "setup: cargo build\ncache: [target, .venv]\n",
    "nocache.yml": "cache: false\n",
  };
  const read = (path: string) => {
    const text = files[path];
    if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
    return text;
  };
  const parse = (argv: string[]) => parseCliArgs(argv, read);

  it.each([
    [
      ["--setup", "npm ci\nnpm run build", "--env", "A=1", "--env=B=x=y", "--env", "C="],
      { setup: "npm ci\nnpm run build", env: { A: "1", B: "x=y", C: "" }, network: "none" },
    ],
    [["--network", "all"], { network: "all", env: {} }],
    [["--network", "none"], { network: "none" }],
    [["--network", "setup"], { network: "setup" }],
  ])("reads %j", (flags, expected) => {
    expect(options([...base, ...flags, "--", "npm test"])).toMatchObject(expected);
  });

  it("reads cache: from a config file, and --cache over it", () => {
    const run = (...flags: string[]) => parse([...base, ...flags, "--", "npm test"]);
    expect(run("--config", "cache.yml")).toMatchObject({ options: { cache: ["target", ".venv"] } });
    expect(run("--config", "nocache.yml")).toMatchObject({ options: { cache: false } });
    expect(run("--config", "cache.yml", "--cache", "off")).toMatchObject({
      options: { cache: false },
    });
    expect(run("--config", "nocache.yml", "--cache", "build, out/")).toMatchObject({
      options: { cache: ["build", "out"] },
    });
    expect(run()).not.toHaveProperty("options.cache");
  });

  it("reads network: setup from a config file", () => {
    expect(parse([...base, "--config", "setup.yml", "--", "npm test"])).toMatchObject({
      options: { network: "setup", setup: "npm ci" },
    });
  });

  it.each([
    [["--env", "A"], '--env "A" must be NAME=value'],
    [["--env", "lower=1"], 'name "lower" must be upper case'],
    [["--env", "PATH=/x"], "PATH cannot be set here: prepend to it in the setup"],
    [["--env", "HOME=/x"], "HOME is set by the runner"],
    [["--setup", " "], "--setup is empty"],
    [["--network", "some"], "--network must be none, setup or all, got 'some'"],
    [["--config", "missing.yml"], "--config missing.yml: ENOENT"],
    [["--config", "bad.yml"], "--config bad.yml is not valid:"],
    [["--cache", "../x"], "--cache has a path with '..'"],
    [["--cache", "a,,b"], "--cache has an empty path (item 2)"],
  ])("refuses %j", (flags, message) => {
    const parsed = parse([...base, ...flags, "--", "npm test"]);
    expect(parsed.kind).toBe("usage-error");
    expect((parsed as { message: string }).message).toContain(message);
  });

  it("takes the file's settings, the command line's over them", () => {
    const parsed = parse([...base, "--config", "ok.yml"]);
    expect(parsed).toMatchObject({
      kind: "options",
      options: {
        image: "node:20-bookworm",
        setup: "npm ci",
        command: "npm test",
        timeoutSeconds: 300,
        network: "all",
        env: { NODE_ENV: "test", LEVEL: "1" },
        runs: 5,
        failThreshold: 3,
        predicate: { flaky: true },
      },
    });
    const over = parse([
      ...base,
      "--config",
      "ok.yml",
      "--runs",
      "2",
      "--network",
      "none",
      "--env",
      "NODE_ENV=production",
      "--image",
      "node:22",
      "--",
      "make check",
    ]);
    expect(over).toMatchObject({
      kind: "options",
      options: {
        image: "node:22",
        command: "make check",
        network: "none",
        env: { NODE_ENV: "production", LEVEL: "1" },
        runs: 2,
        failThreshold: 1,
      },
    });
    expect((optionsOf(over) as { predicate: { flaky?: boolean } }).predicate.flaky).toBeFalsy();
  });
});

function optionsOf(parsed: ReturnType<typeof parseCliArgs>) {
  if (parsed.kind !== "options") throw new Error(JSON.stringify(parsed));
  return parsed.options;
}
