// The admin command line end to end: a real process enqueues each command, a real worker runs
// it against a real database, the command line prints the outcome. (Runner hosts: runners.integration.test.ts.)
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { loadConfig } from "../../config/env";
import { decryptSecret, encryptSecret } from "../../db/crypto";
import { tokenAssociatedData } from "../../db/models";

const OLD_KEY = randomBytes(32);
const NEW_KEY = randomBytes(32);
import { monthOf } from "../../db/models";
import { addJob as enqueue } from "../../jobs/enqueue";
import { startWorker, type StartedWorker } from "../../jobs/worker";
import { useTestDatabase } from "../helpers/database";
import { queuedJobs } from "../helpers/queue";
import { admin, adminAudit } from "./support";

const DAY = 86_400_000;
const daysAgo = (n: number) => new Date(Date.now() - n * DAY);
// The command line and the worker agree on when a worker counts as dead. The heartbeat loop and
// its own unlocking run every 5 minutes here, so `workers unlock-dead` is what frees the test's dead worker.
const CLI_ENV = { WORKER_DEAD_AFTER_SECONDS: "600" };

// Each command is a process start, a job and a round trip: generous limits for a busy machine.
describe("admin command line", { timeout: 120_000 }, () => {
  const db = useTestDatabase();
  const cli = (...args: string[]) => admin(db.current.url, args, CLI_ENV);
  const knex = () => db.current.knex;
  const ids = { running: 0, queued: 0, finished: 0, other: 0, old: 0 };
  // Both months from one clock reading, so a run across a month's end cannot make them equal.
  const clock = new Date();
  const thisMonth = monthOf(clock);
  const lastMonth = monthOf(new Date(Date.UTC(clock.getUTCFullYear(), clock.getUTCMonth() - 1, 1)));

  /** The actions of the admin audit entries so far (each test starts with none). */
  const expectAudited = async (...actions: string[]) => {
    const done = new Set((await adminAudit(knex())).map((a) => a.action));
    for (const action of actions) expect(done, action).toContain(action);
  };

  // Every test starts from the same world, whatever ran before it (any order). Worker heartbeats
  // are kept: the live worker of "with a worker" beats only every 5 minutes.
  beforeEach(async () => {
    const k = knex();
    await k.raw("delete from graphile_worker._private_jobs where locked_at is null");
    for (const table of [
      "auditLog",
      "adminRuns",
      "runnerLeases",
      "runnerHosts",
      "webhookDeliveries",
      "usageStats",
      "bisectSteps",
      "bisectJobs",
      "repositories",
      "installations",
      "users",
    ])
      await k(table).delete();
    await k("installations").insert([
      {
        id: 101,
        accountId: 9101,
        accountLogin: "octo-org",
        accountType: "Organization",
        tier: "free",
      },
      { id: 102, accountId: 9102, accountLogin: "solo", accountType: "User", tier: "pro" },
      {
        id: 103,
        accountId: 9103,
        accountLogin: "gone-org",
        accountType: "Organization",
        tier: "free",
        deletedAt: daysAgo(3),
      },
      { id: 104, accountId: 9104, accountLogin: "newcomer", accountType: "User", tier: "free" },
    ]);
    await k("repositories").insert([
      { id: 201, installationId: 101, owner: "octo-org", name: "app" },
      { id: 202, installationId: 102, owner: "solo", name: "tool" },
    ]);
    const job = (over: Record<string, unknown>) => ({
      source: "github",
      goodRef: "v1.0.0",
      badRef: "main",
      command: "npm test",
      ...over,
    });
    const inserted = await k("bisectJobs")
      .insert([
        job({ installationId: 101, repositoryId: 201, status: "running", startedAt: new Date() }),
        job({ installationId: 101, repositoryId: 201, status: "queued" }),
        job({
          installationId: 102,
          repositoryId: 202,
          status: "finished",
          outcome: "found",
          culpritSha: "c".repeat(40),
          finishedAt: daysAgo(1),
        }),
        job({ installationId: 102, repositoryId: 202, status: "running", startedAt: new Date() }),
        job({
          installationId: 102,
          repositoryId: 202,
          status: "finished",
          outcome: "found",
          finishedAt: daysAgo(100),
          createdAt: daysAgo(101),
        }),
      ])
      .returning("id");
    const [running, queued, finished, other, old] = inserted.map((r: { id: number }) => r.id) as [
      number,
      number,
      number,
      number,
      number,
    ];
    Object.assign(ids, { running, queued, finished, other, old });
    await k("bisectSteps").insert([
      {
        bisectJobId: ids.old,
        sha: "a".repeat(40),
        round: 1,
        status: "done",
        verdict: "good",
        exitCode: 0,
        durationMs: 1200,
        logExcerpt: "old log",
      },
      {
        bisectJobId: ids.finished,
        sha: "b".repeat(40),
        round: 1,
        status: "done",
        verdict: "bad",
        exitCode: 1,
        durationMs: 900,
        logExcerpt: "recent log",
      },
    ]);
    await k("usageStats").insert([
      { installationId: 101, month: thisMonth, jobs: 40, computeSeconds: 1200 },
      { installationId: 102, month: thisMonth, jobs: 5, computeSeconds: 60 },
      { installationId: 101, month: lastMonth, jobs: 10, computeSeconds: 30 },
    ]);
    await k("webhookDeliveries").insert([
      {
        id: "old-delivery",
        event: "ping",
        status: "processed",
        payload: JSON.stringify({ zen: "old" }),
        receivedAt: daysAgo(100),
      },
      {
        id: "new-delivery",
        event: "ping",
        status: "processed",
        payload: JSON.stringify({ zen: "new" }),
        receivedAt: daysAgo(1),
      },
    ]);
    await k("adminRuns").insert({
      command: "runners.list",
      status: "succeeded",
      result: "{}",
      startedAt: daysAgo(100),
      finishedAt: daysAgo(100),
      createdAt: daysAgo(100),
    });
    const [host] = await k("runnerHosts")
      .insert({ name: "retired", dockerEndpoint: "unix:///nonexistent/docker.sock", state: "down" })
      .returning("id");
    const hostId = (host as { id: number }).id;
    await k("runnerLeases").insert([
      {
        runnerHostId: hostId,
        holder: "w-old",
        acquiredAt: daysAgo(100),
        expiresAt: daysAgo(100),
        releasedAt: daysAgo(100),
      },
      { runnerHostId: hostId, holder: "w-lost", acquiredAt: daysAgo(100), expiresAt: daysAgo(99) },
      {
        runnerHostId: hostId,
        holder: "w-new",
        acquiredAt: daysAgo(1),
        expiresAt: daysAgo(1),
        releasedAt: daysAgo(1),
      },
    ]);
  });

  describe("without a live worker", () => {
    it("refuses at once, saying how to start one, and enqueues nothing", async () => {
      const call = await cli("jobs", "list");
      expect(call.code).toBe(1);
      expect(call.stderr).toMatch(
        /no worker is running \(none has written a heartbeat in the last 600s\): start the product \(npm start\) or a worker/,
      );
      expect(
        await knex()("adminRuns").whereNot({ command: "runners.list" }).count({ n: "*" }),
      ).toEqual([{ n: 0 }]);
    });

    it("withdraws a command no worker takes within --timeout", async () => {
      await knex()("workerHeartbeats").insert({ workerId: "phantom", hostname: "nowhere", pid: 1 });
      try {
        const call = await cli("--timeout", "2", "jobs", "list", "--json");
        expect(call.code).toBe(1);
        expect(call.stderr).toContain(
          "jobs list did not run: no worker took the command within 2s",
        );
        expect(call.json).toMatchObject({ command: "jobs.list", status: "failed", result: null });
        const run = await knex()("adminRuns").where({ id: call.json.runId }).first();
        expect(run).toMatchObject({ status: "failed", startedAt: null });
        expect(await queuedJobs(knex(), "admin__run")).toEqual([]);
      } finally {
        await knex()("workerHeartbeats").where({ workerId: "phantom" }).delete();
      }
    });

    it("answers help and usage errors without a database", async () => {
      const [help, usage, unknown] = await Promise.all([
        admin("postgres://nobody@127.0.0.1:1/none", ["help"]),
        admin("postgres://nobody@127.0.0.1:1/none", ["runners", "add", "h9"]),
        admin("postgres://nobody@127.0.0.1:1/none", ["frobnicate"]),
      ]);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain("installations set-tier <id|login> <free|pro|enterprise>");
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain(
        "runners add: missing <endpoint>\nusage: npm run admin -- runners add <name> <endpoint>",
      );
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain("no such command: frobnicate");
    });
  });

  describe("with a worker", () => {
    let worker: StartedWorker;
    beforeAll(async () => {
      const config = loadConfig({
        DATABASE_URL: db.current.url,
        LOG_LEVEL: "error",
        WORKER_HEARTBEAT_SECONDS: "300",
        WORKER_DEAD_AFTER_SECONDS: "600",
        ENCRYPTION_KEY: NEW_KEY.toString("base64"),
        ENCRYPTION_KEY_PREVIOUS: OLD_KEY.toString("base64"),
      });
      worker = await startWorker(config, { registerEnvHost: false });
    });
    afterAll(async () => {
      await worker?.stop();
    });

    it("installations: list, set-tier, suspend (cancelling its jobs), resume", async () => {
      const [list, human] = await Promise.all([
        cli("installations", "list", "--json"),
        cli("installations", "list"),
      ]);
      expect(list.code, list.stderr).toBe(0);
      const rows = list.json.result!.installations as Array<Record<string, unknown>>;
      expect(rows.find((r) => r.id === 101)).toMatchObject({
        login: "octo-org",
        tier: "free",
        state: "active",
        repositories: 1,
        activeJobs: 2,
        jobsThisMonth: 40,
      });
      expect(rows.find((r) => r.id === 103)).toMatchObject({ state: "deleted" });
      expect(human.stdout).toMatch(/^\s*ID\s+ACCOUNT\s+TYPE\s+TIER\s+STATE/m);
      expect(human.stdout).toMatch(/101\s+octo-org\s+Organization\s+free\s+active\s+1\s+2\s+40/);

      const tier = await cli("installations", "set-tier", "octo-org", "pro");
      expect(tier.code, tier.stderr).toBe(0);
      expect(tier.stdout).toBe("installation 101 (octo-org): free → pro.\n");
      expect(await knex()("installations").where({ id: 101 }).first("tier")).toEqual({
        tier: "pro",
      });

      const missing = await cli("installations", "set-tier", "999", "pro");
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("no installation with the id or account login 999");

      const suspend = await cli("installations", "suspend", "octo-org");
      expect(suspend.code, suspend.stderr).toBe(0);
      expect(suspend.stdout).toBe(
        `installation 101 (octo-org) suspended; cancelled 2 jobs (${ids.running}, ${ids.queued}).\n`,
      );
      const jobs = await knex()("bisectJobs")
        .whereIn("id", [ids.running, ids.queued])
        .orderBy("id")
        .select("status", "error");
      expect(jobs).toEqual([
        { status: "cancelled", error: "the installation was suspended by an administrator" },
        { status: "cancelled", error: "the installation was suspended by an administrator" },
      ]);
      expect(
        (await knex()("installations").where({ id: 101 }).first("suspendedAt")).suspendedAt,
      ).toBeInstanceOf(Date);

      const retrySuspended = await cli("jobs", "retry", String(ids.running));
      expect(retrySuspended.code).toBe(1);
      expect(retrySuspended.stderr).toContain("which is suspended: resume it first");

      const resume = await cli("installations", "resume", "101");
      expect(resume.code, resume.stderr).toBe(0);
      expect(resume.stdout).toBe("installation 101 (octo-org) resumed.\n");
      expect(await knex()("installations").where({ id: 101 }).first("suspendedAt")).toEqual({
        suspendedAt: null,
      });

      await expectAudited(
        "installations.list",
        "installations.set-tier",
        "installations.suspend",
        "installations.resume",
      );
      const audit = await adminAudit(knex());
      expect(audit.find((a) => a.action === "installations.set-tier")).toMatchObject({
        subjectType: "installation",
        subjectId: "101",
        details: {
          args: { installation: "octo-org", tier: "pro" },
          status: "succeeded",
          requestedBy: expect.stringContaining("@"),
        },
      });
      expect(audit.filter((a) => a.action === "job.cancel").length).toBeGreaterThanOrEqual(2);
    });

    it("jobs: list, cancel, retry", async () => {
      // octo-org's jobs have ended (as after its suspension): solo's running job is the active one.
      await knex()("bisectJobs")
        .whereIn("id", [ids.running, ids.queued])
        .update({ status: "cancelled", finishedAt: new Date() });
      const [active, recent] = await Promise.all([
        cli("jobs", "list", "--status", "active", "--json"),
        cli("jobs", "list", "--limit", "2"),
      ]);
      expect(active.code, active.stderr).toBe(0);
      expect((active.json.result!.jobs as Array<{ id: number }>).map((j) => j.id)).toEqual([
        ids.other,
      ]);
      expect(recent.stdout).toMatch(/^\s*ID\s+STATUS\s+OUTCOME\s+INSTALLATION\s+REPOSITORY/);
      expect(recent.stdout.trim().split("\n")).toHaveLength(3);

      const cancel = await cli("jobs", "cancel", String(ids.other));
      expect(cancel.code, cancel.stderr).toBe(0);
      expect(cancel.stdout).toContain(`job ${ids.other} cancelled (was running)`);
      expect(await knex()("bisectJobs").where({ id: ids.other }).first("status")).toEqual({
        status: "cancelled",
      });

      const usage = () =>
        knex()("usageStats").where({ installationId: 102, month: thisMonth }).first("jobs");
      const usedBefore = (await usage()).jobs;
      const [again, missing, retry] = await Promise.all([
        cli("jobs", "cancel", String(ids.other)),
        cli("jobs", "cancel", "99999"),
        cli("jobs", "retry", String(ids.finished), "--json"),
      ]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(`job ${ids.other} had already ended (cancelled)`);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("no job 99999");
      expect(retry.code, retry.stderr).toBe(0);
      const newJobId = retry.json.result!.newJobId as number;
      expect(
        await knex()("bisectJobs")
          .where({ id: newJobId })
          .first("retryOfJobId", "requesterLogin", "command"),
      ).toEqual({
        retryOfJobId: ids.finished,
        requesterLogin: "admin",
        command: "npm test",
      });
      // The new job is admitted like any other: it counts against the month's quota.
      expect((await usage()).jobs).toBe(usedBefore + 1);
      // Stop it so it does not wait for a runner host forever, and leave the seeded usage as it was.
      expect((await cli("jobs", "cancel", String(newJobId))).code).toBe(0);
      await knex()("usageStats")
        .where({ installationId: 102, month: thisMonth })
        .update({ jobs: usedBefore });

      await expectAudited("jobs.list", "jobs.cancel", "jobs.retry");
      const audit = await adminAudit(knex());
      expect(
        audit.find(
          (a) =>
            a.action === "jobs.cancel" &&
            a.details.status === "failed" &&
            a.subjectId === String(ids.other),
        ),
      ).toMatchObject({
        subjectType: "bisect_job",
        details: { error: expect.stringContaining("had already ended") },
      });
      // cancelJob's own entry for each job it cancelled.
      expect(audit.filter((a) => a.action === "job.cancel").length).toBeGreaterThanOrEqual(2);
    });

    it("usage report: jobs, compute minutes, limits and quota per installation", async () => {
      await knex()("installations").where({ id: 101 }).update({ tier: "pro" });
      const [now, before, human] = await Promise.all([
        cli("usage", "report", "--json"),
        cli("usage", "report", "--month", lastMonth.slice(0, 7), "--json"),
        cli("usage", "report"),
      ]);
      expect(now.code, now.stderr).toBe(0);
      const lines = now.json.result!.installations as Array<Record<string, unknown>>;
      expect(lines.find((l) => l.installationId === 101)).toEqual({
        installationId: 101,
        login: "octo-org",
        tier: "pro",
        state: "active",
        jobs: 40,
        computeMinutes: 20,
        jobsPerMonth: 500,
        maxDurationMinutes: 60,
        maxConcurrent: 3,
        quotaPercent: 8,
      });
      expect(lines.find((l) => l.installationId === 102)).toMatchObject({
        jobs: 5,
        computeMinutes: 1,
        quotaPercent: 1,
      });
      expect(lines.find((l) => l.installationId === 103)).toBeUndefined();
      expect(now.json.result!.totals).toEqual({ jobs: 45, computeMinutes: 21 });
      expect(
        (before.json.result!.installations as Array<Record<string, unknown>>).find(
          (l) => l.installationId === 101,
        ),
      ).toMatchObject({ jobs: 10, computeMinutes: 0.5 });
      expect(human.stdout).toContain(`usage in ${thisMonth.slice(0, 7)} (UTC)`);
      expect(human.stdout).toMatch(/101\s+octo-org\s+pro\s+40\s+500\s+8%\s+20\s+60\s+3/);
      await expectAudited("usage.report");
    });

    it("workers: list, unlock-dead", async () => {
      // The worker's crontab frees dead workers' jobs once a minute too. When it wins the race
      // for the test's dead worker (the job is then free and the heartbeat gone), set the scene
      // again: a race lost twice in a row would mean something else frees the job.
      let list: Awaited<ReturnType<typeof cli>>;
      let unlock: Awaited<ReturnType<typeof cli>>;
      for (let attempt = 1; ; attempt++) {
        await knex()("workerHeartbeats").where({ workerId: "dead-worker" }).delete();
        // A worker that died holding a job: a stale heartbeat and a locked job of a task no one runs.
        await knex()("workerHeartbeats").insert({
          workerId: "dead-worker",
          hostname: "gone",
          pid: 4242,
          startedAt: daysAgo(1),
          lastBeatAt: new Date(Date.now() - 3_600_000),
        });
        await enqueue(knex(), "nobody__runs", {}, { jobKey: "nobody__runs:1" });
        await knex().raw(
          "update graphile_worker._private_jobs set locked_by = 'dead-worker', locked_at = now() - interval '1 hour' where key = 'nobody__runs:1'",
        );

        list = await cli("workers", "list", "--json");
        unlock = await cli("workers", "unlock-dead");
        const listed = (
          list.json.result?.workers as Array<Record<string, unknown>> | undefined
        )?.find((w) => w.workerId === "dead-worker");
        if (listed && unlock.stdout.includes("dead-worker")) break;
        expect(
          attempt,
          "the crontab freed the dead worker's job before the command, again",
        ).toBeLessThan(3);
        expect((await queuedJobs(knex(), "nobody__runs"))[0]).toMatchObject({ lockedBy: null });
      }
      expect(list.code, list.stderr).toBe(0);
      const workers = list.json.result!.workers as Array<Record<string, unknown>>;
      expect(workers.find((w) => w.workerId === "dead-worker")).toMatchObject({
        alive: false,
        lockedJobs: 1,
        hostname: "gone",
      });
      expect(
        workers
          .filter((w) => w.alive)
          .map((w) => w.workerId)
          .sort(),
      ).toEqual(worker.workerIds().sort());

      expect(unlock.code, unlock.stderr).toBe(0);
      expect(unlock.stdout).toBe("freed the jobs of 1 dead worker: dead-worker\n");
      expect((await queuedJobs(knex(), "nobody__runs"))[0]).toMatchObject({ lockedBy: null });
      const human = await cli("workers", "list");
      expect(human.stdout).toMatch(
        /^WORKER\s+HOST\s+PID\s+STARTED\s+LAST BEAT\s+ALIVE\s+LOCKED JOBS/,
      );
      expect(human.stdout).not.toContain("dead-worker");
      await expectAudited("workers.list", "workers.unlock-dead");
    });

    it("prune: clears old logs and payloads, deletes old admin runs and ended leases, keeps verdicts", async () => {
      const call = await cli("prune", "--older-than", "30d", "--json");
      expect(call.code, call.stderr).toBe(0);
      expect(call.json.result).toMatchObject({
        olderThan: "30d",
        stepLogs: 1,
        webhookPayloads: 1,
        adminRuns: 1,
        leases: 2,
      });
      expect(
        await knex()("bisectSteps").orderBy("id").select("verdict", "exitCode", "logExcerpt"),
      ).toEqual([
        { verdict: "good", exitCode: 0, logExcerpt: null },
        { verdict: "bad", exitCode: 1, logExcerpt: "recent log" },
      ]);
      expect(await knex()("webhookDeliveries").orderBy("id").select("id", "payload")).toEqual([
        { id: "new-delivery", payload: { zen: "new" } },
        { id: "old-delivery", payload: null },
      ]);
      expect(await knex()("runnerLeases").pluck("holder")).toEqual(["w-new"]);
      const human = await cli("prune");
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toMatch(/older than 90d/);
      expect(human.stdout).toMatch(/step log excerpts cleared\s+0/);
      await expectAudited("prune");
    });

    it("secrets re-encrypt: stored tokens move to the current key", async () => {
      await knex()("users").insert({
        githubId: 555,
        login: "rotating",
        oauthTokenEncrypted: encryptSecret("gho_rotate_me", OLD_KEY, tokenAssociatedData(555)),
      });
      const call = await cli("secrets", "re-encrypt");
      expect(call.code, call.stderr).toBe(0);
      expect(call.stdout).toMatch(/re-encrypted 1 token with the current key/);
      const row = await knex()("users").where({ githubId: 555 }).first("oauthTokenEncrypted");
      expect(decryptSecret(row.oauthTokenEncrypted, NEW_KEY, tokenAssociatedData(555))).toBe(
        "gho_rotate_me",
      );
      await expectAudited("secrets.re-encrypt");
    });

    it("usage__rollover opens the month for every usable installation", async () => {
      await enqueue(knex(), "usage__rollover", {});
      await expect
        .poll(
          async () =>
            await knex()("usageStats")
              .where({ month: thisMonth })
              .orderBy("installationId")
              .select("installationId", "jobs"),
          { timeout: 30_000 },
        )
        .toEqual([
          { installationId: 101, jobs: 40 },
          { installationId: 102, jobs: 5 },
          { installationId: 104, jobs: 0 },
        ]);
    });

    it("closes, never repeats, a command whose worker died while running it", async () => {
      const [row] = await knex()("adminRuns")
        .insert({
          command: "installations.suspend",
          args: JSON.stringify({ installation: "solo" }),
          status: "running",
          startedAt: new Date(),
        })
        .returning("id");
      const runId = (row as { id: number }).id;
      // The job as graphile-worker holds it after its first attempt's worker was declared dead.
      await knex().transaction(async (trx) => {
        await enqueue(
          trx,
          "admin__run",
          { runId },
          { jobKey: `admin__run:${runId}`, maxAttempts: 2 },
        );
        await trx.raw("update graphile_worker._private_jobs set attempts = 1 where key = ?", [
          `admin__run:${runId}`,
        ]);
      });
      await expect
        .poll(async () => (await knex()("adminRuns").where({ id: runId }).first()).status, {
          timeout: 30_000,
        })
        .toBe("failed");
      expect(await knex()("adminRuns").where({ id: runId }).first("error")).toEqual({
        error:
          "the worker running this command stopped before it finished: check what it changed, then run it again",
      });
      expect(await knex()("installations").where({ id: 102 }).first("suspendedAt")).toEqual({
        suspendedAt: null,
      });
    });
  });
});
