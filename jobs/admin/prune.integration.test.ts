// Retention: each RETENTION_* setting decides what the nightly prune removes, against a real
// database. Rows just inside a retention stay; rows just past it go.
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { useTestDatabase } from "../../tests/helpers/database";
import { prune, retentionFrom } from "./prune";

const DAY = 86_400_000;
const NOW = new Date("2026-12-07T03:17:00Z");
const daysAgo = (n: number) => new Date(NOW.getTime() - n * DAY);

describe("prune by retention settings", () => {
  const db = useTestDatabase();
  const knex = () => db.current.knex;

  async function endedJobWithLog(finishedDaysAgo: number, log: string): Promise<void> {
    const [job] = await knex()("bisectJobs")
      .insert({
        source: "cli",
        repoUrl: "/srv/r.git",
        goodRef: "a",
        badRef: "b",
        command: "true",
        status: "finished",
        outcome: "found",
        finishedAt: daysAgo(finishedDaysAgo),
      })
      .returning("id");
    await knex()("bisectSteps").insert({
      bisectJobId: (job as { id: number }).id,
      sha: "a".repeat(40),
      round: 1,
      status: "done",
      verdict: "good",
      exitCode: 0,
      logExcerpt: log,
    });
  }

  it("defaults: step logs 90 days, webhook payloads 30 days, audit log 365 days", () => {
    expect(retentionFrom(loadConfig({}))).toEqual({
      stepLogs: 90 * 86_400,
      webhookPayloads: 30 * 86_400,
      auditLog: 365 * 86_400,
      other: 90 * 86_400,
    });
  });

  it("RETENTION_STEP_LOGS_DAYS: clears the log excerpts of jobs that ended before it, keeps the verdicts", async () => {
    await endedJobWithLog(9, "old log");
    await endedJobWithLog(6, "recent log");
    const report = await prune(
      knex(),
      retentionFrom(loadConfig({ RETENTION_STEP_LOGS_DAYS: "7" })),
      NOW,
    );
    expect(report).toMatchObject({ stepLogs: 1, retention: { stepLogs: "1w" } });
    expect(await knex()("bisectSteps").orderBy("id").select("verdict", "logExcerpt")).toEqual([
      { verdict: "good", logExcerpt: null },
      { verdict: "good", logExcerpt: "recent log" },
    ]);
  });

  it("RETENTION_WEBHOOK_PAYLOADS_DAYS: clears payloads of handled deliveries before it, keeps the delivery ids", async () => {
    await knex()("webhookDeliveries").insert([
      {
        id: "d-old",
        event: "ping",
        status: "processed",
        payload: JSON.stringify({ zen: "old" }),
        receivedAt: daysAgo(3),
      },
      {
        id: "d-new",
        event: "ping",
        status: "processed",
        payload: JSON.stringify({ zen: "new" }),
        receivedAt: daysAgo(1),
      },
      {
        id: "d-pending",
        event: "ping",
        status: "received",
        payload: JSON.stringify({ zen: "pending" }),
        receivedAt: daysAgo(3),
      },
    ]);
    const report = await prune(
      knex(),
      retentionFrom(loadConfig({ RETENTION_WEBHOOK_PAYLOADS_DAYS: "2" })),
      NOW,
    );
    expect(report).toMatchObject({ webhookPayloads: 1, retention: { webhookPayloads: "2d" } });
    expect(await knex()("webhookDeliveries").orderBy("id").select("id", "payload")).toEqual([
      { id: "d-new", payload: { zen: "new" } },
      { id: "d-old", payload: null },
      { id: "d-pending", payload: { zen: "pending" } },
    ]);
  });

  it("RETENTION_AUDIT_LOG_DAYS: deletes audit entries before it; 0 keeps them all", async () => {
    await knex()("auditLog").insert([
      { actor: "alice", action: "user.sign_in", createdAt: daysAgo(40) },
      { actor: "bob", action: "user.sign_in", createdAt: daysAgo(20) },
    ]);
    const kept = await prune(
      knex(),
      retentionFrom(loadConfig({ RETENTION_AUDIT_LOG_DAYS: "0" })),
      NOW,
    );
    expect(kept).toMatchObject({ auditLog: 0, retention: { auditLog: "forever" } });
    expect(await knex()("auditLog").orderBy("id").pluck("actor")).toEqual(["alice", "bob"]);

    const report = await prune(
      knex(),
      retentionFrom(loadConfig({ RETENTION_AUDIT_LOG_DAYS: "30" })),
      NOW,
    );
    expect(report).toMatchObject({ auditLog: 1, retention: { auditLog: "30d" } });
    expect(await knex()("auditLog").pluck("actor")).toEqual(["bob"]);
  });

  it("--older-than replaces every age but the audit log's", () => {
    const retention = retentionFrom(loadConfig({ RETENTION_AUDIT_LOG_DAYS: "400" }), 3 * 86_400);
    expect(retention).toEqual({
      stepLogs: 3 * 86_400,
      webhookPayloads: 3 * 86_400,
      auditLog: 400 * 86_400,
      other: 3 * 86_400,
    });
  });
});
