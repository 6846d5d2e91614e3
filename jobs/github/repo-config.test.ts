import { describe, expect, it } from "vitest";
import { parseRepoConfig } from "./repo-config";

describe("parseRepoConfig", () => {
  it("reads every setting", () => {
    const text = [
      "image: ghcr.io/acme/runner:1.2",
      "setup: npm ci",
      "command: npm test",
      "timeout: 10m",
      "runs: 3",
      "network: true",
      "pathspec: [src, package.json]",
    ].join("\n");
    expect(parseRepoConfig(text)).toEqual({
      ok: true,
      config: {
        image: "ghcr.io/acme/runner:1.2",
        setup: "npm ci",
        command: "npm test",
        timeout: 600,
        runs: 3,
        predicate: { runs: 3 },
        network: "all",
        pathspec: ["src", "package.json"],
      },
    });
  });

  it("reads network as none, setup or all, and true / false as all / none", () => {
    const network = (v: string) => {
      const r = parseRepoConfig(`network: ${v}\n`);
      return r.ok ? r.config.network : r.problems.join("; ");
    };
    expect([true, false, "none", "setup", "all"].map((v) => network(String(v)))).toEqual([
      "all",
      "none",
      "none",
      "setup",
      "all",
    ]);
    expect(network("offline")).toMatch(/`network` must be none, setup or all/);
  });

  it("accepts an empty file, seconds as a number and one path as a string", () => {
    expect(parseRepoConfig("")).toEqual({ ok: true, config: {} });
    expect(parseRepoConfig("# nothing yet\n")).toEqual({ ok: true, config: {} });
    expect(parseRepoConfig("timeout: 90\npathspec: src/\n")).toEqual({
      ok: true,
      config: { timeout: 90, pathspec: ["src/"] },
    });
    expect(parseRepoConfig("setup: |\n  npm ci\n  npm run build\n")).toEqual({
      ok: true,
      config: { setup: "npm ci\nnpm run build" },
    });
  });

  it("names every problem", () => {
    const result = parseRepoConfig(
      "runs: 9\ntimeout: forever\nnetwork: yes please\nimage: 'Bad Image'\ntimout: 5\n",
    );
    expect(result.ok).toBe(false);
    const problems = (result as { problems: string[] }).problems.join("\n");
    expect(problems).toMatch(/`runs` must be a whole number from 1 to 5/);
    expect(problems).toMatch(/`timeout` must be a duration from 1s to 24h/);
    expect(problems).toMatch(/`network` must be none, setup or all \(true = all, false = none\)/);
    expect(problems).toMatch(/`image` is not a valid image name/);
    expect(problems).toMatch(/unknown setting `timout` \(the settings are `image`, `setup`/);
  });

  it("reads env (values as strings) and a multi-line setup, and names env's problems", () => {
    const text = [
      "setup: |",
      "  npm ci",
      "  export PATH=$PWD/node_modules/.bin:$PATH",
      "env:",
      "  NODE_ENV: test",
      "  CI: true",
      "  RETRIES: 3",
    ].join("\n");
    expect(parseRepoConfig(text)).toEqual({
      ok: true,
      config: {
        setup: "npm ci\nexport PATH=$PWD/node_modules/.bin:$PATH",
        env: { NODE_ENV: "test", CI: "true", RETRIES: "3" },
      },
    });
    const bad = parseRepoConfig(
      ["env:", "  PATH: /opt/bin", "  lower: x", "  BISECT_RUN: 2", "  LIST: [1, 2]"].join("\n"),
    );
    expect(bad.ok).toBe(false);
    const problems = (bad as { problems: string[] }).problems.join("\n");
    expect(problems).toContain("PATH cannot be set here: prepend to it in the setup");
    expect(problems).toContain('name "lower" must be upper case');
    expect(problems).toContain("BISECT_RUN: names starting with BISECT_ are the runner's");
    expect(problems).toContain("LIST must be a string, a number or true/false");
    expect(parseRepoConfig("env: [A]")).toEqual({
      ok: false,
      problems: ["`env` must be a mapping of NAME: value"],
    });
  });

  it("reports YAML syntax errors with their line", () => {
    const result = parseRepoConfig("runs: [1\ncommand: x");
    expect(result).toMatchObject({
      ok: false,
      problems: [expect.stringMatching(/^YAML syntax error at line \d+, column \d+/)],
    });
    expect(parseRepoConfig("runs: 1\nruns: 2\n").ok).toBe(false);
  });

  it("refuses a file that is not a mapping, and unsafe paths", () => {
    expect(parseRepoConfig("- a\n- b")).toMatchObject({
      ok: false,
      problems: [expect.stringMatching(/must be a mapping/)],
    });
    expect(parseRepoConfig("pathspec: ['-rf']")).toMatchObject({
      ok: false,
      problems: [expect.stringMatching(/`pathspec` \(item 1\) has a path starting with '-'/)],
    });
    expect(parseRepoConfig("command: ''")).toMatchObject({
      ok: false,
      problems: [expect.stringMatching(/`command` must not be empty/)],
    });
  });
  it.each([
    ["runs: 1\nruns: 2\n", ["YAML syntax error at line 2, column 1: Map keys must be unique"]],
    [
      "flaky: true\nruns: 3\n",
      [
        "`flaky` sets `runs` and `fail-threshold` itself; give either `flaky` or `runs`/`fail-threshold`",
      ],
    ],
    [
      "runs: 9\nflaky: maybe\n",
      ["`runs` must be a whole number from 1 to 5", '`flaky` must be true or false, got "maybe"'],
    ],
    [
      "runs: 9\nflaky: true\nfail-threshold: 2\n",
      [
        "`runs` must be a whole number from 1 to 5",
        "`flaky` sets `runs` and `fail-threshold` itself; give either `flaky` or `runs`/`fail-threshold`",
      ],
    ],
    [
      "runs: 2\nfail-threshold: 3\n",
      ["`fail-threshold` 3 is more than `runs` 2 (a commit cannot fail more often than it runs)"],
    ],
    [
      "just text",
      [
        "the file must be a mapping of settings (image, setup, command, timeout, runs, fail-threshold, flaky, crash, timeout-is, bad-if-output, find, network, env, cache, auto, pathspec)",
      ],
    ],
    ["timeout: 1.5", ["`timeout` must be a duration from 1s to 24h, such as 90s, 10m or 1h"]],
    ["timeout: 0", ["`timeout` must be a duration from 1s to 24h, such as 90s, 10m or 1h"]],
    ["timeout: 86401", ["`timeout` must be a duration from 1s to 24h, such as 90s, 10m or 1h"]],
    [`#${"a".repeat(64 * 1024)}`, ["the file is larger than 64 KiB"]],
  ])("answers %j with exactly its problems", (text, problems) => {
    expect(parseRepoConfig(text)).toEqual({ ok: false, problems });
  });

  it("takes the predicate settings and the limits' edges", () => {
    expect(
      parseRepoConfig("crash: bad\ntimeout-is: bad\nfind: fix\nbad-if-output: panicked\n"),
    ).toEqual({
      ok: true,
      config: {
        predicate: { crash: "bad", timeout: "bad", badIfOutput: "panicked", find: "fix" },
      },
    });
    expect(parseRepoConfig("timeout: 86400")).toEqual({ ok: true, config: { timeout: 86400 } });
    expect(parseRepoConfig("timeout: 1")).toEqual({ ok: true, config: { timeout: 1 } });
    // 64 KiB exactly is within the limit (the file is then read as YAML).
    expect(parseRepoConfig(`#${"a".repeat(64 * 1024 - 1)}`)).toEqual({ ok: true, config: {} });
  });

  it.each([
    ["cache: false", false],
    ["cache: true", []],
    ["cache:", []],
    ["cache: target", ["target"]],
    [
      "cache: [target/, ./.venv, build/out, node_modules/.cache]",
      ["target", ".venv", "build/out", "node_modules/.cache"],
    ],
  ])("reads %j", (text, cache) => {
    expect(parseRepoConfig(text)).toEqual({ ok: true, config: { cache } });
  });

  // One row per rule of a cache path.
  it.each([
    ["cache: 3", "`cache` must be false or a list of paths (such as [target, .venv])"],
    ["cache: {a: 1}", "`cache` must be false or a list of paths (such as [target, .venv])"],
    ["cache: [target, 3]", "`cache` must list paths as strings (item 2)"],
    ["cache: ['']", "`cache` has an empty path"],
    [
      `cache: [${"a".repeat(201)}]`,
      `\`cache\` has a path longer than 200 characters ("${"a".repeat(40)}…")`,
    ],
    ['cache: ["a\tb"]', '`cache` has a path with control characters ("a\\tb")'],
    [
      "cache: [/usr/lib]",
      '`cache` has an absolute path "/usr/lib" (paths are relative to the checkout)',
    ],
    ["cache: ['-rf']", "`cache` has a path starting with '-' (\"-rf\")"],
    [
      "cache: [../elsewhere]",
      "`cache` has a path with '..' \"../elsewhere\" (paths stay inside the checkout)",
    ],
    [
      "cache: [build/../..]",
      "`cache` has a path with '..' \"build/../..\" (paths stay inside the checkout)",
    ],
    ["cache: [.]", '`cache` has a path naming the whole checkout (".")'],
    [
      "cache: [.git/objects]",
      '`cache` has a path inside .git ".git/objects" (the checkout\'s own)',
    ],
    [
      "cache: ['my build']",
      "`cache` has a path with characters other than letters, digits, '._+@-' and '/' (\"my build\")",
    ],
    [
      "cache: ['$HOME']",
      "`cache` has a path with characters other than letters, digits, '._+@-' and '/' (\"$HOME\")",
    ],
    [
      "cache: [target, target/debug]",
      "`cache` lists target/debug inside target (name each directory once)",
    ],
    ["cache: [target, target/]", "`cache` lists target twice"],
    [
      `cache: [${Array.from({ length: 21 }, (_, i) => `p${i}`).join(", ")}]`,
      "`cache` may list at most 20 paths",
    ],
  ])("refuses %j", (text, problem) => {
    expect(parseRepoConfig(text)).toEqual({ ok: false, problems: [problem] });
  });
});
