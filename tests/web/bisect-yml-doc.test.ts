// docs/bisect-yml.md stays true: it covers every key the parser knows, and every worked example
// in it is a valid .github/bisect.yml.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BISECT_YML_EXAMPLE } from "../../app/components/bisect-yml-docs";
import { CONFIG_KEYS, parseRepoConfig } from "../../jobs/github/repo-config";

const doc = readFileSync("docs/bisect-yml.md", "utf8");
const examples = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe("docs/bisect-yml.md", () => {
  it("documents every key", () => {
    for (const key of CONFIG_KEYS) expect(doc).toMatch(new RegExp(`^\\| \`${key}\` +\\|`, "m"));
  });

  it("has worked examples that parse", () => {
    expect(examples.length).toBeGreaterThanOrEqual(5);
    for (const example of examples)
      expect(parseRepoConfig(example), example).toMatchObject({ ok: true });
  });
});

describe("the /docs page's bisect.yml", () => {
  it("is a valid file that shows every key of a run's setting (all but the predicate's and auto)", () => {
    const parsed = parseRepoConfig(BISECT_YML_EXAMPLE);
    expect(parsed).toMatchObject({
      ok: true,
      config: { cache: ["build"], env: { NODE_ENV: "test" } },
    });
    for (const key of [
      "image",
      "network",
      "setup",
      "command",
      "timeout",
      "runs",
      "env",
      "cache",
      "pathspec",
    ])
      expect(BISECT_YML_EXAMPLE).toMatch(new RegExp(`^${key}:`, "m"));
  });
});
