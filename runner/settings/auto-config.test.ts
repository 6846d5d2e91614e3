import { describe, expect, it } from "vitest";
import { parseRepoConfig } from "./repo-config";

describe("the auto: section of bisect.yml", () => {
  it("maps check names to commands, with per-check settings over the file's", () => {
    const result = parseRepoConfig(
      [
        "setup: npm ci",
        "auto:",
        "  checks:",
        '    "test (ubuntu-latest)": npm test',
        "    lint:",
        "      command: npm run lint",
        "      setup: npm ci --ignore-scripts",
        "      image: node:20-bookworm",
        "      runs: 3",
        "  notify: issue",
      ].join("\n"),
    );
    expect(result).toEqual({
      ok: true,
      config: {
        setup: "npm ci",
        auto: {
          notify: "issue",
          checks: [
            { name: "test (ubuntu-latest)", command: "npm test" },
            {
              name: "lint",
              command: "npm run lint",
              setup: "npm ci --ignore-scripts",
              image: "node:20-bookworm",
              predicate: { runs: 3 },
            },
          ],
        },
      },
    });
  });

  it("notifies the culprit's pull request unless told otherwise", () => {
    const result = parseRepoConfig("auto:\n  checks:\n    lint: npm run lint\n");
    expect(result.ok && result.config.auto?.notify).toBe("pull-request");
  });

  it("names every problem where it is", () => {
    const result = parseRepoConfig(
      [
        "auto:",
        "  notify: slack",
        "  when: always",
        "  checks:",
        '    lint: ""',
        "    unit:",
        "      command: npm test",
        "      image: 'Not An Image'",
        "      find: fix",
        "      runs: 9",
      ].join("\n"),
    );
    expect(result).toEqual({
      ok: false,
      problems: [
        "`auto` has an unknown setting `when` (the settings are `checks`, `notify`)",
        "`auto.notify` must be one of pull-request, commit, issue, none",
        "`auto.checks.lint` must not be empty (the test command)",
        "`auto.checks.unit` has unknown setting `find` (the settings are `command`, `setup`, `image`, `runs`, `fail-threshold`, `flaky`, `crash`, `timeout-is`, `bad-if-output`)",
        "`auto.checks.unit.image` is not a valid image name (for example node:20-bookworm or ghcr.io/acme/runner:1.2)",
        expect.stringMatching(/^`auto\.checks\.unit`: `runs` must be/),
      ],
    });
  });

  it("needs at least one check", () => {
    expect(parseRepoConfig("auto:\n  notify: none\n")).toEqual({
      ok: false,
      problems: [
        "`auto.checks` must map at least one check name to the command that reproduces it",
      ],
    });
    expect(parseRepoConfig("auto: yes\n")).toEqual({
      ok: false,
      problems: ["`auto` must be a mapping with `checks` and `notify`"],
    });
  });

  it("changes nothing for a file without it", () => {
    expect(parseRepoConfig("command: npm test\n")).toEqual({
      ok: true,
      config: { command: "npm test" },
    });
  });
});
