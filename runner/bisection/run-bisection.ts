// The bisection loop for one process: drive the pure engine with an executor, up to k runs at once.
//
// Pipelined: whenever a run ends, its verdict is recorded and the engine is asked again with the
// slots that are free now (and the runs still in flight), so a slow run never holds back the others.
// Two refinements keep pipelining from wasting slots when runs take about the same time:
// - Gathering: when a run ends while others that started about as long ago are due to end within
//   a short window (a fraction of the typical run time), the loop waits up to that window for
//   them before asking the engine, so the next probes are chosen knowing all those verdicts (full
//   multisection) instead of one at a time. A `done` decision is never delayed.
// - Cancelling: a run in flight whose verdict can no longer change anything (whatever it says, the
//   candidate set stays the same — its commit is above a known bad or below a known good) is
//   stopped and its slot reused. It is not recorded as a step.
//
// Rounds: a round is one generation of decisions. The first batch of probes opens round 1. Each
// later batch opens a new round when the candidate count reported by the engine differs from the
// count that opened the current round (results narrowed the range); otherwise its probes join the
// current round. So endpoint checks and retries after an `error` share the round of the probes
// they were issued with, and with k slots in lock-step the rounds are the multisection rounds.
// `step.round` is the round in which the probe was issued; `result.rounds` the highest round of a
// recorded step (runs stopped unfinished because they had become useless are not steps).
//
// Runs: prepare → start → wait, then the verdict is handed to the engine at once while the
// container is destroyed in the background (removal is off the critical path). Every run is
// destroyed before `runBisection` settles, whatever happens (done early, abort, failure).
import { decide as engineDecide } from "../engine/engine";
import { defaultPredicate, type Predicate } from "../engine/predicate";
import {
  defaultPolicy,
  isEndpointRun,
  reportedOutcome,
  type CommitGraph,
  type Decision,
  type EngineInput,
  type Observation,
  type Policy,
  type ReportedOutcome,
  type Sha,
  type Verdict,
} from "../engine/types";
import { classifyRun as engineClassifyRun } from "../engine/verdict";
import { uselessInFlight } from "./useless";
import { InfrastructureError } from "../errors";
import { type Executor, type RunHandle, type RunResult, type RunSpec } from "../executors/types";

/** `likely`: a single culprit whose confidence is below FOUND_CONFIDENCE. */
export type BisectionOutcome = ReportedOutcome | "error";

export interface BisectionStep {
  sha: Sha;
  verdict: Verdict;
  /** The command's exit code; null when it died by a signal or never ran (infrastructure error). */
  exitCode: number | null;
  /** The command's own run time (the executor's `durationMs`); wall time of the attempt on infrastructure errors. */
  durationMs: number;
  /** The round in which this probe was issued (see the top of this file). */
  round: number;
  reason?: string;
  /** From `prepare` until the result was known (checkout included, container creation too unless a warm one was taken; removal excluded), ms. */
  wallMs: number;
  /** The tail of the command's output (empty on infrastructure errors). */
  log: string;
}

export interface BisectionResult {
  outcome: BisectionOutcome;
  /** The first bad commit when `found` or `likely`. */
  culprit: Sha | null;
  /** Every commit that may be the first bad one. */
  candidates: Sha[];
  /** The highest round of a recorded step (see the top of this file). */
  rounds: number;
  steps: BisectionStep[];
  confidence: number;
  explanation: string;
  /** Runs stopped because their verdict could no longer matter. */
  cancelled: number;
  /** Set when the bisection was stopped by the abort signal. */
  aborted?: boolean;
}

export type BisectionEvent =
  | { type: "round"; round: number; candidates: number }
  | { type: "candidates"; candidates: number }
  | { type: "step-started"; sha: Sha; round: number }
  | { type: "step-finished"; step: BisectionStep }
  | { type: "step-cancelled"; sha: Sha; round: number }
  | { type: "done"; result: BisectionResult };

export interface EngineFunctions {
  decide(input: EngineInput): Decision;
  classifyRun(result: RunResult): { verdict: Verdict; reason?: string };
}

export interface RunBisectionOptions {
  graph: CommitGraph;
  /**
   * Merged over the engine's default policy. With `overlapEndpoints` (and `verifyEndpoints`) the
   * endpoint checks run alongside the first probes, beyond `parallel` (one run per endpoint at a
   * time); a failed check still ends the bisection and stops the runs in flight.
   */
  policy?: Partial<Policy>;
  /** What a run's outcome means (crash, timeout, output, find fix). Default: `defaultPredicate`. */
  predicate?: Predicate;
  /** Runs in flight at most (k ≥ 1). */
  parallel: number;
  executor: Executor;
  /** The run to make for a commit (labels, repository, command, limits…). */
  specFor(sha: Sha): RunSpec;
  onEvent?(event: BisectionEvent): void;
  /** Aborting kills the runs in flight, removes their resources, and resolves with `aborted: true`. */
  signal?: AbortSignal;
  /**
   * Stop with outcome `error` after this many infrastructure failures in a row (the executor itself
   * failing, not the commit). Default: max(4, 2 × parallel).
   */
  maxConsecutiveInfraErrors?: number;
  /** Gathering window as a fraction of the median run time (0 disables gathering). Default 0.3. */
  gatherFraction?: number;
  /** Stop runs whose verdict can no longer matter (default true). */
  cancelUseless?: boolean;
  /** The engine (defaults to the real one; replaceable in tests). */
  engine?: EngineFunctions;
}

interface Completion {
  id: number;
  result?: RunResult;
  error?: unknown;
  wallMs: number;
}

interface Flight {
  sha: Sha;
  round: number;
  startedAt: number;
  controller: AbortController;
  cancelled: boolean;
}

/** Above this cost of one `decide` call, the usefulness checks (2 calls per run in flight) are skipped. */
const MAX_DECIDE_MS_FOR_CANCEL_CHECKS = 25;

export async function runBisection(options: RunBisectionOptions): Promise<BisectionResult> {
  const predicate = options.predicate ?? defaultPredicate;
  const engine = options.engine ?? {
    decide: engineDecide,
    classifyRun: (result: RunResult) => engineClassifyRun(result, { predicate }),
  };
  const policy: Policy = { ...defaultPolicy, ...options.policy };
  const lanes = policy.verifyEndpoints && policy.overlapEndpoints === true;
  /** Runs that count against `parallel`: endpoint checks on their own lanes do not. */
  const slotted = (sha: Sha) => !(lanes && isEndpointRun(options.graph, sha));
  const parallel = Math.floor(options.parallel);
  if (!(parallel >= 1))
    throw new RangeError(`parallel must be at least 1, got ${options.parallel}`);
  const maxInfra = options.maxConsecutiveInfraErrors ?? Math.max(4, 2 * parallel);
  const gatherFraction = Math.max(0, options.gatherFraction ?? 0.3);
  const cancelUseless = options.cancelUseless ?? true;
  const { executor, graph, signal } = options;
  const emit = (event: BisectionEvent) => {
    try {
      options.onEvent?.(event);
    } catch {
      // An observer must not break the bisection.
    }
  };

  const observations: Observation[] = [];
  const steps: BisectionStep[] = [];
  const inFlight = new Map<number, Flight>();
  const completions: Completion[] = [];
  const removals = new Set<Promise<void>>();
  /** Wall times of runs that produced a result, for the gathering window. */
  const runTimes: number[] = [];
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  signal?.addEventListener("abort", notify, { once: true });
  /** Resolves on the next completion, the abort, or after `ms`. */
  const sleep = (ms?: number) =>
    new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(notify, Math.max(0, ms));
      wake = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
      // The abort listener wakes a sleeper itself; checking `aborted` here would spin in `settle`.
      if (completions.length > 0) notify();
    });

  let nextId = 0;
  let round = 0;
  let roundCandidates = -1;
  let lastCandidates = -1;
  let consecutiveInfra = 0;
  let lastInfraMessage = "";
  let cancelled = 0;
  const cancelledShas = new Set<Sha>();
  let checkedAtCandidates = -1;
  let decideMs = 0;
  let gatherUntil: number | undefined;

  const launch = (sha: Sha, runRound: number) => {
    const id = nextId++;
    const controller = new AbortController();
    const startedAt = performance.now();
    inFlight.set(id, { sha, round: runRound, startedAt, controller, cancelled: false });
    emit({ type: "step-started", sha, round: runRound });
    void runProbe(executor, () => options.specFor(sha), controller.signal, removals)
      .then(
        (result) => completions.push({ id, result, wallMs: performance.now() - startedAt }),
        (error: unknown) => completions.push({ id, error, wallMs: performance.now() - startedAt }),
      )
      .finally(notify);
  };

  const timedDecide = (input: EngineInput): Decision => {
    const t = performance.now();
    const decision = engine.decide(input);
    decideMs = performance.now() - t;
    return decision;
  };
  const activeShas = () => [...inFlight.values()].filter((f) => !f.cancelled).map((f) => f.sha);
  /** Slots free for probes: runs in flight (cancelled ones included, until they end) minus endpoint lanes. */
  const freeSlots = () =>
    Math.max(0, parallel - [...inFlight.values()].filter((f) => slotted(f.sha)).length);

  /** Stop runs in flight whose verdict, good or bad, would leave the engine's view unchanged. */
  const cancelUselessRuns = (base: Decision) => {
    const candidates = activeShas().filter((sha) => !cancelledShas.has(sha));
    if (candidates.length === 0) return;
    const useless = uselessInFlight(
      { graph, policy, observations, inFlight: activeShas() },
      engine.decide,
      base,
    );
    for (const sha of useless) {
      if (cancelledShas.has(sha)) continue;
      cancelledShas.add(sha);
      for (const flight of inFlight.values()) {
        if (flight.sha !== sha || flight.cancelled) continue;
        flight.cancelled = true;
        flight.controller.abort();
        cancelled++;
        emit({ type: "step-cancelled", sha, round: flight.round });
      }
    }
  };

  /** Whether some active run is due to end within the gathering window. */
  const dueSoon = (now: number): boolean => {
    if (gatherFraction === 0 || runTimes.length === 0) return false;
    const typical = median(runTimes);
    const window = gatherFraction * typical;
    return [...inFlight.values()].some(
      (f) => !f.cancelled && now - f.startedAt >= typical - window,
    );
  };

  const settle = async (): Promise<void> => {
    for (const flight of inFlight.values()) flight.controller.abort();
    while (inFlight.size > 0) {
      await sleep();
      for (const c of completions.splice(0)) inFlight.delete(c.id);
    }
    while (removals.size > 0) await Promise.allSettled([...removals]);
  };

  const finish = async (
    partial: Omit<BisectionResult, "rounds" | "steps" | "cancelled">,
  ): Promise<BisectionResult> => {
    await settle();
    signal?.removeEventListener("abort", notify);
    const rounds = steps.reduce((max, s) => Math.max(max, s.round), 0);
    const result: BisectionResult = { ...partial, rounds, steps, cancelled };
    emit({ type: "done", result });
    return result;
  };

  const errorResult = (explanation: string, aborted = false) =>
    finish({
      outcome: "error",
      culprit: null,
      candidates: [],
      confidence: 0,
      explanation,
      ...(aborted ? { aborted } : {}),
    });

  try {
    for (;;) {
      if (signal?.aborted) return await errorResult("The bisection was aborted.", true);

      // Record every run that has ended since the last decision.
      for (const c of completions.splice(0)) {
        const flight = inFlight.get(c.id)!;
        inFlight.delete(c.id);
        if (flight.cancelled) continue;
        const step = toStep(flight, c, engine);
        steps.push(step);
        observations.push({
          sha: step.sha,
          verdict: step.verdict,
          ...(step.reason ? { reason: step.reason } : {}),
        });
        emit({ type: "step-finished", step });
        if (c.error !== undefined) {
          consecutiveInfra++;
          lastInfraMessage = errorMessage(c.error);
        } else {
          consecutiveInfra = 0;
          runTimes.push(c.wallMs);
        }
      }
      if (consecutiveInfra >= maxInfra) {
        return await errorResult(
          `The executor failed ${consecutiveInfra} times in a row, last: ${lastInfraMessage}`,
        );
      }

      const active = activeShas();
      let decision = timedDecide({
        graph,
        policy,
        observations: [...observations],
        inFlight: active,
        slots: freeSlots(),
      });

      if (decision.kind === "done") {
        return await finish({
          outcome: reportedOutcome(decision),
          culprit: decision.culprit,
          candidates: decision.candidates,
          confidence: decision.confidence,
          explanation: decision.explanation,
        });
      }

      if (decision.candidates !== lastCandidates) {
        lastCandidates = decision.candidates;
        emit({ type: "candidates", candidates: decision.candidates });
      }

      // After the candidate set changed, stop runs that can no longer tell anything, and ask again.
      if (
        cancelUseless &&
        active.length > 0 &&
        decision.candidates !== checkedAtCandidates &&
        decideMs <= MAX_DECIDE_MS_FOR_CANCEL_CHECKS
      ) {
        checkedAtCandidates = decision.candidates;
        const before = cancelled;
        cancelUselessRuns(decision);
        if (cancelled > before) {
          decision = timedDecide({
            graph,
            policy,
            observations: [...observations],
            inFlight: activeShas(),
            slots: freeSlots(),
          });
        }
      }

      const probes: Sha[] = [];
      if (decision.kind === "probe") {
        let room = freeSlots();
        for (const sha of decision.probes) {
          if (!slotted(sha)) probes.push(sha);
          else if (room > 0) {
            probes.push(sha);
            room--;
          }
        }
      }

      // Gather: hold new probes briefly while runs due to end soon are still going.
      if (probes.length > 0) {
        const now = performance.now();
        if (gatherUntil === undefined && dueSoon(now))
          gatherUntil = now + gatherFraction * median(runTimes);
        if (gatherUntil !== undefined && now < gatherUntil && dueSoon(now)) {
          await sleep(gatherUntil - now);
          continue;
        }
        gatherUntil = undefined;
      }

      if (probes.length > 0 && decision.kind === "probe") {
        if (round === 0 || decision.candidates !== roundCandidates) {
          round++;
          roundCandidates = decision.candidates;
          emit({ type: "round", round, candidates: decision.candidates });
        }
        for (const sha of probes) launch(sha, round);
      }

      if (inFlight.size === 0) {
        return await errorResult(
          `The engine asked to ${decision.kind === "wait" ? "wait" : "probe nothing"} with no run in flight (${decision.candidates} candidates left).`,
        );
      }

      // Wait until a run ends (or the abort signal fires).
      await sleep();
    }
  } catch (error) {
    return await errorResult(`The bisection failed: ${errorMessage(error)}`);
  }
}

function toStep(flight: Flight, c: Completion, engine: EngineFunctions): BisectionStep {
  const wallMs = Math.round(c.wallMs);
  if (c.result) {
    const { verdict, reason } = engine.classifyRun(c.result);
    return {
      sha: flight.sha,
      verdict,
      exitCode: c.result.exitCode,
      durationMs: Math.round(c.result.durationMs),
      round: flight.round,
      ...(reason ? { reason } : {}),
      wallMs,
      log: c.result.log,
    };
  }
  const kind = c.error instanceof InfrastructureError ? "infrastructure" : "executor failure";
  return {
    sha: flight.sha,
    verdict: "error",
    exitCode: null,
    durationMs: wallMs,
    round: flight.round,
    reason: `${kind}: ${errorMessage(c.error)}`,
    wallMs,
    log: "",
  };
}

/**
 * One run: prepare → start → wait. Resolves with the result as soon as `wait` does; the run's
 * resources are destroyed in the background, the promise of that removal being kept in `removals`
 * until it settles. Rejects when the executor fails (InfrastructureError) — after scheduling removal.
 */
async function runProbe(
  executor: Executor,
  specOf: () => RunSpec,
  signal: AbortSignal,
  removals: Set<Promise<void>>,
): Promise<RunResult> {
  let handle: RunHandle | undefined;
  try {
    handle = await executor.prepare(specOf());
    if (signal.aborted) throw new InfrastructureError("aborted before start");
    await executor.start(handle);
    return await executor.wait(handle, signal);
  } finally {
    if (handle) {
      const h = handle;
      const removal: Promise<void> = executor
        .destroy(h)
        .catch((error: unknown) => {
          console.error(`warning: could not remove run ${h.id}: ${errorMessage(error)}`);
        })
        .finally(() => removals.delete(removal));
      removals.add(removal);
    }
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
