// A job whose repository cannot be fetched still ends, with an answer: every attempt of
// bisect__prepare fails (the fetch container has no network, so the stand-in's git endpoint is
// out of its reach), and after the last one the job is concluded as failed and the status
// comment on the issue says why.
import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../config/env";
import { readCounters } from "../../db/counters";
import { BisectJob } from "../../db/models";
import { ABANDONED_COUNTER } from "../../jobs/farm/give-up";
import { startWorker, type StartedWorker } from "../../jobs/worker";
import { registerHost } from "../../jobs/farm/hosts";
import { useTestDatabase } from "../helpers/database";
import {
  dockerRequired,
  ensureImageEverywhere,
  tlsEngines,
  type TestEngine,
} from "../helpers/engines";
import { queuedJobs } from "../helpers/queue";
import {
  REPO,
  send,
  startFixture,
  testConfig,
  testContext,
  userComment,
  type Fixture,
} from "./support";

const { engines, problem } = await tlsEngines();
if (problem && dockerRequired) throw new Error(`Docker engines are required in CI: ${problem}`);
if (problem) console.warn(`skipping the unreachable-repository test: ${problem}`);
const suite = problem ? describe.skip : describe;

suite("a repository that cannot be fetched", () => {
  const db = useTestDatabase();
  let f: Fixture;
  let config: Config;
  let worker: StartedWorker;

  beforeAll(async () => {
    await ensureImageEverywhere(engines.slice(0, 1) as TestEngine[]);
    f = await startFixture();
    const e = engines[0]!;
    await registerHost(db.current.knex, {
      name: e.name,
      dockerEndpoint: e.endpoint,
      tlsPath: e.tlsPath,
      capacity: 2,
      source: "admin",
    });
    // "none": the fetch container has only its own loopback, where nothing listens.
    config = testConfig(f, db.current.url, {
      WORKER_CONCURRENCY: "4",
      RUNNER_FETCH_NETWORK: "none",
      RUNNER_FETCH_TIMEOUT_SECONDS: "60",
    });
    const { github } = testContext(config, db.current.knex, db.current.url);
    worker = await startWorker(config, { registerEnvHost: false, ctx: { github } });
  }, 600_000);

  afterEach(() => {
    f.standIn.assertNoUnexpected();
  });

  afterAll(async () => {
    await worker?.stop();
    await f?.close();
  });

  it("ends the job as failed after bisect__prepare's last attempt, and the comment says the repository could not be fetched", async () => {
    const installed = readFileSync("tests/fixtures/webhooks/installation.created.json", "utf8");
    expect(
      (await send(config, db.current.knex, "installation", null, { raw: installed })).status,
    ).toBe(202);
    const payload = userComment(f, "/bisect v1.4.0 main -- ./test.sh", { issue: 23 });
    expect((await send(config, db.current.knex, "issue_comment", payload)).status).toBe(202);

    const k = db.current.knex;
    const final = () =>
      f.standIn
        .comments(REPO.owner, REPO.name, 23)
        .find((c) => c.user === "bisect-bot[bot]" && !c.deleted && /failed/.test(c.body));
    await expect
      .poll(
        async () => {
          // Every attempt is made; only graphile-worker's growing back-off between them is skipped.
          await k.raw(
            `update graphile_worker._private_jobs j set run_at = now()
               from graphile_worker._private_tasks t
              where t.id = j.task_id and t.identifier = 'bisect__prepare' and j.locked_at is null and j.last_error is not null`,
          );
          return final()?.body ?? "";
        },
        { timeout: 240_000, interval: 1_000 },
      )
      .toMatch(/the repository could not be fetched: /);

    const job = await BisectJob.query(k).findOne({ triggerCommentId: payload.comment.id });
    expect(job).toMatchObject({ status: "failed", outcome: "error" });
    expect(job!.error).toMatch(/^the repository could not be fetched: fatal: unable to access/);
    expect(final()!.body).toContain(job!.error!.slice(0, 60));
    expect(final()!.body).toContain("/bisect retry");

    // It took the whole retry budget, and no more: the task is kept, failed, for the operator.
    const [prepare] = await queuedJobs(k, "bisect__prepare");
    expect(prepare).toMatchObject({ attempts: prepare!.maxAttempts, payload: { jobId: job!.id } });
    expect(prepare!.lastError).toMatch(/could not be fetched/);
    expect(await readCounters(k, ABANDONED_COUNTER)).toEqual([
      { labels: { cause: "bisect__prepare" }, value: 1 },
    ]);
  }, 300_000);
});
