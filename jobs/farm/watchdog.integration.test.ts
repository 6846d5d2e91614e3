// The watchdog on PostgreSQL alone: stalled jobs are resumed with the right task, concluded when
// that does not help or every runner host is down, and left alone while they can still move.
// The clock is passed in (the rows' progress times are the database's own), no worker runs.
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { readCounters } from "../../db/counters";
import { type BisectJob, BisectStep, RunnerHost } from "../../db/models";
import { useTestDatabase } from "../../tests/helpers/database";
import { queuedJobs } from "../../tests/helpers/queue";
import { createJob } from "../bisection/intake";
import type { WorkerContext } from "../worker-context";
import { StatusCommentCache } from "../github/status-cache";
import { ABANDONED_COUNTER } from "./give-up";
import { stallLimitMs, watchJobs } from "./watchdog";

const db = useTestDatabase();

describe("the job watchdog", () => {
  const config = loadConfig({
    DATABASE_URL: "postgres://unused/db",
    LOG_LEVEL: "error",
    RUNNER_FETCH_TIMEOUT_SECONDS: "60",
    RUNNER_STEP_TIMEOUT_SECONDS: "120",
    RUNNER_LOST_HOST_SECONDS: "30",
    RUNNER_LEASE_SECONDS: "30",
    WORKER_DEAD_AFTER_SECONDS: "30",
  });
  const ctx = (): WorkerContext => ({
    config,
    knex: db.current.knex,
    instanceId: "watchdog-tests",
    workerDatabaseUrl: db.current.url,
    statusComments: new StatusCommentCache(),
  });
  const LIMIT = stallLimitMs(config, { options: {} });
  const later = (ms: number) => new Date(Date.now() + ms);

  /** A job of its own, in `status`, with no task queued for it (as a lost task would leave it). */
  async function stalledJob(status: "queued" | "preparing" | "running"): Promise<BisectJob> {
    const k = db.current.knex;
    const { job } = await createJob(k, {
      source: "cli",
      repoUrl: "/nowhere",
      goodRef: "v1",
      badRef: "main",
      command: "true",
    });
    await k.raw("delete from graphile_worker._private_jobs where payload->>'jobId' = ?", [
      String(job.id),
    ]);
    const graph = { good: "a".repeat(40), bad: "b".repeat(40), commits: {} };
    return job
      .$query(k)
      .patchAndFetch(status === "running" ? { status, graph, startedAt: new Date() } : { status });
  }
  const tasksOf = async (job: BisectJob) => {
    const steps = (await BisectStep.query(db.current.knex).where({ bisectJobId: job.id })).map(
      (s) => String(s.id),
    );
    return (await queuedJobs(db.current.knex))
      .filter(
        (t) =>
          String(t.payload.jobId) === String(job.id) || steps.includes(String(t.payload.stepId)),
      )
      .map((t) => t.task)
      .sort();
  };
  const abandoned = async () =>
    (await readCounters(db.current.knex, ABANDONED_COUNTER)).find(
      (c) => c.labels.cause === "watchdog",
    )?.value ?? 0;

  it("derives the limit from the timeouts and leaves a job alone before it", async () => {
    expect(LIMIT).toBe((60 + 120 + 2 * 30 + 30 + 30) * 1000);
    expect(stallLimitMs(config, { options: { timeoutSeconds: 30 } })).toBe(LIMIT - 90_000);
    const job = await stalledJob("running");
    await watchJobs(ctx(), later(LIMIT - 60_000));
    expect(await tasksOf(job)).toEqual([]);
    expect((await job.$query(db.current.knex)).status).toBe("running");
  });

  it("resumes a running job that lost its tasks: its unfinished steps and an advance are queued again", async () => {
    const job = await stalledJob("running");
    const k = db.current.knex;
    await BisectStep.query(k).insert({
      bisectJobId: job.id,
      sha: "c".repeat(40),
      round: 1,
      attempt: 1,
      status: "queued",
    });
    await BisectStep.query(k).insert({
      bisectJobId: job.id,
      sha: "d".repeat(40),
      round: 1,
      attempt: 1,
      status: "done",
      verdict: "good",
    });
    const report = await watchJobs(ctx(), later(LIMIT + 60_000));
    expect(report.resumed).toContain(`${job.id} (running)`);
    expect(await tasksOf(job)).toEqual(["bisect__advance", "bisect__step"]);
    expect((await job.$query(k)).status).toBe("running");
  });

  it("resumes a job stalled while preparing with bisect__prepare", async () => {
    const job = await stalledJob("preparing");
    await watchJobs(ctx(), later(LIMIT + 60_000));
    expect(await tasksOf(job)).toEqual(["bisect__prepare"]);
  });

  it("concludes a job that is still stalled after twice the limit, with the reason, and counts it", async () => {
    const before = await abandoned();
    const job = await stalledJob("preparing");
    const report = await watchJobs(ctx(), later(2 * LIMIT + 60_000));
    const ended = await job.$query(db.current.knex);
    expect(ended).toMatchObject({ status: "failed", outcome: "error" });
    expect(ended.error).toMatch(
      /^the job made no progress for \d+ minutes and could not be resumed$/,
    );
    expect(report.concluded).toContain(`${job.id}: ${ended.error}`);
    // Concluding queues the clean-up (which also renders the final comment).
    expect(await tasksOf(job)).toContain("bisect__finish");
    expect(await abandoned()).toBe(before + report.concluded.length);
  });

  it("concludes a job whose tasks wait on runner hosts that are all down, and only then", async () => {
    const k = db.current.knex;
    const host = await RunnerHost.query(k)
      .insert({
        name: `wd-${Date.now()}`,
        dockerEndpoint: "unix:///nowhere.sock",
        capacity: 1,
        source: "admin",
      })
      .returning("*");
    const job = await stalledJob("queued");
    await k.raw(
      "select graphile_worker.add_job('bisect__prepare', json_build_object('jobId', ?::int), job_key => ?)",
      [job.id, `bisect__prepare:${job.id}`],
    );

    await watchJobs(ctx(), later(3 * LIMIT));
    expect((await job.$query(k)).status).toBe("queued"); // a host is up: it is waiting, not stuck

    await RunnerHost.query(k).patch({ state: "down" }).where({ state: "active" });
    await watchJobs(ctx(), later(LIMIT + 60_000));
    const ended = await job.$query(k);
    expect(ended.status).toBe("failed");
    expect(ended.error).toMatch(/^runner hosts unreachable for \d+ minutes$/);
    await RunnerHost.query(k).deleteById(host.id);
  });

  it("leaves finished jobs alone", async () => {
    const job = await stalledJob("running");
    await job
      .$query(db.current.knex)
      .patch({ status: "finished", outcome: "found", finishedAt: new Date() });
    const report = await watchJobs(ctx(), later(10 * LIMIT));
    expect(
      report.resumed
        .concat(report.concluded)
        .some((l) => l.startsWith(`${job.id} `) || l.startsWith(`${job.id}:`)),
    ).toBe(false);
  });
});
