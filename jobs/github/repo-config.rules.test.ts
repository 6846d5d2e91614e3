// `.github/bisect.yml`: what a repository owner reads back for a file that is not right, rule by rule.
import { describe, expect, it } from "vitest";
import { CONFIG_KEYS, parseRepoConfig } from "./repo-config";

const problems = (text: string): string[] => {
  const r = parseRepoConfig(text);
  return r.ok ? [] : r.problems;
};
const settings = CONFIG_KEYS.map((k) => `\`${k}\``).join(", ");

describe(".github/bisect.yml: the file as a whole", () => {
  it("accepts a file that holds only a null document", () => {
    expect(parseRepoConfig("~\n")).toEqual({ ok: true, config: {} });
    expect(parseRepoConfig("---\n")).toEqual({ ok: true, config: {} });
  });

  it("refuses a file that is not a mapping, naming the settings", () => {
    const expected = [`the file must be a mapping of settings (${CONFIG_KEYS.join(", ")})`];
    expect(problems("- runs: 2\n")).toEqual(expected);
    expect(problems("42\n")).toEqual(expected);
    expect(problems("npm test\n")).toEqual(expected);
  });

  it("names one unknown setting, or several", () => {
    expect(problems("runs: 2\nrun: 3\n")).toEqual([
      `unknown setting \`run\` (the settings are ${settings})`,
    ]);
    expect(problems("foo: 1\nbar: 2\n")).toEqual([
      `unknown settings \`foo\`, \`bar\` (the settings are ${settings})`,
    ]);
  });

  it("gives a YAML error its line and column once, and at most five errors", () => {
    const comments = Array.from({ length: 11 }, (_, i) => `# line ${i + 1}`);
    expect(problems([...comments, "runs: 1", "runs: 2"].join("\n"))).toEqual([
      "YAML syntax error at line 13, column 1: Map keys must be unique",
    ]);
    expect(problems("{ runs: 1, setup: a, command: b, runs: 2 }\n")).toEqual([
      "YAML syntax error at line 1, column 34: Map keys must be unique",
    ]);
    const many = problems(Array(8).fill("runs: 1").join("\n"));
    expect(many).toHaveLength(5);
    expect(many[0]).toBe("YAML syntax error at line 2, column 1: Map keys must be unique");
    expect(many[4]).toBe("YAML syntax error at line 6, column 1: Map keys must be unique");
  });

  it("refuses a file whose aliases expand too often, with a problem rather than a crash", () => {
    const aliases = (n: number) => `pathspec: [&p src, ${Array(n).fill("*p").join(", ")}]\n`;
    expect(parseRepoConfig(aliases(40))).toMatchObject({ ok: true });
    expect(parseRepoConfig(aliases(60))).toEqual({
      ok: false,
      problems: ["the file uses YAML aliases (*name) too often"],
    });
  });
});

describe(".github/bisect.yml: env", () => {
  it.each([
    ["env: [A, B]\n", ["`env` must be a mapping of NAME: value"]],
    ["env: plain\n", ["`env` must be a mapping of NAME: value"]],
    ["env: ~\n", ["`env` must be a mapping of NAME: value"]],
    ["env:\n  A: [1]\n", ["`env` A must be a string, a number or true/false"]],
    [
      "env:\n  lower: x\n",
      ['`env` name "lower" must be upper case letters, digits and _ (not starting with a digit)'],
    ],
    [
      "env:\n  A: [1]\n  HOME: /x\n",
      [
        "`env` A must be a string, a number or true/false",
        "`env` HOME is set by the runner and cannot be changed",
      ],
    ],
  ])("%j → %j", (text, expected) => {
    expect(problems(text)).toEqual(expected);
  });

  it("reads numbers and true/false as their text", () => {
    expect(parseRepoConfig("env:\n  A: 1\n  B: true\n  C: x y\n")).toEqual({
      ok: true,
      config: { env: { A: "1", B: "true", C: "x y" } },
    });
  });
});

describe(".github/bisect.yml: timeout, network, auto and the predicate together", () => {
  it.each([
    ["timeout: 0\n", false],
    ["timeout: 1\n", true],
    ["timeout: 86400\n", true],
    ["timeout: 24h\n", true],
    ["timeout: 86401\n", false],
    ["timeout: 24h1s\n", false],
    ["timeout: 1.5\n", false],
    ["timeout: soon\n", false],
  ])("%j accepted: %s", (text, ok) => {
    expect(problems(text)).toEqual(
      ok ? [] : ["`timeout` must be a duration from 1s to 24h, such as 90s, 10m or 1h"],
    );
  });

  it("names the network choices", () => {
    expect(problems("network: maybe\n")).toEqual([
      "`network` must be none, setup or all (true = all, false = none)",
    ]);
  });

  it("lets the auto section name its own places", () => {
    expect(problems("auto: 5\n")).toEqual(["`auto` must be a mapping with `checks` and `notify`"]);
  });

  it("lists the predicate's problems with the others, and a runs problem once", () => {
    expect(problems("runs: 9\nfail-threshold: 3\n")).toEqual([
      "`runs` must be a whole number from 1 to 5",
      "`fail-threshold` 3 is more than `runs` 1 (a commit cannot fail more often than it runs)",
    ]);
    expect(problems("runs: 2\nfail-threshold: 3\n")).toEqual([
      "`fail-threshold` 3 is more than `runs` 2 (a commit cannot fail more often than it runs)",
    ]);
    expect(problems("flaky: true\nruns: 2\n")).toEqual([
      "`flaky` sets `runs` and `fail-threshold` itself; give either `flaky` or `runs`/`fail-threshold`",
    ]);
    expect(problems("setup: ''\nflaky: true\nruns: 2\n")).toEqual([
      "`setup` must not be empty (the setup command)",
      "`flaky` sets `runs` and `fail-threshold` itself; give either `flaky` or `runs`/`fail-threshold`",
    ]);
  });
});
