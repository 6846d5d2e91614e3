import { describe, expect, it } from "vitest";
import type { BisectionResult, BisectionStep } from "../bisection/run-bisection";
import { exitCodeHints, formatResult, settleCommand } from "./output";

const step = (exitCode: number | null, reason?: string): BisectionStep => ({
  sha: "a".repeat(40),
  verdict: "bad",
  exitCode,
  durationMs: 1,
  round: 1,
  wallMs: 1,
  log: "",
  ...(reason ? { reason } : {}),
});

describe("exit-code hints", () => {
  it("127: choose an image, never an older good revision", () => {
    const [hint] = exitCodeHints({ steps: [step(127)] }, { image: true });
    expect(hint).toContain("command not found");
    expect(hint).toContain("--image");
    expect(hint).not.toMatch(/older|--good/);
  });
  it("126: not executable", () => {
    expect(exitCodeHints({ steps: [step(126)] }, { image: true })[0]).toContain("chmod=+x");
  });
  it("139 and 134: crashes, with what to do", () => {
    const hints = exitCodeHints({ steps: [step(139), step(134)] }, { image: true });
    expect(hints[0]).toContain("segmentation fault");
    expect(hints[0]).toContain("--crash bad");
    expect(hints[1]).toContain("abort (SIGABRT)");
    expect(exitCodeHints({ steps: [step(139)] }, { image: true, crash: "bad" })[0]).toContain(
      "already count as bad",
    );
  });
  it("says nothing for plain failures", () => {
    expect(exitCodeHints({ steps: [step(1), step(0)] }, { image: true })).toEqual([]);
  });
});

describe("texts", () => {
  const result: BisectionResult = {
    outcome: "found",
    culprit: "b".repeat(40),
    candidates: ["b".repeat(40)],
    rounds: 2,
    steps: [],
    confidence: 1,
    explanation: "",
    cancelled: 0,
  };
  it("say first fixed commit when hunting a fix", () => {
    expect(formatResult(result, new Map(), 10, { find: "fix" })).toContain(
      "found: the first fixed commit is",
    );
    expect(formatResult(result, new Map(), 10)).toContain("found: the first bad commit is");
  });
  it("call an uncertain culprit likely, with its confidence", () => {
    const text = formatResult({ ...result, outcome: "likely", confidence: 0.6 }, new Map(), 10);
    expect(text).toContain("likely (not sure)");
    expect(text).toContain("confidence 0.60");
    expect(text).not.toContain("found");
  });
  it("give the command that settles a likely culprit", () => {
    expect(
      settleCommand(
        ["--repo", "/r", "--good=v1", "--bad", "main", "--runs", "3", "--", "npm", "test"],
        "p1",
        "c1",
      ),
    ).toBe("npm run bisect -- --repo /r --good p1 --bad c1 --flaky -- npm test");
  });
});
