// The web process's own database role (db/web-role.ts): with it, the webhook recorder, sign-in and
// the dashboard's cancel and re-run still work; writing the farm's tables (steps, hosts, leases,
// mirrors), removing audit entries and reading what the web has no use for are refused.
import { randomBytes } from "node:crypto";
import type { Knex } from "knex";
import { Model } from "objection";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebServer } from "../e2e/support";
import { webhookHeaders } from "../github-stand-in/webhook";
import { onFreePort } from "../helpers/ports";
import { DeliveryRecorder } from "../../app/webhook-recorder.server";
import { webDatabaseUrl } from "../../config/env";
import { createKnex } from "../../db/connection";
import { AuditLogEntry, BisectJob, BisectStep } from "../../db/models";
import { ensureWebRole } from "../../db/web-role";
import { cancelJob, retryJob } from "../../jobs/bisection/control";
import { createJob } from "../../jobs/bisection/intake";
import { DELIVERY_TASK } from "../../jobs/github/deliveries";
import { useTestDatabase } from "../helpers/database";
import { queuedJobs } from "../helpers/queue";

const db = useTestDatabase();
const role = `bisect_web_${randomBytes(4).toString("hex")}`;
const password = randomBytes(18).toString("base64url");
let web: Knex;
let webUrl: string;

const denied = /permission denied/;

beforeAll(async () => {
  Model.knex(db.current.knex);
  await ensureWebRole(db.current.knex, role, password);
  const url = new URL(db.current.url);
  url.username = role;
  url.password = password;
  webUrl = url.toString();
  web = createKnex(
    webDatabaseUrl({ DATABASE_URL: db.current.url, DATABASE_WEB_URL: url.toString() })!,
    { poolMax: 2 },
  );
});

afterAll(async () => {
  await web?.destroy();
  await db.current.knex.raw(`drop owned by ${role}`);
  await db.current.knex.raw(`drop role if exists ${role}`);
});

describe("the web process's database role", () => {
  it("connects as itself, not as the tables' owner", async () => {
    const { rows } = await web.raw("select current_user as u");
    expect(rows[0].u).toBe(role);
  });

  it("records a webhook delivery and queues its task", async () => {
    const recorder = new DeliveryRecorder(web, DELIVERY_TASK);
    const id = `delivery-${randomBytes(4).toString("hex")}`;
    const inserted = await recorder.record({
      id,
      event: "issue_comment",
      action: "created",
      installationId: null,
      payload: JSON.stringify({ action: "created" }),
      status: "received",
      enqueue: true,
    });
    expect(inserted).toBe(true);
    expect(await db.current.knex("webhook_deliveries").where({ id }).first("status")).toEqual({
      status: "received",
    });
    expect(
      (await queuedJobs(db.current.knex, DELIVERY_TASK)).some((j) => j.payload.deliveryId === id),
    ).toBe(true);
  });

  it("signs a user in: their row (with their own token), a session, an audit entry", async () => {
    const [user] = await web("users")
      .insert({ githubId: 777, login: "alice", oauthTokenEncrypted: "iv.tag.data" })
      .returning(["id"]);
    expect(await web("users").where({ id: user.id }).first("oauthTokenEncrypted")).toEqual({
      oauthTokenEncrypted: "iv.tag.data",
    });
    const session = {
      id: randomBytes(16).toString("hex"),
      userId: user.id,
      csrfToken: "csrf",
      lastSeenAt: new Date(),
      expiresAt: new Date(Date.now() + 60_000),
    };
    await web("sessions").insert(session);
    await web("sessions").where({ id: session.id }).update({ flash: "hello" });
    await web("sessions").where({ id: session.id }).delete();
    await AuditLogEntry.record(web, { actor: "alice", action: "auth.login" });
  });

  it("cancels a job and re-runs it from the dashboard", async () => {
    const { job } = await createJob(db.current.knex, {
      source: "cli",
      repoUrl: "/tmp/r",
      goodRef: "a",
      badRef: "b",
      command: "true",
    });
    await BisectStep.query().insert({ bisectJobId: job.id, sha: "a".repeat(40), round: 1 });
    expect(await cancelJob(web, job.id, { login: "alice" })).toBe(true);
    expect((await BisectJob.query().findById(job.id))?.status).toBe("cancelled");
    expect((await BisectStep.query().where({ bisectJobId: job.id })).map((s) => s.status)).toEqual([
      "cancelled",
    ]);
    const admission = await retryJob(
      web,
      job.id,
      { kind: "operator", login: "bob" },
      { defaultTimeoutSeconds: 600 },
    );
    expect(admission?.admitted ? admission.job.retryOfJobId : null).toBe(job.id);
  });

  it("cannot write the farm's tables, change or remove audit entries, or read the rest", async () => {
    const { job } = await createJob(db.current.knex, {
      source: "cli",
      repoUrl: "/tmp/r",
      goodRef: "a",
      badRef: "b",
      command: "true",
    });
    const [step] = await db.current
      .knex("bisect_steps")
      .insert({ bisectJobId: job.id, sha: "b".repeat(40), round: 1 })
      .returning(["id"]);
    const forbidden: Promise<unknown>[] = [
      web("bisect_steps").insert({ bisectJobId: job.id, sha: "c".repeat(40), round: 1 }),
      web("bisect_steps")
        .where({ id: step.id })
        .update({ sha: "d".repeat(40) }),
      web("bisect_steps").where({ id: step.id }).delete(),
      web("runner_hosts").insert({ name: "evil", dockerEndpoint: "tcp://evil:2376" }),
      web("runner_hosts").update({ state: "down" }),
      web("runner_hosts").delete(),
      web("runner_leases").delete(),
      web("runner_leases").update({ runnerHostId: 1 }),
      web("runner_mirrors").delete(),
      web("runner_mirrors").update({ sizeBytes: 0 }),
      web("audit_log").delete(),
      web("audit_log").update({ actor: "nobody" }),
      web("bisect_jobs").delete(),
      web("users").delete(),
      web("admin_runs").select("*"),
      web("knex_migrations").select("*"),
      web.raw("delete from graphile_worker._private_tasks"),
      web.raw("create table public.web_made (id int)"),
    ];
    for (const statement of forbidden) await expect(statement).rejects.toThrow(denied);
    expect(await db.current.knex("bisect_steps").where({ id: step.id }).first("sha")).toEqual({
      sha: "b".repeat(40),
    });
  });

  it("is set again, to the same grants, on every migration run", async () => {
    await ensureWebRole(db.current.knex, role, password);
    await expect(web("audit_log").delete()).rejects.toThrow(denied);
    expect(await web("audit_log").count({ n: "*" })).toHaveLength(1);
  });

  it("is what the web process connects with when DATABASE_WEB_URL is set", async () => {
    const secret = randomBytes(24).toString("hex");
    const wrong = new URL(db.current.url);
    wrong.password = "not-the-password";
    const server = await onFreePort((port) =>
      startWebServer(
        {
          NODE_ENV: "production",
          DATABASE_URL: wrong.toString(),
          DATABASE_WEB_URL: webUrl,
          PUBLIC_URL: "https://bisect.example.com",
          SESSION_SECRET: randomBytes(32).toString("hex"),
          ENCRYPTION_KEY: randomBytes(32).toString("base64"),
          GITHUB_APP_ID: "4242",
          GITHUB_APP_SLUG: "bisect-bot-web-role-test",
          GITHUB_WEBHOOK_SECRET: secret,
          GITHUB_CLIENT_ID: "Iv1.webroletest",
          GITHUB_CLIENT_SECRET: randomBytes(20).toString("hex"),
          GITHUB_API_URL: "http://127.0.0.1:9/api/v3",
          GITHUB_URL: "http://127.0.0.1:9",
        },
        port,
      ).then((s) => ({ s, port })),
    );
    try {
      const id = randomBytes(8).toString("hex");
      const body = JSON.stringify({
        zen: "Half measures are as bad as nothing at all.",
        hook_id: 2,
      });
      const response = await fetch(`http://127.0.0.1:${server.port}/webhook`, {
        method: "POST",
        headers: webhookHeaders("ping", id, body, secret),
        body,
      });
      expect(response.status).toBe(200);
      expect(await db.current.knex("webhook_deliveries").where({ id }).first("event")).toEqual({
        event: "ping",
      });
    } finally {
      await server.s.stop();
    }
  });
});
