// bisect__step's bookkeeping on PostgreSQL alone: a scripted executor stands in for the runner
// host, so recording a verdict, taking over a dead worker's step, a host failure, a cancellation
// and the shutdown hand-back are checked without Docker. The real-engine versions of these live in
// tests/farm/.
import type { JobHelpers } from "graphile-worker";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { type BisectJob, BisectStep, RunnerHost, RunnerLease, RunnerMirror } from "../../db/models";
import { mirrorVolumeName } from "../../runner/mirror/mirror";
import { useTestDatabase } from "../../tests/helpers/database";
import { queuedJobs } from "../../tests/helpers/queue";
import { ScriptedExecutor, type ScriptedRun } from "../../tests/helpers/scripted-executor";
import { createJob } from "../bisection/intake";
import type { WorkerContext } from "../worker-context";
import { StatusCommentCache } from "../github/status-cache";
import { registerHost } from "./hosts";
import { acquireLease } from "./leases";
import { repoKeyOf } from "./mirrors";
import { runStep } from "./step";
import { StopSignals } from "./stop-signals";

const db = useTestDatabase();
const config = loadConfig({
  DATABASE_URL: "postgres://unused/db",
  LOG_LEVEL: "error",
  RUNNER_LEASE_SECONDS: "30",
  WORKER_DEAD_AFTER_SECONDS: "30",
});
const SHA = "c".repeat(40);
let worlds = 0;

/** A running job with one queued step, a host of its own (the only active one) with a fresh mirror. */
async function world(script: (sha: string) => ScriptedRun) {
  const k = db.current.knex;
  const n = ++worlds;
  await RunnerHost.query(k).patch({ state: "down" });
  const host = await registerHost(k, {
    name: `scripted-${n}-${Date.now()}`,
    // Never reached for a run: the scripted executor stands in for it.
    dockerEndpoint: "tcp://127.0.0.1:9",
    capacity: 2,
    source: "admin",
  });
  const { job: created } = await createJob(k, {
    source: "cli",
    repoUrl: `/scripted/${n}`,
    goodRef: "v1",
    badRef: "main",
    command: "make test",
  });
  const graph = { good: "a".repeat(40), bad: "b".repeat(40), commits: {} };
  const job = await created
    .$query(k)
    .patchAndFetch({ status: "running", graph, startedAt: new Date(Date.now() - 60_000) });
  const key = repoKeyOf(job);
  const mirror = await RunnerMirror.ensure(k, host.id, key, mirrorVolumeName(key));
  await mirror.$query(k).patch({ lastFetchedAt: new Date() });
  const step = await BisectStep.query(k)
    .insert({ bisectJobId: job.id, sha: SHA, round: 1 })
    .returning("*");
  const executor = new ScriptedExecutor(host.name, (spec) => script(spec.sha));
  const ctx: WorkerContext = {
    config,
    knex: k,
    instanceId: "scripted-farm",
    workerDatabaseUrl: db.current.url,
    statusComments: new StatusCommentCache(),
    executorFor: () => executor,
  };
  return { k, host, job, step, executor, ctx };
}

const helpers = (workerId: string, abortSignal?: AbortSignal) =>
  ({ job: { locked_by: workerId }, abortSignal }) as unknown as JobHelpers;

const leasesOf = (w: { k: WorkerContext["knex"]; step: BisectStep }) =>
  RunnerLease.query(w.k).where({ bisectStepId: w.step.id });
const advancesOf = async (w: { k: WorkerContext["knex"]; job: BisectJob }) =>
  (await queuedJobs(w.k, "bisect__advance")).filter((t) => Number(t.payload.jobId) === w.job.id);
const beat = (k: WorkerContext["knex"], workerId: string) =>
  k("worker_heartbeats").insert({ workerId, hostname: "here", pid: 1, lastBeatAt: k.fn.now() });

describe("bisect__step on a scripted runner host", () => {
  it("runs the commit, records its verdict, gives the slot back and asks the engine for more", async () => {
    const w = await world(() => ({ exit: 1, log: "1 test failed" }));
    await runStep(w.ctx, w.step.id, helpers("worker-a"));

    const step = await w.step.$query(w.k);
    expect(step).toMatchObject({
      status: "done",
      verdict: "bad",
      exitCode: 1,
      runnerHostId: w.host.id,
    });
    expect(step.logExcerpt).toContain("1 test failed");
    expect(w.executor.prepared.map((s) => s.sha)).toEqual([SHA]);
    expect(w.executor.prepared[0]!.command).toBe("make test");
    expect(w.executor.alive.size).toBe(0);
    const leases = await leasesOf(w);
    expect(leases).toHaveLength(1);
    expect(leases[0]!.releasedAt).not.toBeNull();
    // The engine is asked at once, in the verdict's own transaction (this world's graph does not
    // hold the commit, so the engine's answer ends the job).
    expect(await advancesOf(w)).toEqual([]);
    expect(await w.job.$query(w.k)).toMatchObject({ status: "failed" });
  });

  it("takes over a step whose holder died, and leaves one held by a live worker alone", async () => {
    const w = await world(() => ({ exit: 0 }));
    await beat(w.k, "worker-alive");
    await acquireLease(w.k, { holder: "worker-alive", stepId: w.step.id, ttlSeconds: 30 });
    await runStep(w.ctx, w.step.id, helpers("worker-b"));
    expect(w.executor.prepared).toEqual([]);
    expect((await w.step.$query(w.k)).status).toBe("queued");
    expect((await leasesOf(w)).filter((l) => l.releasedAt === null)).toHaveLength(1);

    // The same step held by a worker that stopped beating is run by the next worker that tries.
    await w.k("worker_heartbeats").where({ workerId: "worker-alive" }).delete();
    await runStep(w.ctx, w.step.id, helpers("worker-b"));
    expect(await w.step.$query(w.k)).toMatchObject({ status: "done", verdict: "good" });
    expect(w.executor.prepared).toHaveLength(1);
    const leases = await leasesOf(w);
    expect(leases.map((l) => l.holder).sort()).toEqual(["worker-alive", "worker-b"]);
    expect(leases.every((l) => l.releasedAt !== null)).toBe(true);
  });

  it("records a host failure as an error to retry, never as the commit's verdict, and notes the host", async () => {
    const w = await world(() => ({ infrastructure: "engine stopped answering" }));
    await runStep(w.ctx, w.step.id, helpers("worker-a"));

    const step = await w.step.$query(w.k);
    expect(step).toMatchObject({ status: "done", verdict: "error", exitCode: null });
    expect(step.reason).toContain("infrastructure: engine stopped answering");
    expect((await leasesOf(w)).every((l) => l.releasedAt !== null)).toBe(true);
    // The engine decides at once what to run next (a retry of this commit, elsewhere if the host
    // is down; this world's graph does not hold the commit, so its answer ends the job).
    expect(await w.job.$query(w.k)).toMatchObject({ status: "failed" });
    // The host's own engine was asked how it is (it does not answer here) and the answer kept.
    expect((await w.host.$query(w.k)).lastError).toBeTruthy();
  });

  it("stops a run whose job is cancelled: the run is removed, the step cancelled, the slot freed", async () => {
    const w = await world(() => ({ hang: true }));
    const running = runStep(w.ctx, w.step.id, helpers("worker-a"));
    await expect.poll(() => w.executor.alive.size).toBe(1);
    await w.job.$query(w.k).patch({ status: "cancelled", finishedAt: new Date() });
    await running;

    expect((await w.step.$query(w.k)).status).toBe("cancelled");
    expect(w.executor.alive.size).toBe(0);
    expect((await leasesOf(w)).every((l) => l.releasedAt !== null)).toBe(true);
    expect(await advancesOf(w)).toEqual([]);
  });

  it("stops a run made useless the moment its step is cancelled, told by a stop signal (no polling while heard)", async () => {
    const w = await world(() => ({ hang: true }));
    const signals = new StopSignals(db.current.url);
    await signals.start();
    try {
      expect(signals.listening).toBe(true);
      const running = runStep({ ...w.ctx, stopSignals: signals }, w.step.id, helpers("worker-a"));
      await expect.poll(() => w.executor.alive.size).toBe(1);
      // As the engine's advance marks a run useless (another verdict settled its commit).
      await BisectStep.query(w.k)
        .patch({ status: "cancelled", reason: "useless: other verdicts settled it" })
        .where({ id: w.step.id });
      await running;
      expect((await w.step.$query(w.k)).status).toBe("cancelled");
      expect(w.executor.alive.size).toBe(0);
      expect((await leasesOf(w)).every((l) => l.releasedAt !== null)).toBe(true);
    } finally {
      await signals.stop();
    }
  });

  it("hands the step back when its worker shuts down, so another worker runs it again", async () => {
    const w = await world(() => ({ hang: true }));
    const shutdown = new AbortController();
    const running = runStep(w.ctx, w.step.id, helpers("worker-a", shutdown.signal));
    await expect.poll(() => w.executor.alive.size).toBe(1);
    shutdown.abort();
    await expect(running).rejects.toThrow(/shutting down/);

    expect(await w.step.$query(w.k)).toMatchObject({
      status: "queued",
      runnerHostId: null,
      verdict: null,
    });
    expect(w.executor.alive.size).toBe(0);
    expect((await leasesOf(w)).every((l) => l.releasedAt !== null)).toBe(true);
  });

  it("does not run a step of a job that has ended", async () => {
    const w = await world(() => ({ exit: 0 }));
    await w.job.$query(w.k).patch({ status: "finished", finishedAt: new Date() });
    await runStep(w.ctx, w.step.id, helpers("worker-a"));
    expect((await w.step.$query(w.k)).status).toBe("cancelled");
    expect(w.executor.prepared).toEqual([]);
    expect(await leasesOf(w)).toEqual([]);
  });
});
