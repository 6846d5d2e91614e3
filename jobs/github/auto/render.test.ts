import { describe, expect, it } from "vitest";
import { renderAutoHeader, renderDirectBody, type AutoView } from "./render";

const view = (over: Partial<AutoView> = {}): AutoView => ({
  auto: {
    id: 3,
    checkName: "lint",
    greenSha: "a".repeat(40),
    redSha: "b".repeat(40),
    checkRunUrl: "https://github.com/acme/widgets/runs/9",
    joinedRuns: 0,
  },
  repo: { owner: "acme", name: "widgets" },
  defaultBranch: "main",
  webUrl: "https://github.com",
  culprit: {
    sha: "b".repeat(40),
    title: "Parse dates with the new parser",
    authorName: "Carol Example",
    authorLogin: "carol",
    date: "2026-11-30T10:00:00Z",
    pull: { number: 42, title: "New date parser", url: "https://github.com/acme/widgets/pull/42" },
  },
  certain: true,
  ...over,
});

describe("an automatic bisection's answer", () => {
  it("says it was automatic, names the check and the run, and mentions the culprit's author", () => {
    const header = renderAutoHeader(view());
    expect(header).toContain("🤖 Automatic bisection: `lint` turned red on `main`");
    expect(header).toContain("[check run](https://github.com/acme/widgets/runs/9)");
    expect(header).toContain("@carol, the first bad commit below is yours");
  });

  it("mentions nobody when the answer is not sure", () => {
    const header = renderAutoHeader(view({ certain: false }));
    expect(header).not.toMatch(/@\w/);
    expect(header).toContain("The answer is not certain, so nobody is mentioned.");
  });

  it("never mentions a login GitHub would not have given", () => {
    const culprit = { ...view().culprit!, authorLogin: "x y @all" };
    expect(renderAutoHeader(view({ culprit }))).not.toContain("@");
  });

  it("reports a culprit whose parent was green without a run, with the command to reproduce", () => {
    const body = renderDirectBody(view(), "npm run lint");
    expect(body).toContain(
      "**First bad commit:** [`bbbbbbb` Parse dates with the new parser](https://github.com/acme/widgets/commit/" +
        "b".repeat(40) +
        ")",
    );
    expect(body).toContain("from pull request [#42 New date parser]");
    expect(body).toContain("no bisection was needed");
    expect(body).toContain(`--good ${"a".repeat(40)} --bad ${"b".repeat(40)} -- 'npm run lint'`);
  });
});
