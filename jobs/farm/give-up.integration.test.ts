// A job's task that uses its last attempt ends the job, through a real worker on PostgreSQL: the
// only runner host's engine does not exist, so every bisect__prepare attempt fails; after the
// last one the job is failed with the reason, cleaned up, and counted. No Docker is needed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { readCounters } from "../../db/counters";
import { BisectJob } from "../../db/models";
import { registerHost } from "./hosts";
import { useTestDatabase } from "../../tests/helpers/database";
import { queuedJobs } from "../../tests/helpers/queue";
import { createJob } from "../bisection/intake";
import { startWorker, type StartedWorker } from "../worker";
import { ABANDONED_COUNTER, explainFailure, ExplainedError } from "./give-up";

const db = useTestDatabase();

describe("a task's last attempt", () => {
  let worker: StartedWorker | undefined;
  afterAll(async () => {
    await worker?.stop();
  });
  beforeAll(async () => {
    await registerHost(db.current.knex, {
      name: "gone",
      dockerEndpoint: "unix:///nonexistent/docker.sock",
      capacity: 1,
      source: "admin",
    });
  });

  it("explains in plain words what failed", () => {
    expect(explainFailure("bisect__advance", new Error("deadlock detected"))).toBe(
      "the next commits to test could not be chosen: deadlock detected",
    );
    expect(explainFailure("github__status_comment", new Error("Bad gateway\n"))).toBe(
      "GitHub did not accept the status comment: Bad gateway",
    );
    expect(
      explainFailure(
        "bisect__prepare",
        new ExplainedError("the repository could not be fetched: no route"),
      ),
    ).toBe("the repository could not be fetched: no route");
    expect(explainFailure("something__else", "x".repeat(500))).toHaveLength(
      "something__else failed: ".length + 400,
    );
  });

  it("concludes the job as failed with the reason, once, and cleans it up", async () => {
    const k = db.current.knex;
    const { job } = await createJob(k, {
      source: "cli",
      repoUrl: "/srv/nowhere.git",
      goodRef: "v1",
      badRef: "main",
      command: "true",
    });
    worker = await startWorker(
      loadConfig({
        DATABASE_URL: db.current.url,
        LOG_LEVEL: "error",
        RUNNER_FETCH_NETWORK: "none",
      }),
      { concurrency: 2, registerEnvHost: false },
    );

    await expect
      .poll(
        async () => {
          // The host was marked down after the first failure: bring it back so the retry runs
          // (and fails) again, and skip graphile-worker's back-off, not the attempt.
          await k("runner_hosts").update({ state: "active" });
          await k.raw(
            `update graphile_worker._private_jobs j set run_at = now() from graphile_worker._private_tasks t
              where t.id = j.task_id and t.identifier = 'bisect__prepare' and j.locked_at is null and j.last_error is not null`,
          );
          return (await BisectJob.query(k).findById(job.id))?.status;
        },
        { timeout: 60_000, interval: 500 },
      )
      .toBe("failed");

    const ended = await BisectJob.query(k).findById(job.id);
    expect(ended).toMatchObject({ outcome: "error" });
    expect(ended!.error).toMatch(/^the repository could not be fetched: .*nonexistent/);
    const [prepare] = await queuedJobs(k, "bisect__prepare");
    expect(prepare!.attempts).toBe(prepare!.maxAttempts);
    expect(await readCounters(k, ABANDONED_COUNTER)).toEqual([
      { labels: { cause: "bisect__prepare" }, value: 1 },
    ]);
    // bisect__finish, queued with the conclusion, ran.
    await expect
      .poll(async () => (await queuedJobs(k, "bisect__finish")).length, { timeout: 30_000 })
      .toBe(0);
  });
});
