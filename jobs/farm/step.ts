// bisect__step: claim the slot leased when the step was queued (or lease one), run the commit in
// the job's sandbox on that host (made for the job's first runs there, then kept:
// runner/executors/sandbox-slots.ts), record the verdict, release the slot, advance the job.
// Idempotent: a step already done is left alone,
// a step whose worker died is taken over (its container removed), one held by a live worker is not.
import type { JobHelpers } from "graphile-worker";
import type { Knex } from "knex";
import {
  BisectJob,
  BisectStep,
  RunnerHost,
  RunnerLease,
  UsageStat,
  monthOf,
} from "../../db/models";
import { classifyRun } from "../../runner/engine";
import { DockerExecutor } from "../../runner/executors/docker-executor";
import type { SandboxOptions } from "../../runner/executors/sandbox-slots";
import { removeLabelled } from "../../runner/executors/removal";
import { runOnce } from "../../runner/executors/run-once";
import { InfrastructureError } from "../../runner/errors";
import { type RunResult } from "../../runner/executors/types";
import { dockerFor } from "./docker-clients";
import { probeHost, recordProbe } from "./hosts";
import {
  acquireLease,
  claimQueuedLease,
  QUEUED_HOLDER,
  releaseLease,
  renewLease,
  slotShareOf,
  type Lease,
} from "./leases";
import { ImageRefusedError } from "../../runner/images/pull";
import { enqueue } from "../catalog";
import { liveWorkerIds } from "../heartbeat";
import type { WorkerContext } from "../worker-context";
import { advanceAfterVerdict } from "./advance";
import { stepCache } from "./caches";
import { jobWorkspaceKey } from "./cleanup";
import { runNetworkOn, type RunNetwork } from "./egress";
import { resolveJobImage } from "./images";
import { SANDBOX_LABEL, STEP_LABEL } from "../../runner/labels";
import { INSTANCE_LABEL, jobLabels, stepLabels } from "./labels";
import { predicateOfJob, runEnv } from "./predicate";
import { ensureMirror, hostsWithFreshMirror, mirrorVolumeOn } from "./mirrors";
import { limitsOf, stepTimeoutSeconds } from "./policy";

const LOG_EXCERPT_BYTES = 64 * 1024;
const CANCEL_POLL_MS = 1_000;

/** Rejects with an InfrastructureError when `promise` takes longer than `ms` (a silent host). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new InfrastructureError(`${what} did not answer within ${Math.round(ms / 1000)} s`)),
      ms,
    );
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

interface Outcome {
  verdict: "good" | "bad" | "skip" | "error";
  reason: string | null;
  result: RunResult | null;
}

export async function runStep(
  ctx: WorkerContext,
  stepId: number,
  helpers: JobHelpers,
): Promise<void> {
  const { knex, config } = ctx;
  const step = await BisectStep.query(knex).findById(stepId);
  if (!step || step.status === "done" || step.status === "cancelled") return;
  const job = await BisectJob.query(knex).findById(step.bisectJobId);
  if (!job || job.isFinal) {
    await step.$query(knex).patch({ status: "cancelled" });
    return;
  }
  const holder = helpers.job.locked_by ?? "worker";
  if (!(await takeOver(ctx, step, holder))) return;

  // The slot leased when the step was queued, or a free one now.
  const lease =
    (await claimQueuedLease(knex, stepId, holder, config.RUNNER_LEASE_SECONDS)) ??
    (await acquireLease(knex, {
      holder,
      stepId,
      ttlSeconds: config.RUNNER_LEASE_SECONDS,
      prefer: await hostsWithFreshMirror(knex, job),
      avoid: await hostsThatFailed(knex, step),
      ...(await slotShareOf(knex, job)),
    }));
  if (!lease) {
    // Every slot is busy: try again shortly (no attempt used up), unless a freed slot was handed
    // to the step meanwhile and it was queued again to run now (that earlier run time is kept).
    await enqueue(
      knex,
      "bisect__step",
      { stepId },
      { runAt: new Date(Date.now() + 1_000), jobKeyMode: "preserve_run_at" },
    );
    return;
  }
  // Only while the job goes on: once it has ended, bisect__finish waits for the runs holding a
  // lease, and a run that starts after that must not create a container at all.
  const started = await BisectStep.query(knex)
    .patch({ status: "running", runnerHostId: lease.host.id, startedAt: new Date() })
    .where({ id: stepId })
    .whereRaw(
      "exists (select 1 from bisect_jobs j where j.id = ? and j.status not in ('finished', 'failed', 'cancelled'))",
      [job.id],
    );
  if (started === 0) {
    await knex.transaction(async (trx) => {
      await BisectStep.query(trx)
        .patch({ status: "cancelled", finishedAt: new Date() })
        .where({ id: stepId })
        .whereIn("status", ["queued", "running"]);
      await releaseLease(trx, lease.lease.id);
    });
    return;
  }

  const stop = new AbortController();
  const onShutdown = () => stop.abort("shutdown");
  helpers.abortSignal?.addEventListener("abort", onShutdown, { once: true });
  const renew = setInterval(
    () => {
      void renewLease(knex, lease.lease.id, config.RUNNER_LEASE_SECONDS).catch(() => {});
    },
    (config.RUNNER_LEASE_SECONDS * 1000) / 3,
  );
  // A question that failed (a busy database) is asked again by the poll below: the signal that
  // prompted it is not sent twice, and a lost answer would leave the run going to its end.
  let unanswered = false;
  const check = (): void => {
    void stillWanted(knex, job.id, stepId).then(
      (wanted) => {
        unanswered = false;
        // Cancelled, concluded, or made useless by other verdicts: its verdict no longer matters.
        if (!wanted) stop.abort("cancelled");
      },
      () => {
        unanswered = true;
      },
    );
  };
  // Told at once by a stop signal; asked every second only while those are not heard, or after
  // a question went unanswered.
  const signals = ctx.stopSignals;
  const unsubscribe = signals?.onJob(job.id, check);
  check(); // a stop recorded before the subscription
  const watchCancel = setInterval(() => {
    if (!signals?.listening || unanswered) check();
  }, CANCEL_POLL_MS);

  let outcome: Outcome;
  try {
    outcome = await execute(ctx, job, step, lease, holder, stop.signal);
  } finally {
    clearInterval(renew);
    clearInterval(watchCancel);
    unsubscribe?.();
    helpers.abortSignal?.removeEventListener("abort", onShutdown);
  }

  if (stop.signal.aborted && stop.signal.reason === "shutdown") {
    // The worker is stopping: give the step back; graphile-worker runs it again elsewhere.
    await knex.transaction(async (trx) => {
      await BisectStep.query(trx)
        .patch({ status: "queued", runnerHostId: null, startedAt: null })
        .where({ id: stepId });
      await releaseLease(trx, lease.lease.id);
    });
    throw new Error("worker shutting down: step handed back");
  }
  await knex.transaction(async (trx) => {
    if (stop.signal.aborted) {
      await BisectStep.query(trx)
        .patch({ status: "cancelled", finishedAt: new Date() })
        .where({ id: stepId });
      await releaseLease(trx, lease.lease.id);
      return;
    }
    await recordVerdict(trx, job, stepId, outcome);
    await releaseLease(trx, lease.lease.id);
    await advanceAfterVerdict(ctx, trx, job.id);
  });
}

async function execute(
  ctx: WorkerContext,
  job: BisectJob,
  step: BisectStep,
  lease: Lease,
  holder: string,
  signal: AbortSignal,
): Promise<Outcome> {
  const { config, knex } = ctx;
  const host = lease.host;
  try {
    // Past its own limits, a host that stopped answering is lost: the run is retried elsewhere.
    const margin = config.RUNNER_LOST_HOST_SECONDS * 1000;
    await within(
      ensureMirror(ctx, host, job, { holder, signal }),
      config.RUNNER_FETCH_TIMEOUT_SECONDS * 1000 + margin,
      `runner host ${host.name}`,
    );
    const executor =
      ctx.executorFor?.(host, job) ??
      dockerExecutor(ctx, host, job, networked(job) ? await runNetworkOn(ctx, host) : null, holder);
    const timeoutMs = stepTimeoutSeconds(config, job) * 1000;
    const image = await stepImage(ctx, job, host, signal);
    const run = runOnce(
      executor,
      {
        labels: stepLabels(ctx, job.id, step.id, host.name),
        repo: { kind: "volume", name: await mirrorVolumeOn(knex, host.id, job) },
        sha: step.sha,
        setup: job.setupCommand ?? undefined,
        command: job.command,
        timeoutMs,
        limits: limitsOf(config, job),
        network: job.options.network ?? false,
        setupNetwork: job.options.setupNetwork ?? false,
        // One cache per repository of an installation, on this host (caches.ts).
        ...(await stepCache(ctx, host, job)),
        logLimitBytes: LOG_EXCERPT_BYTES,
        image,
        env: { ...job.options.env, ...runEnv(step) },
      },
      signal,
    );
    const result = await within(run, timeoutMs + margin, `runner host ${host.name}`);
    const { verdict, reason } = classifyRun(result, { predicate: predicateOfJob(job) });
    return { verdict, reason: reason ?? null, result };
  } catch (error) {
    if (signal.aborted) return { verdict: "error", reason: "aborted", result: null };
    if (!(error instanceof InfrastructureError)) throw error;
    // Never the commit's fault: recorded as `error`, retried (elsewhere if this host is down).
    const fresh = await RunnerHost.query(knex).findById(host.id);
    if (fresh) await recordProbe(knex, fresh, await probeHost(fresh, config.RUNNER_IMAGE));
    return {
      verdict: "error",
      reason: `infrastructure: ${error.message}`.slice(0, 500),
      result: null,
    };
  }
}

/** Whether a run of the job has network in any phase (its setup, or all of it). */
function networked(job: BisectJob): boolean {
  return Boolean(job.options.network || job.options.setupNetwork);
}

/**
 * Docker on the host; the job's checkout boxes and sandboxes there are shared by its steps and
 * removed with its containers. A networked run joins `net` (runNetworkOn); any other has no
 * network at all.
 */
function dockerExecutor(
  ctx: WorkerContext,
  host: Lease["host"],
  job: BisectJob,
  net: RunNetwork | null,
  holder: string,
): DockerExecutor {
  return new DockerExecutor(dockerFor(host), {
    name: host.name,
    image: ctx.config.RUNNER_IMAGE,
    networkMode: net?.networkMode ?? "none",
    egressProxy: net?.egressProxy,
    workspace: { key: jobWorkspaceKey(ctx, job.id), labels: jobLabels(ctx, job.id) },
    sandboxes: jobSandboxes(ctx, job, holder),
  });
}

/**
 * The job's sandboxes on a host: one per slot it runs in, kept by this worker between the job's
 * steps (no container is created on a later step's path), labelled with the job and the worker
 * so that the job's end and the reaper remove them.
 */
function jobSandboxes(ctx: WorkerContext, job: BisectJob, holder: string): SandboxOptions {
  return {
    key: jobWorkspaceKey(ctx, job.id),
    labels: jobLabels(ctx, job.id),
    owner: holder,
  };
}

/** The job's image on this host (pulled when missing), by the digest pinned when the job started. */
async function stepImage(
  ctx: WorkerContext,
  job: BisectJob,
  host: Lease["host"],
  signal: AbortSignal,
): Promise<string> {
  const named = job.options.imagePinned ?? job.options.image;
  if (!named) return ctx.config.RUNNER_IMAGE;
  try {
    return (await resolveJobImage(ctx, job, host, named, signal)).pinned;
  } catch (error) {
    if (error instanceof ImageRefusedError) throw new InfrastructureError(error.message);
    throw error;
  }
}

async function recordVerdict(
  trx: Knex.Transaction,
  job: BisectJob,
  stepId: number,
  outcome: Outcome,
): Promise<void> {
  const { result } = outcome;
  await BisectStep.query(trx)
    .patch({
      status: "done",
      verdict: outcome.verdict,
      reason: outcome.reason,
      exitCode: result?.exitCode ?? null,
      durationMs: result ? Math.round(result.durationMs) : null,
      logExcerpt: result?.log ?? null,
      finishedAt: new Date(),
    })
    .where({ id: stepId });
  if (job.installationId && result) {
    await UsageStat.addComputeSeconds(
      trx,
      job.installationId,
      monthOf(new Date()),
      Math.ceil(result.durationMs / 1000),
    );
  }
}

/**
 * Whether this worker may run the step: no open lease, or one held by a worker that is dead (its
 * lease is released and its container removed). A live holder means the step is already running.
 */
async function takeOver(ctx: WorkerContext, step: BisectStep, holder: string): Promise<boolean> {
  const { knex, config } = ctx;
  const open = await RunnerLease.query(knex)
    .where({ bisectStepId: step.id })
    .whereNot({ holder: QUEUED_HOLDER })
    .whereNull("releasedAt");
  if (open.length === 0) return true;
  const live = await liveWorkerIds(knex, config.WORKER_DEAD_AFTER_SECONDS * 1000);
  for (const lease of open) {
    if (lease.holder !== holder && live.has(lease.holder) && lease.expiresAt > new Date())
      return false;
  }
  for (const lease of open) {
    const host = await RunnerHost.query(knex).findById(lease.runnerHostId);
    if (host)
      await removeLabelled(dockerFor(host), {
        [INSTANCE_LABEL]: ctx.instanceId,
        [STEP_LABEL]: String(step.id),
      }).catch(() => []);
    if (host && !live.has(lease.holder) && lease.holder !== holder)
      await removeDeadSandboxes(ctx, host, step, lease.holder);
    await releaseLease(knex, lease.id);
  }
  return true;
}

/**
 * A dead worker's sandboxes of the step's job on the host: the run it left may still be going in
 * one of them (with no step label, the sweep above does not find it).
 */
async function removeDeadSandboxes(
  ctx: WorkerContext,
  host: RunnerHost,
  step: BisectStep,
  deadHolder: string,
): Promise<void> {
  await removeLabelled(dockerFor(host), {
    ...jobLabels(ctx, step.bisectJobId),
    [SANDBOX_LABEL]: deadHolder,
  }).catch(() => []);
}

/** Whether the run's verdict still matters: its job goes on and the step was not stopped. */
async function stillWanted(knex: Knex, jobId: number, stepId: number): Promise<boolean> {
  const [j, s] = await Promise.all([
    BisectJob.query(knex).findById(jobId).select("status"),
    BisectStep.query(knex).findById(stepId).select("status"),
  ]);
  return Boolean(j && !j.isFinal && s && s.status !== "cancelled");
}

/** Hosts where a run of this commit failed for infrastructure reasons. */
async function hostsThatFailed(knex: Knex, step: BisectStep): Promise<number[]> {
  const rows = await BisectStep.query(knex)
    .where({ bisectJobId: step.bisectJobId, sha: step.sha, verdict: "error" })
    .whereNotNull("runnerHostId")
    .select("runnerHostId");
  return [...new Set(rows.map((r) => r.runnerHostId!))];
}
