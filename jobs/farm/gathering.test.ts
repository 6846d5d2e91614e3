import { describe, expect, it } from "vitest";
import { gatherUntil, opensRound } from "./gathering";

const T = 1_000_000;
const at = (ms: number) => new Date(T + ms);
/** A run that took `ms` from its lease to its verdict. */
const done = (start: number, ms: number, verdict: "good" | "bad" | "error" = "good") => ({
  status: "done" as const,
  verdict,
  startedAt: at(start),
  finishedAt: at(start + ms),
  exitCode: verdict === "error" ? null : 0,
});
const running = (start: number) => ({
  status: "running" as const,
  verdict: null,
  startedAt: at(start),
  finishedAt: null,
  exitCode: null,
});

describe("gathering verdicts due soon", () => {
  it("waits for runs that started with the one that just ended, until the end of the window", () => {
    // Runs take 1 s; one ended at 1 s, two others started 50 ms after it and are due.
    const steps = [done(0, 1000), running(50), running(60)];
    // Window 0.3 s: the latest due run is waited for until its start + 1 s + 0.3 s.
    expect(gatherUntil(steps, T + 1000)).toBe(T + 60 + 1300);
  });

  it("decides at once when no run is due: none started long enough ago, or all are late", () => {
    expect(gatherUntil([done(0, 1000), running(900)], T + 1000)).toBeNull();
    expect(gatherUntil([done(0, 1000), running(-2000)], T + 1000)).toBeNull();
  });

  it("decides at once without a typical run yet (only errors, or nothing ended), or with gathering off", () => {
    expect(gatherUntil([running(0)], T + 1000)).toBeNull();
    expect(gatherUntil([done(0, 1000, "error"), running(10)], T + 1000)).toBeNull();
    expect(gatherUntil([done(0, 1000), running(10)], T + 1000, 0)).toBeNull();
  });
});

describe("rounds", () => {
  const step = (round: number, created: number, extra: Partial<ReturnType<typeof done>> = {}) => ({
    sha: "p".repeat(40),
    round,
    createdAt: at(created),
    status: "queued" as const,
    verdict: null,
    startedAt: null,
    finishedAt: null,
    exitCode: null,
    ...extra,
  });

  it("opens the first round, and a new one once a verdict arrived since the current one opened", () => {
    expect(opensRound([], 0)).toBe(true);
    const first = [step(1, 0), step(1, 0)];
    expect(opensRound(first, 1)).toBe(false);
    expect(opensRound([step(1, 0, done(0, 1000, "bad")), step(1, 0)], 1)).toBe(true);
  });

  it("keeps retries after an error, and probes for freed slots, in the current round", () => {
    expect(opensRound([step(1, 0, done(0, 1000, "error")), step(1, 0)], 1)).toBe(false);
    // Nor does an endpoint check's verdict: it confirms the range, it does not narrow it.
    const endpoint = { ...step(1, 0, done(0, 1000, "bad")), sha: "b".repeat(40) };
    expect(opensRound([endpoint, step(1, 0)], 1, (sha) => sha === "b".repeat(40))).toBe(false);
    // A verdict from before the round opened does not open another.
    expect(opensRound([step(1, 0, done(-3000, 1000)), step(2, 0)], 2)).toBe(false);
  });
});
