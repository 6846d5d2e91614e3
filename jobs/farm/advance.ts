// bisect__advance: recompute the candidate set from the recorded verdicts (the pure engine) and
// queue the next runs, or conclude. One advance at a time per job: each holds the job's row lock.
//
// The path from a verdict to the next command has no polling on it: the step that records a
// verdict advances the job in the same transaction (`advanceAfterVerdict`), each probe is queued
// with its slot already leased (`QUEUED_HOLDER`), and graphile-worker's add_job notifies idle
// workers (LISTEN/NOTIFY), which pick the step at once. As the command line's loop does, an
// advance waits briefly for runs due to end (gathering) and stops runs whose verdict can no
// longer matter, freeing their slots.
import type { Knex } from "knex";
import { BisectJob, BisectStep, RunnerLease } from "../../db/models";
import {
  decide,
  EngineInputError,
  isEndpointRun,
  reportedOutcome,
  type CommitGraph,
  type Decision,
  type EngineInput,
  type Observation,
} from "../../runner/engine";
import { uselessInFlight } from "../../runner/bisection";
import { acquireLease, freeSlots, QUEUED_HOLDER, releaseLease, slotShareOf } from "./leases";
import { enqueue } from "../catalog";
import type { WorkerContext } from "../worker-context";
import { concludeJob } from "./conclude";
import { gatherUntil, opensRound } from "./gathering";
import { hostsWithFreshMirror } from "./mirrors";
import { notifyJobChanged } from "./notify";
import { parallelismOf, policyOf, slottedInFlight } from "./policy";
import { advanceVerify } from "./verify";

/** Above this cost of one `decide`, stopping useless runs (two calls per run in flight) is skipped. */
const MAX_DECIDE_MS_FOR_CANCEL_CHECKS = 25;

interface AdvanceOptions {
  /** Wait for runs due to end soon before choosing probes (after a verdict). */
  gather?: boolean;
}

type AdvanceResult = { deferredUntil: number } | null;

/** bisect__advance (queued by prepare, the watchdog, or as a fallback): decide now. */
export async function advanceJob(ctx: WorkerContext, jobId: number): Promise<void> {
  await ctx.knex.transaction((trx) => advanceWithin(trx, jobId, {}));
}

/**
 * Called by bisect__step inside the transaction that records a verdict: hands free slots to steps
 * waiting for one, then advances the job at once. When the decision waits for runs due to end
 * soon, a timer in this process decides at the end of the window, and a queued advance at the
 * same time covers this process dying. Should the advance itself fail, only an advance is queued:
 * the verdict is recorded all the same.
 */
export async function advanceAfterVerdict(
  ctx: WorkerContext,
  trx: Knex.Transaction,
  jobId: number,
): Promise<void> {
  let result: AdvanceResult = null;
  try {
    // Slots are handed over last: a transaction that holds the hosts' lock (taking a lease) must
    // not wait for a step's row afterwards, or it deadlocks with a step starting on that host.
    result = await trx.transaction(async (inner) => {
      const advanced = await advanceWithin(inner, jobId, { gather: true });
      await handOverFreeSlots(inner);
      return advanced;
    });
  } catch {
    // Rolled back to the savepoint: the queued advance runs as a task and reports its own error.
    await requestAdvance(trx, jobId);
    return;
  }
  if (!result) return;
  const { deferredUntil } = result;
  await enqueue(
    trx,
    "bisect__advance",
    { jobId },
    { runAt: new Date(deferredUntil), jobKeyMode: "preserve_run_at" },
  );
  const timer = setTimeout(
    () => void advanceJob(ctx, jobId).catch(() => {}),
    Math.max(0, deferredUntil - Date.now()),
  );
  timer.unref();
}

async function advanceWithin(
  trx: Knex.Transaction,
  jobId: number,
  options: AdvanceOptions,
): Promise<AdvanceResult> {
  const job = await BisectJob.query(trx).findById(jobId).forUpdate();
  if (!job || job.status !== "running" || !job.graph) return null;

  const maxSeconds = job.options.maxDurationSeconds;
  if (maxSeconds && job.startedAt && Date.now() - job.startedAt.getTime() > maxSeconds * 1000) {
    const message = `The bisection ran longer than the plan allows (${Math.round(maxSeconds / 60)} min) and was stopped.`;
    await concludeJob(trx, job, { status: "finished", outcome: "timeout", explanation: message });
    return null;
  }

  let steps = await BisectStep.query(trx).where({ bisectJobId: jobId }).orderBy("id");
  if (job.options.verify) {
    await advanceVerify(trx, job, steps);
    return null;
  }
  const graph = job.graph as CommitGraph;
  const policy = policyOf(job);
  const observations: Observation[] = steps
    .filter((s) => s.status === "done" && s.verdict)
    .map((s) => ({ sha: s.sha, verdict: s.verdict!, ...(s.reason ? { reason: s.reason } : {}) }));
  const inFlightOf = () =>
    steps.filter((s) => s.status === "queued" || s.status === "running").map((s) => s.sha);
  const ask = async () => {
    const inFlight = inFlightOf();
    const allowed = parallelismOf(job) - slottedInFlight(graph, inFlight);
    // Never more than the free slots, but always one run when nothing is in flight (it waits for a slot).
    // Steps already waiting for a slot (any job's) come first: the hand-over gives them theirs.
    const free = Math.max(0, (await freeSlots(trx)) - (await waitingForSlot(trx)).length);
    const slots = Math.max(Math.min(allowed, free), inFlight.length === 0 ? 1 : 0);
    const input: EngineInput = { graph, policy, observations, inFlight, slots: Math.max(0, slots) };
    const started = performance.now();
    const decision = decide(input);
    return { decision, input, ms: performance.now() - started };
  };

  let asked;
  try {
    asked = await ask();
    // Runs whose verdict can no longer change anything are stopped, and their slots reused.
    if (
      asked.decision.kind !== "done" &&
      asked.input.inFlight.length > 0 &&
      asked.ms <= MAX_DECIDE_MS_FOR_CANCEL_CHECKS
    ) {
      const useless = uselessInFlight(asked.input, decide, asked.decision);
      if (useless.length > 0 && (await stopUseless(trx, jobId, useless)) > 0) {
        steps = await BisectStep.query(trx).where({ bisectJobId: jobId }).orderBy("id");
        asked = await ask();
      }
    }
  } catch (error) {
    if (!(error instanceof EngineInputError)) throw error;
    await concludeJob(trx, job, { status: "failed", outcome: "error", error: error.message });
    return null;
  }
  const decision: Decision = asked.decision;

  if (decision.kind === "wait") return null;
  if (decision.kind === "done") {
    await concludeJob(trx, job, {
      status: "finished",
      outcome: reportedOutcome(decision),
      culpritSha: decision.culprit,
      candidates: decision.candidates,
      confidence: decision.confidence,
      explanation: decision.explanation,
    });
    return null;
  }
  // A `done` decision is never delayed; probes wait for runs about to end (see gathering.ts).
  if (options.gather) {
    const until = gatherUntil(steps, Date.now());
    if (until !== null && until > Date.now()) return { deferredUntil: until };
  }
  await queueProbes(trx, job, steps, decision.probes);
  await notifyJobChanged(trx, job);
  return null;
}

/**
 * Marks the job's runs of `shas` still queued or running as cancelled and gives their slots back.
 * A run whose row is locked is recording its verdict right now: it is left alone (SKIP LOCKED,
 * which also keeps this from waiting on that transaction). The run's worker notices and stops it.
 */
async function stopUseless(trx: Knex.Transaction, jobId: number, shas: string[]): Promise<number> {
  const stopped = await BisectStep.query(trx)
    .patch({
      status: "cancelled",
      reason: "useless: other verdicts settled it",
      finishedAt: new Date(),
    })
    .whereIn(
      "id",
      BisectStep.query(trx)
        .select("id")
        .where({ bisectJobId: jobId })
        .whereIn("sha", shas)
        .whereIn("status", ["queued", "running"])
        .forUpdate()
        .skipLocked(),
    )
    .returning("id");
  const ids = (stopped as unknown as { id: number }[]).map((s) => s.id);
  if (ids.length === 0) return 0;
  const leases = await RunnerLease.query(trx).whereIn("bisectStepId", ids).whereNull("releasedAt");
  for (const lease of leases) await releaseLease(trx, lease.id);
  return ids.length;
}

/**
 * Queues one step per probe, each with a slot leased in this transaction when one is free (fair
 * share as for any lease), so the worker that picks it starts the run at once. A step queued
 * without one takes its slot itself, or gets one handed over when a slot frees.
 */
async function queueProbes(
  trx: Knex.Transaction,
  job: BisectJob,
  steps: BisectStep[],
  probes: string[],
): Promise<void> {
  const graph = job.graph as CommitGraph;
  const endpoint = (sha: string) => isEndpointRun(graph, sha);
  const round = opensRound(steps, job.rounds, endpoint) ? job.rounds + 1 : job.rounds;
  const attempts = new Map<string, number>();
  for (const s of steps) attempts.set(s.sha, Math.max(attempts.get(s.sha) ?? 0, s.attempt));
  const prefer = await hostsWithFreshMirror(trx, job);
  const share = await slotShareOf(trx, job);
  for (const sha of probes) {
    const attempt = (attempts.get(sha) ?? 0) + 1;
    attempts.set(sha, attempt);
    const step = await BisectStep.query(trx)
      .insert({ bisectJobId: job.id, sha, round, attempt, status: "queued" })
      .returning("*");
    await acquireLease(trx, {
      holder: QUEUED_HOLDER,
      stepId: step.id,
      ttlSeconds: LEASE_WAIT_SECONDS,
      prefer,
      avoid: failedHosts(steps, sha),
      ...share,
    });
    await enqueue(trx, "bisect__step", { stepId: step.id });
  }
  if (round !== job.rounds)
    await BisectJob.query(trx).patch({ rounds: round }).where({ id: job.id });
}

/**
 * How long a slot leased for a queued step waits for a worker to claim it; past that, the slot
 * is free again and the step takes one itself when it runs.
 */
const LEASE_WAIT_SECONDS = 60;

/**
 * Slots freed by ended runs go to steps queued without one, oldest first (any job still going,
 * fair share as for any lease), and those steps are queued again to run now: a waiting step does
 * not wait for its retry.
 */
async function handOverFreeSlots(trx: Knex.Transaction): Promise<void> {
  const waiting = await waitingForSlot(trx);
  if (waiting.length === 0 || (await freeSlots(trx)) === 0) return;
  const jobs = new Map<number, BisectJob>();
  for (const step of waiting) {
    let job = jobs.get(step.bisectJobId);
    if (!job) {
      job = await BisectJob.query(trx).findById(step.bisectJobId);
      if (!job) continue;
      jobs.set(job.id, job);
    }
    const lease = await acquireLease(trx, {
      holder: QUEUED_HOLDER,
      stepId: step.id,
      ttlSeconds: LEASE_WAIT_SECONDS,
      prefer: await hostsWithFreshMirror(trx, job),
      ...(await slotShareOf(trx, job)),
    });
    if (lease) await enqueue(trx, "bisect__step", { stepId: step.id });
    if ((await freeSlots(trx)) === 0) return;
  }
}

/** Queued steps of jobs still going that hold no slot, oldest first (at most 16). */
async function waitingForSlot(trx: Knex.Transaction): Promise<BisectStep[]> {
  return await BisectStep.query(trx)
    .alias("s")
    .join("bisect_jobs as j", "j.id", "s.bisectJobId")
    .where("s.status", "queued")
    .where("j.status", "running")
    .whereNotExists(
      RunnerLease.query(trx)
        .whereColumn("runner_leases.bisect_step_id", "s.id")
        .whereRaw("runner_leases.released_at is null and runner_leases.expires_at > now()"),
    )
    .orderBy("s.id")
    .limit(16)
    .select("s.*");
}

/** Hosts where a run of this commit failed (for infrastructure reasons: verdict `error`). */
function failedHosts(steps: readonly BisectStep[], sha: string): number[] {
  return [
    ...new Set(
      steps
        .filter((s) => s.sha === sha && s.verdict === "error" && s.runnerHostId !== null)
        .map((s) => s.runnerHostId!),
    ),
  ];
}

/**
 * Queues an advance of the job (coalesced: one pending advance per job). Idempotent, so it gets
 * room for many attempts: every crash of the worker running it (kill -9, database gone) uses one.
 */
export async function requestAdvance(db: Knex | Knex.Transaction, jobId: number): Promise<void> {
  await enqueue(db, "bisect__advance", { jobId });
}
