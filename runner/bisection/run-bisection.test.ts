import { describe, expect, it } from "vitest";
import type { CommitGraph, Decision, EngineInput, Sha } from "../engine/types";
import { InfrastructureError } from "../errors";
import {
  defaultLimits,
  type Executor,
  type RunHandle,
  type RunResult,
  type RunSpec,
} from "../executors/types";
import { runBisection, type BisectionEvent, type EngineFunctions } from "./run-bisection";

// A toy engine for linear graphs: enough to exercise the loop (the real engine has its own tests).
function linearGraph(n: number): { graph: CommitGraph; shas: Sha[] } {
  const shas = Array.from({ length: n }, (_, i) => i.toString(16).padStart(40, "0"));
  const commits: CommitGraph["commits"] = {};
  for (let i = 1; i < n; i++) commits[shas[i]!] = { parents: [shas[i - 1]!] };
  return { graph: { good: shas[0]!, bad: shas[n - 1]!, commits }, shas };
}

function toyEngine(shas: Sha[]): EngineFunctions {
  const index = new Map(shas.map((s, i) => [s, i]));
  return {
    classifyRun: (r: RunResult) =>
      r.exitCode === 0
        ? { verdict: "good" }
        : r.exitCode === 125
          ? { verdict: "skip", reason: "exit 125" }
          : { verdict: "bad" },
    decide(input: EngineInput): Decision {
      let lo = 0; // last known good
      let hi = shas.length - 1; // first known bad
      const errors = new Map<Sha, number>();
      for (const o of input.observations) {
        const i = index.get(o.sha)!;
        if (o.verdict === "good") lo = Math.max(lo, i);
        if (o.verdict === "bad") hi = Math.min(hi, i);
        if (o.verdict === "error") errors.set(o.sha, (errors.get(o.sha) ?? 0) + 1);
      }
      const candidates = hi - lo;
      if (candidates <= 1) {
        return {
          kind: "done",
          outcome: "found",
          culprit: shas[hi]!,
          candidates: [shas[hi]!],
          confidence: 1,
          explanation: "found",
        };
      }
      const busy = new Set(input.inFlight.map((s) => index.get(s)!));
      const free = [];
      for (let i = lo + 1; i < hi; i++)
        if (!busy.has(i) && (errors.get(shas[i]!) ?? 0) < 2) free.push(i);
      const probes: Sha[] = [];
      const k = Math.min(input.slots, free.length);
      for (let j = 1; j <= k; j++)
        probes.push(shas[free[Math.floor((j * free.length) / (k + 1))]!]!);
      if (probes.length === 0) return { kind: "wait", candidates };
      return { kind: "probe", probes: [...new Set(probes)], candidates };
    },
  };
}

interface FakeRun {
  id: string;
  sha: Sha;
  state: "prepared" | "started" | "ended" | "destroyed";
}

/** An executor whose runs exit by a rule after a delay; records every handle. */
function fakeExecutor(rule: (sha: Sha) => { exitCode: number; delayMs: number } | Error) {
  const runs = new Map<string, FakeRun>();
  const log: string[] = [];
  let next = 0;
  const executor: Executor = {
    name: "fake",
    async prepare(spec: RunSpec): Promise<RunHandle> {
      const id = `run-${next++}`;
      runs.set(id, { id, sha: spec.sha, state: "prepared" });
      log.push(`prepare ${spec.sha.slice(-2)}`);
      return { id };
    },
    async start(run) {
      runs.get(run.id)!.state = "started";
    },
    async wait(run, signal): Promise<RunResult> {
      const r = runs.get(run.id)!;
      const outcome = rule(r.sha);
      if (outcome instanceof Error) throw outcome;
      const started = Date.now();
      const aborted = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), outcome.delayMs);
        signal?.addEventListener("abort", () => {
          clearTimeout(timer);
          // Killing takes a moment (a macrotask away, like real I/O).
          setTimeout(() => resolve(true), 5);
        });
      });
      r.state = "ended";
      log.push(`end ${r.sha.slice(-2)}${aborted ? " (aborted)" : ""}`);
      return {
        exitCode: aborted ? null : outcome.exitCode,
        signal: aborted ? "SIGKILL" : null,
        timedOut: false,
        oomKilled: false,
        aborted,
        durationMs: Date.now() - started,
        log: "",
        logTruncated: false,
      };
    },
    async destroy(run) {
      const r = runs.get(run.id);
      if (r) r.state = "destroyed";
    },
  };
  return { executor, runs, log };
}

const specFor = (sha: Sha): RunSpec => ({
  labels: { test: "1" },
  repo: { kind: "host-path", path: "/nowhere" },
  sha,
  command: "true",
  timeoutMs: 10_000,
  limits: defaultLimits,
  network: false,
  logLimitBytes: 1000,
});

describe("runBisection", () => {
  it.each([1, 3])("finds the culprit with parallel %i, every run destroyed", async (parallel) => {
    const { graph, shas } = linearGraph(40);
    const culprit = 23;
    const { executor, runs } = fakeExecutor((sha) => ({
      exitCode: shas.indexOf(sha) >= culprit ? 1 : 0,
      delayMs: 2,
    }));
    const events: BisectionEvent[] = [];
    const result = await runBisection({
      graph,
      parallel,
      executor,
      specFor,
      engine: toyEngine(shas),
      onEvent: (e) => events.push(e),
    });
    expect(result).toMatchObject({
      outcome: "found",
      culprit: shas[culprit],
      candidates: [shas[culprit]],
    });
    // Runs still in flight when the engine is done are stopped and not reported as steps.
    expect(result.steps.length).toBeLessThanOrEqual(runs.size);
    if (parallel === 1) expect(result.steps.length).toBe(runs.size);
    expect([...runs.values()].every((r) => r.state === "destroyed")).toBe(true);
    expect(result.rounds).toBe(Math.max(...result.steps.map((s) => s.round)));
    expect(events.at(-1)).toEqual({ type: "done", result });
    expect(events.filter((e) => e.type === "step-finished")).toHaveLength(result.steps.length);
    for (const s of result.steps)
      expect(s.verdict).toBe(shas.indexOf(s.sha) >= culprit ? "bad" : "good");
    if (parallel === 1) expect(result.rounds).toBe(result.steps.length);
    else expect(result.rounds).toBeLessThan(result.steps.length);
  });

  it("keeps up to k runs in flight and starts a new one as soon as one ends (pipelined)", async () => {
    const { graph, shas } = linearGraph(200);
    let inFlight = 0;
    let maxInFlight = 0;
    const slow = new Set<Sha>();
    const { executor, log } = fakeExecutor((sha) => {
      // The first probe is slow: the others must not wait for it.
      if (slow.size === 0) slow.add(sha);
      return { exitCode: shas.indexOf(sha) >= 150 ? 1 : 0, delayMs: slow.has(sha) ? 150 : 5 };
    });
    const counting: Executor = {
      ...executor,
      start: async (run) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await executor.start(run);
      },
      wait: async (run, signal) => {
        try {
          return await executor.wait(run, signal);
        } finally {
          inFlight--;
        }
      },
    };
    const result = await runBisection({
      graph,
      parallel: 3,
      executor: counting,
      specFor,
      engine: toyEngine(shas),
    });
    expect(result.culprit).toBe(shas[150]);
    expect(maxInFlight).toBe(3);
    const slowSha = [...slow][0]!.slice(-2);
    // Runs were started (and ended) while the slow first one was still going.
    const slowEnd = log.indexOf(`end ${slowSha}`);
    expect(
      log.slice(0, slowEnd === -1 ? log.length : slowEnd).filter((l) => l.startsWith("prepare"))
        .length,
    ).toBeGreaterThan(3);
  });

  it("turns executor failures into error observations and stops after too many in a row", async () => {
    const { graph, shas } = linearGraph(30);
    const { executor } = fakeExecutor((sha) =>
      shas.indexOf(sha) === 15
        ? new InfrastructureError("engine hiccup")
        : { exitCode: shas.indexOf(sha) >= 10 ? 1 : 0, delayMs: 1 },
    );
    const result = await runBisection({
      graph,
      parallel: 1,
      executor,
      specFor,
      engine: toyEngine(shas),
    });
    expect(result.culprit).toBe(shas[10]);
    const errors = result.steps.filter((s) => s.verdict === "error");
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({
      sha: shas[15],
      exitCode: null,
      reason: "infrastructure: engine hiccup",
    });

    const broken = fakeExecutor(() => new InfrastructureError("engine unreachable"));
    const failed = await runBisection({
      graph,
      parallel: 2,
      executor: broken.executor,
      specFor,
      engine: toyEngine(shas),
      maxConsecutiveInfraErrors: 3,
    });
    expect(failed.outcome).toBe("error");
    expect(failed.culprit).toBeNull();
    expect(failed.explanation).toMatch(/failed \d+ times in a row, last: engine unreachable/);
    expect([...broken.runs.values()].every((r) => r.state === "destroyed")).toBe(true);
  });

  it("counts a failing prepare as an error observation", async () => {
    const { graph, shas } = linearGraph(10);
    const { executor } = fakeExecutor((sha) => ({
      exitCode: shas.indexOf(sha) >= 4 ? 1 : 0,
      delayMs: 1,
    }));
    let failures = 1;
    const flaky: Executor = {
      ...executor,
      prepare: async (spec) => {
        if (failures-- > 0) throw new InfrastructureError("no space left");
        return executor.prepare(spec);
      },
    };
    const result = await runBisection({
      graph,
      parallel: 1,
      executor: flaky,
      specFor,
      engine: toyEngine(shas),
    });
    expect(result.culprit).toBe(shas[4]);
    expect(result.steps[0]).toMatchObject({
      verdict: "error",
      reason: "infrastructure: no space left",
    });
  });

  it("aborts: kills the runs in flight, removes them, reports aborted", async () => {
    const { graph, shas } = linearGraph(100);
    const { executor, runs } = fakeExecutor(() => ({ exitCode: 0, delayMs: 60_000 }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const result = await runBisection({
      graph,
      parallel: 4,
      executor,
      specFor,
      engine: toyEngine(shas),
      signal: controller.signal,
    });
    expect(result).toMatchObject({ outcome: "error", aborted: true, culprit: null });
    expect(runs.size).toBe(4);
    expect([...runs.values()].every((r) => r.state === "destroyed")).toBe(true);
  });

  it("stops the runs still in flight when the engine is done", async () => {
    const { graph, shas } = linearGraph(3);
    // Commit 1 answers fast (bad → culprit found); commit 2's run must then be stopped.
    const { executor, runs, log } = fakeExecutor((sha) => ({
      exitCode: 1,
      delayMs: shas.indexOf(sha) === 1 ? 1 : 60_000,
    }));
    const engine = toyEngine(shas);
    const result = await runBisection({
      graph,
      parallel: 2,
      executor,
      specFor,
      engine: {
        ...engine,
        decide: (input) =>
          input.observations.length === 0 && input.inFlight.length === 0
            ? { kind: "probe", probes: [shas[1]!, shas[2]!], candidates: 2 }
            : engine.decide(input),
      },
    });
    expect(result.culprit).toBe(shas[1]);
    expect(log).toContain(`end ${shas[2]!.slice(-2)} (aborted)`);
    expect(result.steps.map((s) => s.sha)).toEqual([shas[1]]);
    expect([...runs.values()].every((r) => r.state === "destroyed")).toBe(true);
  });

  it("reports an engine that waits with nothing in flight", async () => {
    const { graph } = linearGraph(5);
    const { executor } = fakeExecutor(() => ({ exitCode: 0, delayMs: 1 }));
    const result = await runBisection({
      graph,
      parallel: 1,
      executor,
      specFor,
      engine: {
        decide: () => ({ kind: "wait", candidates: 4 }),
        classifyRun: () => ({ verdict: "good" }),
      },
    });
    expect(result.outcome).toBe("error");
    expect(result.explanation).toMatch(/asked to wait with no run in flight/);
  });

  it("opens a new round only when the candidate count changed", async () => {
    const { graph, shas } = linearGraph(5);
    const { executor } = fakeExecutor(() => ({ exitCode: 0, delayMs: 1 }));
    const script: Decision[] = [
      { kind: "probe", probes: [shas[1]!], candidates: 4 },
      { kind: "probe", probes: [shas[2]!], candidates: 4 }, // same count: same round
      { kind: "probe", probes: [shas[3]!], candidates: 2 }, // narrowed: round 2
    ];
    let call = 0;
    const result = await runBisection({
      graph,
      parallel: 1,
      executor,
      specFor,
      engine: {
        decide: () =>
          script[call++] ?? {
            kind: "done",
            outcome: "found",
            culprit: shas[4]!,
            candidates: [shas[4]!],
            confidence: 1,
            explanation: "x",
          },
        classifyRun: () => ({ verdict: "good" }),
      },
    });
    expect(result.steps.map((s) => s.round)).toEqual([1, 1, 2]);
    expect(result.rounds).toBe(2);
  });

  it("gathers results due at about the same time before choosing the next probes", async () => {
    const { graph, shas } = linearGraph(400);
    // Events in the order they happened (no clock): launches and round 1's results.
    const launched: { sha: Sha; at: number }[] = [];
    const ended: number[] = [];
    let seq = 0;
    let first = true;
    // Three results 10 ms apart, and a gathering window of most of a run: timer jitter on a busy
    // machine (tens to hundreds of ms) cannot push the later two outside it.
    const delays = [600, 610, 620];
    let n = 0;
    const { executor } = fakeExecutor((sha) => ({
      exitCode: shas.indexOf(sha) >= 300 ? 1 : 0,
      delayMs: first ? delays[n++ % 3]! : 100,
    }));
    const result = await runBisection({
      graph,
      parallel: 3,
      gatherFraction: 0.8,
      executor,
      specFor,
      engine: toyEngine(shas),
      onEvent: (e) => {
        seq++;
        if (e.type === "step-started") launched.push({ sha: e.sha, at: seq });
        if (e.type === "step-finished" && first) {
          ended.push(seq);
          if (ended.length === 3) first = false;
        }
      },
    });
    expect(result.culprit).toBe(shas[300]);
    // Nothing was launched between the first and the third result of round 1.
    const between = launched.filter((l) => l.at > ended[0]! && l.at < ended[2]!);
    expect(between).toEqual([]);
    expect(result.steps.filter((s) => s.round === 2)).toHaveLength(3);
  });

  it("stops a run that became useless and reuses its slot (real engine)", async () => {
    const { graph, shas } = linearGraph(64);
    // Probes far above the culprit are slow: once a lower probe says bad they are useless.
    const { executor, log } = fakeExecutor((sha) => {
      const i = shas.indexOf(sha);
      return { exitCode: i >= 10 ? 1 : 0, delayMs: i > 30 && i < 63 ? 2_000 : 5 };
    });
    const events: BisectionEvent[] = [];
    const result = await runBisection({
      graph,
      parallel: 4,
      executor,
      specFor,
      onEvent: (e) => events.push(e),
    });
    expect(result).toMatchObject({ outcome: "found", culprit: shas[10] });
    expect(result.cancelled).toBeGreaterThan(0);
    expect(events.some((e) => e.type === "step-cancelled")).toBe(true);
    expect(log.some((l) => l.endsWith("(aborted)"))).toBe(true);
  });
});

describe("runBisection: endpoint checks alongside the first probes", () => {
  const shaOf = (i: number) => i.toString(16).padStart(40, "0");

  it("starts the good and bad checks with the first probe, beyond --parallel, and finds the culprit", async () => {
    const { graph, shas } = linearGraph(33);
    let inFlight = 0;
    let maxInFlight = 0;
    const firstThree: Sha[] = [];
    const { executor } = fakeExecutor((sha) => {
      if (firstThree.length < 3) firstThree.push(sha);
      return { exitCode: shas.indexOf(sha) >= 20 ? 1 : 0, delayMs: 20 };
    });
    const counting: Executor = {
      ...executor,
      async start(run) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await executor.start(run);
      },
      async wait(run, signal) {
        try {
          return await executor.wait(run, signal);
        } finally {
          inFlight--;
        }
      },
    };
    const result = await runBisection({
      graph,
      parallel: 1,
      executor: counting,
      specFor,
      policy: { verifyEndpoints: true, overlapEndpoints: true },
    });
    expect(result).toMatchObject({ outcome: "found", culprit: shas[20] });
    // Round 1 holds both endpoint checks and the first probe.
    expect(firstThree).toContain(shas[0]);
    expect(firstThree).toContain(shas[32]);
    expect(result.steps.filter((s) => s.round === 1)).toHaveLength(3);
    expect(maxInFlight).toBe(3);
  });

  it("a failing good revision still ends the job with its explanation, and stops the probes in flight", async () => {
    const { graph, shas } = linearGraph(33);
    const { executor, runs, log } = fakeExecutor((sha) =>
      sha === shas[0] ? { exitCode: 1, delayMs: 5 } : { exitCode: 1, delayMs: 5_000 },
    );
    const result = await runBisection({
      graph,
      parallel: 2,
      executor,
      specFor,
      policy: { verifyEndpoints: true, overlapEndpoints: true },
    });
    expect(result.outcome).toBe("good-is-bad");
    expect(result.explanation).toContain(`The good revision ${shaOf(0).slice(0, 12)} fails`);
    expect(result.explanation).toContain("Choose an older good revision");
    expect(log.filter((l) => l.endsWith("(aborted)")).length).toBeGreaterThanOrEqual(2);
    expect([...runs.values()].every((r) => r.state === "destroyed")).toBe(true);
  });

  it("says exit 127 means the command is missing, not that the good revision is too new", async () => {
    const { graph, shas } = linearGraph(9);
    const { executor } = fakeExecutor(() => ({ exitCode: 127, delayMs: 2 }));
    const result = await runBisection({
      graph,
      parallel: 1,
      executor,
      specFor,
      policy: { verifyEndpoints: true, overlapEndpoints: true },
    });
    expect(result.outcome).toBe("good-is-bad");
    expect(result.explanation).toContain("exit 127 (command not found)");
    expect(result.explanation).not.toContain("older good revision");
    expect(shas).toHaveLength(9);
  });
});
