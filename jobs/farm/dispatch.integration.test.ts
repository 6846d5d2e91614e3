// From a recorded verdict to the next run, on PostgreSQL with a scripted executor standing in for
// the runner hosts: a probe is queued with its slot, a run made useless by another verdict is
// stopped and its slot reused, and a whole bisection runs on a worker that never polls.
import type { JobHelpers } from "graphile-worker";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { BisectJob, BisectStep, RunnerHost, RunnerLease, RunnerMirror } from "../../db/models";
import type { CommitGraph } from "../../runner/engine";
import { mirrorVolumeName } from "../../runner/mirror/mirror";
import { useTestDatabase } from "../../tests/helpers/database";
import {
  dockerRequired,
  ensureImageEverywhere,
  tlsEngines,
  type TestEngine,
} from "../../tests/helpers/engines";
import { waitFor } from "../../tests/helpers/farm-worker";
import { queuedJobs } from "../../tests/helpers/queue";
import { ScriptedExecutor, type ScriptedRun } from "../../tests/helpers/scripted-executor";
import { createJob } from "../bisection/intake";
import { StatusCommentCache } from "../github/status-cache";
import { startWorker } from "../worker";
import type { WorkerContext } from "../worker-context";
import { advanceJob, requestAdvance } from "./advance";
import { registerHost } from "./hosts";
import { QUEUED_HOLDER } from "./leases";
import { repoKeyOf } from "./mirrors";
import { runStep } from "./step";

const db = useTestDatabase();
const config = loadConfig({
  DATABASE_URL: "postgres://unused/db",
  LOG_LEVEL: "error",
  RUNNER_LEASE_SECONDS: "30",
  WORKER_DEAD_AFTER_SECONDS: "30",
});
const COMMITS = 64;
const CULPRIT = 37;
let worlds = 0;

/** Commit i of the range as a sha (the column holds 40 characters); the good revision is "f…f". */
const sha = (i: number) => (i + 1).toString(16).padStart(40, "0");
const GOOD = "f".repeat(40);
const indexOf = (s: string) => (s === GOOD ? -1 : parseInt(s, 16) - 1);

/** A linear range of `n` commits on top of GOOD. */
function linearGraph(n: number): CommitGraph {
  const commits: CommitGraph["commits"] = {};
  for (let i = 0; i < n; i++) commits[sha(i)] = { parents: [i === 0 ? GOOD : sha(i - 1)] };
  return { good: GOOD, bad: sha(n - 1), commits };
}

/** Commits fail from the culprit on; the good revision passes. */
const bisecting = (s: string): ScriptedRun => (indexOf(s) >= CULPRIT ? { exit: 1 } : { exit: 0 });

/**
 * A running job over a linear range of 64 commits, on hosts of its own (the only active ones)
 * whose mirrors are fresh, with `script` deciding how each commit's run ends.
 */
async function world(options: {
  hosts: number;
  capacity: number;
  parallel: number;
  script: (sha: string) => ScriptedRun;
  /** Real engines as the hosts (the worker's health checks reach them); otherwise unreachable. */
  engines?: TestEngine[];
}) {
  const k = db.current.knex;
  const n = ++worlds;
  // Each world is the whole farm: earlier worlds' hosts are down and their jobs over.
  await RunnerHost.query(k).patch({ state: "down" });
  await BisectJob.query(k).patch({ status: "cancelled" }).where({ status: "running" });
  const { job: created } = await createJob(k, {
    source: "cli",
    repoUrl: `/dispatch/${n}`,
    goodRef: GOOD,
    badRef: sha(COMMITS - 1),
    command: "make test",
    options: { parallel: options.parallel },
  });
  // The graph is given here, so the job skips bisect__prepare (no repository to fetch).
  await k.raw("select graphile_worker.remove_job(?)", [`bisect__prepare:${created.id}`]);
  const job = await created.$query(k).patchAndFetch({
    status: "running",
    graph: linearGraph(COMMITS),
    startedAt: new Date(Date.now() - 60_000),
  });
  const key = repoKeyOf(job);
  const hosts: RunnerHost[] = [];
  for (let h = 0; h < options.hosts; h++) {
    const engine = options.engines?.[h];
    const host = await registerHost(k, {
      name: `dispatch-${n}-${h}-${Date.now()}`,
      // Never reached for a run: the scripted executor stands in for it.
      dockerEndpoint: engine?.endpoint ?? "tcp://127.0.0.1:9",
      ...(engine ? { tlsPath: engine.tlsPath } : {}),
      capacity: options.capacity,
      source: "admin",
    });
    const mirror = await RunnerMirror.ensure(k, host.id, key, mirrorVolumeName(key));
    await mirror.$query(k).patch({ lastFetchedAt: new Date() });
    hosts.push(host);
  }
  const executor = new ScriptedExecutor(`dispatch-${n}`, (spec) => options.script(spec.sha));
  const ctx: WorkerContext = {
    config,
    knex: k,
    instanceId: "dispatch-farm",
    workerDatabaseUrl: db.current.url,
    statusComments: new StatusCommentCache(),
    executorFor: () => executor,
  };
  return { k, hosts, job, executor, ctx };
}

const helpers = (workerId: string) => ({ job: { locked_by: workerId } }) as unknown as JobHelpers;
const stepsOf = (k: WorkerContext["knex"], jobId: number) =>
  BisectStep.query(k).where({ bisectJobId: jobId }).orderBy("id");
const openLeasesOf = (k: WorkerContext["knex"], stepId: number) =>
  RunnerLease.query(k)
    .where({ bisectStepId: stepId })
    .whereNull("releasedAt")
    .where("expiresAt", ">", new Date());

describe("dispatch on the farm", () => {
  it("queues each probe with its slot leased, and the worker that picks the step runs on that slot", async () => {
    const w = await world({ hosts: 2, capacity: 2, parallel: 4, script: bisecting });
    await advanceJob(w.ctx, w.job.id);

    const queued = await stepsOf(w.k, w.job.id);
    expect(queued.length).toBeGreaterThanOrEqual(4);
    const leases = await RunnerLease.query(w.k)
      .whereIn(
        "bisectStepId",
        queued.map((s) => s.id),
      )
      .whereNull("releasedAt");
    // The four slots of the farm, one per step, all held for queued steps; no host over capacity.
    expect(leases).toHaveLength(4);
    expect(leases.every((l) => l.holder === QUEUED_HOLDER)).toBe(true);
    expect(new Set(leases.map((l) => l.bisectStepId)).size).toBe(4);
    for (const host of w.hosts)
      expect(leases.filter((l) => l.runnerHostId === host.id)).toHaveLength(2);
    const tasks = (await queuedJobs(w.k, "bisect__step")).map((t) => Number(t.payload.stepId));
    expect(tasks).toEqual(expect.arrayContaining(queued.map((s) => s.id)));

    const leased = queued.find((s) => leases.some((l) => l.bisectStepId === s.id))!;
    const lease = leases.find((l) => l.bisectStepId === leased.id)!;
    await runStep(w.ctx, leased.id, helpers("worker-a"));
    const [used, ...others] = await RunnerLease.query(w.k).where({ bisectStepId: leased.id });
    expect(others).toEqual([]);
    expect(used).toMatchObject({
      id: lease.id,
      holder: "worker-a",
      runnerHostId: lease.runnerHostId,
    });
    expect(used!.releasedAt).not.toBeNull();
    expect(await leased.$query(w.k)).toMatchObject({
      status: "done",
      runnerHostId: lease.runnerHostId,
    });
  });

  it("stops a run made useless by another verdict, removes it and gives its slot to the next probe", async () => {
    // #50 hangs until stopped; #20 is bad here, which settles everything above it, #50 included.
    const w = await world({
      hosts: 1,
      capacity: 2,
      parallel: 2,
      script: (s) => (s === sha(50) ? { hang: true } : s === sha(20) ? { exit: 1 } : { exit: 0 }),
    });
    const [high, low] = await BisectStep.query(w.k)
      .insert([
        { bisectJobId: w.job.id, sha: sha(50), round: 1 },
        { bisectJobId: w.job.id, sha: sha(20), round: 1 },
      ])
      .returning("*");
    // Both endpoints are known, so the engine asks only for probes inside the range.
    await BisectStep.query(w.k).insert([
      { bisectJobId: w.job.id, sha: GOOD, round: 1, status: "done", verdict: "good" },
      { bisectJobId: w.job.id, sha: sha(COMMITS - 1), round: 1, status: "done", verdict: "bad" },
    ]);
    const hanging = runStep(w.ctx, high!.id, helpers("worker-a"));
    await expect.poll(() => w.executor.alive.size).toBe(1);
    // Long past any typical run, so the verdict below does not wait for it (no gathering).
    await high!.$query(w.k).patch({ startedAt: new Date(Date.now() - 60_000) });

    await runStep(w.ctx, low!.id, helpers("worker-b"));
    expect(await high!.$query(w.k)).toMatchObject({ status: "cancelled", verdict: null });
    expect(await openLeasesOf(w.k, high!.id)).toEqual([]);
    // Its slot went to the next probes at once: the farm's two slots, each held for a queued step
    // below the bad verdict.
    const next = (await stepsOf(w.k, w.job.id)).filter((s) => s.status === "queued");
    expect(next.length).toBeGreaterThan(0);
    for (const s of next) expect(indexOf(s.sha)).toBeLessThan(20);
    const held = await RunnerLease.query(w.k)
      .whereIn(
        "bisectStepId",
        next.map((s) => s.id),
      )
      .whereNull("releasedAt");
    expect(held).toHaveLength(2);

    // The run itself is stopped and removed by its worker, and nothing is recorded for it.
    await hanging;
    expect(w.executor.alive.size).toBe(0);
    expect(await high!.$query(w.k)).toMatchObject({ status: "cancelled", verdict: null });
  });

  // A real worker runs its health checks, so its hosts are the real engines (only the runs are scripted).
  it.skipIf(!dockerRequired && !process.env.BISECT_ENGINE_TLS_HOSTS)(
    "runs a whole bisection on a worker that never polls: each next step starts on notification",
    { timeout: 120_000 },
    async () => {
      const { engines, problem } = await tlsEngines();
      if (problem) throw new Error(problem);
      await ensureImageEverywhere(engines, config.RUNNER_IMAGE);
      // One slot: the endpoint checks and the first probe are queued together, and those without
      // the slot must be handed it when it frees, not left to a retry that only a poll would find.
      const w = await world({ hosts: 1, capacity: 1, parallel: 1, script: bisecting, engines });
      const worker = await startWorker(
        { ...config, DATABASE_URL: db.current.url },
        {
          registerEnvHost: false,
          concurrency: 6,
          // An hour: a step that waited for a poll would never start within the test.
          pollIntervalMs: 3_600_000,
          ctx: { executorFor: () => w.executor },
        },
      );
      try {
        await requestAdvance(w.k, w.job.id);
        const done = await waitFor(
          "the bisection to end",
          async () => {
            const job = await BisectJob.query(w.k).findById(w.job.id);
            return job?.isFinal ? job : null;
          },
          90_000,
        );
        expect(done).toMatchObject({
          status: "finished",
          outcome: "found",
          culpritSha: sha(CULPRIT),
        });
        // Every step ran (or was stopped as useless) and every slot came back.
        const steps = await stepsOf(w.k, w.job.id);
        expect(steps.filter((s) => s.status === "queued" || s.status === "running")).toEqual([]);
        const open = await RunnerLease.query(w.k)
          .whereIn(
            "bisectStepId",
            steps.map((s) => s.id),
          )
          .whereNull("releasedAt");
        expect(open).toEqual([]);
      } finally {
        await worker.stop();
      }
    },
  );
});
