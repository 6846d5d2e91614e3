// Stop signals on a real PostgreSQL: a job's end and a step's cancellation reach the listeners of
// that job (and no other), and a lost connection is taken up again, with every listener told once.
import { afterEach, describe, expect, it } from "vitest";
import { BisectJob, BisectStep } from "../../db/models";
import { useTestDatabase } from "../../tests/helpers/database";
import { createJob } from "../bisection/intake";
import { StopSignals } from "./stop-signals";

const db = useTestDatabase();
const started: StopSignals[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) await s.stop();
});

async function listening(): Promise<StopSignals> {
  const signals = new StopSignals(db.current.url);
  started.push(signals);
  await signals.start();
  expect(signals.listening).toBe(true);
  return signals;
}

async function runningJob() {
  const k = db.current.knex;
  const { job } = await createJob(k, {
    source: "cli",
    repoUrl: "/signals",
    goodRef: "v1",
    badRef: "main",
    command: "make test",
  });
  await job.$query(k).patch({ status: "running", startedAt: new Date() });
  const step = await BisectStep.query(k)
    .insert({ bisectJobId: job.id, sha: "c".repeat(40), round: 1 })
    .returning("*");
  return { job, step };
}

describe("stop signals", () => {
  it("tell a job's listeners when one of its steps is cancelled and when it ends, and no one else", async () => {
    const k = db.current.knex;
    const signals = await listening();
    const a = await runningJob();
    const b = await runningJob();
    const heard = { a: 0, b: 0 };
    signals.onJob(a.job.id, () => heard.a++);
    signals.onJob(b.job.id, () => heard.b++);

    await BisectStep.query(k).patch({ status: "cancelled" }).where({ id: a.step.id });
    await expect.poll(() => heard.a).toBe(1);
    // A step that ends with a verdict is no stop.
    await BisectStep.query(k).patch({ status: "done", verdict: "good" }).where({ id: b.step.id });
    await BisectJob.query(k).patch({ status: "finished" }).where({ id: a.job.id });
    await expect.poll(() => heard.a).toBe(2);
    expect(heard.b).toBe(0);
  });

  it("stops telling a listener that unsubscribed", async () => {
    const k = db.current.knex;
    const signals = await listening();
    const a = await runningJob();
    let heard = 0;
    const off = signals.onJob(a.job.id, () => heard++);
    off();
    const other = await runningJob();
    let otherHeard = 0;
    signals.onJob(other.job.id, () => otherHeard++);
    await BisectStep.query(k).patch({ status: "cancelled" }).where({ id: a.step.id });
    await BisectStep.query(k).patch({ status: "cancelled" }).where({ id: other.step.id });
    // The second signal was heard, so the first one was delivered before it: to nobody.
    await expect.poll(() => otherHeard).toBe(1);
    expect(heard).toBe(0);
  });

  it("listens again after its connection is lost, and tells every listener once", async () => {
    const k = db.current.knex;
    const signals = await listening();
    const a = await runningJob();
    let heard = 0;
    signals.onJob(a.job.id, () => heard++);
    await k.raw(
      "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'bisect-bot-stop-signals' and datname = current_database()",
    );
    // Once it listens again, it tells everyone (whatever was sent meanwhile was lost).
    await expect.poll(() => heard, { timeout: 20_000 }).toBe(1);
    expect(signals.listening).toBe(true);
    await BisectJob.query(k).patch({ status: "cancelled" }).where({ id: a.job.id });
    await expect.poll(() => heard).toBe(2);
  });
});
