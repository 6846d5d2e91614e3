import { AuditLogEntry, BisectJob, BisectStep } from "../../db/models";
import { useTestDatabase } from "../../tests/helpers/database";
import { queuedJobs } from "../../tests/helpers/queue";
import { Model } from "objection";
import { beforeAll, describe, expect, it } from "vitest";
import { cancelJob, retryJob } from "./control";
import { createJob } from "./intake";

const db = useTestDatabase();
beforeAll(() => {
  Model.knex(db.current.knex);
});

const queuedTasks = async () =>
  (await queuedJobs(db.current.knex)).map((j) => ({
    t: j.task,
    payload: j.payload as { jobId: number },
  }));

describe("job intake", () => {
  it("writes the job and its first task together, once per trigger comment", async () => {
    const input = {
      source: "cli" as const,
      repoUrl: "/tmp/repo",
      goodRef: "v1",
      badRef: "main",
      command: "make test",
      triggerCommentId: 4242,
    };
    const first = await createJob(db.current.knex, input);
    const again = await createJob(db.current.knex, input);
    expect(first.created).toBe(true);
    expect(again).toMatchObject({ created: false, job: { id: first.job.id } });
    expect(await BisectJob.query().where({ triggerCommentId: 4242 }).resultSize()).toBe(1);
    expect(
      (await queuedTasks()).filter((j) => j.payload.jobId === first.job.id).map((j) => j.t),
    ).toEqual(["bisect__prepare"]);
  });

  it("rolls the job back when its task cannot be queued", async () => {
    const before = await BisectJob.query().resultSize();
    // A missing repository violates a foreign key after the insert: nothing of it may remain.
    await expect(
      createJob(db.current.knex, {
        source: "github",
        repositoryId: 999,
        goodRef: "a",
        badRef: "b",
        command: "true",
      }),
    ).rejects.toThrow();
    expect(await BisectJob.query().resultSize()).toBe(before);
  });

  it("cancels a running job once, audits it, and re-runs it as a new job", async () => {
    const { job } = await createJob(db.current.knex, {
      source: "cli",
      repoUrl: "/tmp/r",
      goodRef: "a",
      badRef: "b",
      command: "true",
    });
    await BisectStep.query().insert({ bisectJobId: job.id, sha: "a".repeat(40), round: 1 });
    expect(await cancelJob(db.current.knex, job.id, { login: "alice" })).toBe(true);
    expect(await cancelJob(db.current.knex, job.id, { login: "alice" })).toBe(false);
    const cancelled = await BisectJob.query().findById(job.id);
    expect(cancelled?.status).toBe("cancelled");
    expect((await BisectStep.query().where({ bisectJobId: job.id })).map((s) => s.status)).toEqual([
      "cancelled",
    ]);
    expect(
      (await queuedTasks()).some((t) => t.t === "bisect__cancel" && t.payload.jobId === job.id),
    ).toBe(true);

    const admission = await retryJob(
      db.current.knex,
      job.id,
      { kind: "operator", login: "bob" },
      { defaultTimeoutSeconds: 600 },
    );
    const retry = admission?.admitted ? admission.job : null;
    expect(retry).toMatchObject({
      retryOfJobId: job.id,
      status: "queued",
      goodRef: "a",
      badRef: "b",
      requesterLogin: "bob",
    });
    const audit = await AuditLogEntry.query()
      .where({ subjectId: String(job.id) })
      .orderBy("id");
    expect(audit.map((a) => [a.actor, a.action])).toEqual([
      ["alice", "job.cancel"],
      ["bob", "job.retry"],
    ]);
  });
});
