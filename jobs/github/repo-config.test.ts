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
        network: true,
        pathspec: ["src", "package.json"],
      },
    });
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
    expect(problems).toMatch(/`network` must be true or false/);
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
});
