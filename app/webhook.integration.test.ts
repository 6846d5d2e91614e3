// The webhook route against a real PostgreSQL: signed fixture deliveries in, rows and queued
// tasks out. No GitHub call happens in the request, so the stand-in only serves the handling task.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig, type Config } from "../config/env";
import { BisectJob } from "../db/models";
import type { WorkerContext } from "../jobs/worker-context";
import { useTestDatabase } from "../tests/helpers/database";
import { queuedJobs } from "../tests/helpers/queue";
import {
  commentPayload,
  handleQueuedDeliveries,
  newDeliveryId,
  send,
  signedRequest,
  startFixture,
  testConfig,
  testContext,
  userComment,
  WEBHOOK_SECRET,
  type Fixture,
} from "../tests/github/support";
import { webhookHeaders } from "../tests/github-stand-in/webhook";
import { getDb } from "./db.server";
import { action } from "./routes/webhook";
import { DeliveryRecorder, type DeliveryRow } from "./webhook-recorder.server";
import { receiveWebhook, storablePayload } from "./webhook.server";

/** GitHub's documented cap on a delivery (25 MB), the default limit. */
const MAX_BODY_BYTES = 25_000_000;

const db = useTestDatabase();
const fixture = (name: string) =>
  readFileSync(path.join("tests/fixtures/webhooks", `${name}.json`), "utf8");

let f: Fixture;
let config: Config;
let ctx: WorkerContext;

const callAction = (request: Request) => action({ request, params: {}, context: {} });
const PREVIOUS_WEBHOOK_SECRET = "previous-webhook-secret-0123456789";
const deliveryRows = async (id?: string) =>
  id ? db.current.knex("webhook_deliveries").where({ id }) : db.current.knex("webhook_deliveries");
const tasks = async () => queuedJobs(db.current.knex, "github__handle_delivery");

beforeAll(async () => {
  f = await startFixture();
  config = testConfig(f, db.current.url);
  ctx = testContext(config, db.current.knex, db.current.url);
  // The route reads the process's configuration and database, as in production.
  Object.assign(process.env, {
    DATABASE_URL: db.current.url,
    GITHUB_APP_ID: "1001",
    GITHUB_APP_SLUG: "bisect-bot",
    GITHUB_APP_PRIVATE_KEY: f.privateKey,
    GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
    GITHUB_WEBHOOK_SECRET_PREVIOUS: PREVIOUS_WEBHOOK_SECRET,
    GITHUB_CLIENT_ID: "Iv23liTestClient",
    GITHUB_CLIENT_SECRET: "client-secret",
    GITHUB_API_URL: f.standIn.urls.api,
    GITHUB_URL: f.standIn.urls.web,
  });
});

// Each test starts from no deliveries, tasks or jobs, whatever ran before it (any order).
beforeEach(async () => {
  const k = db.current.knex;
  await k.raw("delete from graphile_worker._private_jobs");
  await k("webhook_deliveries").delete();
  await k("bisect_jobs").delete();
});

afterEach(() => {
  try {
    f.standIn.assertNoUnexpected();
  } finally {
    f.standIn.clearRequests();
    f.standIn.clearFaults();
  }
});

afterAll(async () => {
  await getDb().destroy();
  await f?.close();
});

describe("POST /webhook: authenticity and size", () => {
  it("refuses a missing or wrong signature, records nothing but an audit entry, and calls nobody", async () => {
    const body = fixture("issue_comment.created");
    const id = newDeliveryId();
    const headers = webhookHeaders("issue_comment", id, body, WEBHOOK_SECRET);
    const { ["x-hub-signature-256"]: _signature, ...unsigned } = headers;

    const missing = await callAction(
      new Request("http://localhost/webhook", { method: "POST", headers: unsigned, body }),
    );
    expect(missing.status).toBe(401);
    const empty = await callAction(
      new Request("http://localhost/webhook", {
        method: "POST",
        headers: { ...headers, "x-hub-signature-256": "" },
        body,
      }),
    );
    expect(empty.status).toBe(401);
    const wrong = await callAction(
      signedRequest("issue_comment", null, {
        raw: body,
        deliveryId: id,
        secret: "not-the-secret-at-all",
      }),
    );
    expect(wrong.status).toBe(401);
    const tampered = await callAction(
      new Request("http://localhost/webhook", {
        method: "POST",
        headers,
        body: body.replace("v1.4.0", "v1.3.0"),
      }),
    );
    expect(tampered.status).toBe(401);

    expect(await deliveryRows(id)).toHaveLength(0);
    expect(await tasks()).toHaveLength(0);
    const audit = await db.current.knex("audit_log").where({ subjectId: id }).orderBy("id");
    expect(audit.map((a) => a.action)).toEqual([
      "webhook.signature_missing",
      "webhook.signature_missing",
      "webhook.signature_invalid",
      "webhook.signature_invalid",
    ]);
    expect(JSON.stringify(audit)).not.toContain(WEBHOOK_SECRET);
    expect(JSON.stringify(audit)).not.toContain("sha256=");
    expect(f.standIn.requests()).toHaveLength(0);
  });

  it("refuses malformed JSON and payloads that are not events", async () => {
    expect(
      (await callAction(signedRequest("issue_comment", null, { raw: '{"action": "created",' })))
        .status,
    ).toBe(400);
    expect((await callAction(signedRequest("issue_comment", null, { raw: "[1, 2]" }))).status).toBe(
      400,
    );
    expect(
      (
        await callAction(
          signedRequest("issue_comment", null, { raw: '{"installation": {"id": "x"}}' }),
        )
      ).status,
    ).toBe(400);
    const noEvent = signedRequest("", { zen: "x" });
    expect((await callAction(noEvent)).status).toBe(400);
    expect(await deliveryRows()).toHaveLength(0);
  });

  it("answers 413 above 25 MB, from Content-Length or from what was actually read", async () => {
    const declared = new Request("http://localhost/webhook", {
      method: "POST",
      headers: {
        "content-length": String(MAX_BODY_BYTES + 1),
        "x-github-event": "ping",
        "x-github-delivery": newDeliveryId(),
      },
      body: "{}",
    });
    expect((await callAction(declared)).status).toBe(413);

    const chunk = new Uint8Array(1024 * 1024).fill(0x20);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ > 26) controller.close();
        else controller.enqueue(chunk);
      },
    });
    // Signed (well-formed, so the body is read at all): the cap applies to what arrives.
    const undeclared = new Request("http://localhost/webhook", {
      method: "POST",
      headers: { "x-github-event": "ping", "x-hub-signature-256": `sha256=${"0".repeat(64)}` },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect((await callAction(undeclared)).status).toBe(413);
    expect(sent).toBeLessThan(28);
  });

  it("answers 503 with an explanation in setup mode, before touching the database", async () => {
    const setup = loadConfig({ LOG_LEVEL: "error" });
    const response = await receiveWebhook(signedRequest("ping", { zen: "x" }), {
      config: setup,
      db: () => {
        throw new Error("no database in this test");
      },
    });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { message: string }).message).toMatch(
      /no GitHub App configured.*GITHUB_APP_ID/,
    );
  });
});

describe("POST /webhook: secret rotation", () => {
  it("accepts the previous secret while a new one rolls out, and nothing else", async () => {
    const previous = await callAction(
      signedRequest("ping", JSON.parse(fixture("ping")), {
        deliveryId: newDeliveryId(),
        secret: PREVIOUS_WEBHOOK_SECRET,
      }),
    );
    expect(previous.status).toBe(200);
    const other = await callAction(
      signedRequest("ping", JSON.parse(fixture("ping")), {
        deliveryId: newDeliveryId(),
        secret: "some-other-secret-value",
      }),
    );
    expect(other.status).toBe(401);
  });
});

describe("POST /webhook: recording and dispatch", () => {
  it("answers ping with 200 and enqueues nothing", async () => {
    const id = newDeliveryId();
    const response = await callAction(
      signedRequest("ping", JSON.parse(fixture("ping")), { deliveryId: id }),
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "pong", delivery: id });
    expect((await deliveryRows(id))[0]).toMatchObject({ event: "ping", status: "processed" });
    expect(await tasks()).toHaveLength(0);
  });

  it("acknowledges other events and actions, and comments that cannot be commands, without a task", async () => {
    const cases: Array<[string, unknown]> = [
      ["push", { ref: "refs/heads/main", installation: { id: 4242 } }],
      ["issues", { action: "opened", installation: { id: 4242 } }],
      ["issue_comment", JSON.parse(fixture("issue_comment.edited"))],
      ["issue_comment", commentPayload("/bisect v1 main -- x", { action: "deleted" })],
      ["issue_comment", commentPayload("Thanks, I see it too.")],
      [
        "issue_comment",
        commentPayload("/bisect v1.4.0 main -- npm test", {
          user: { login: "bisect-bot[bot]", id: 42001001, type: "Bot" },
        }),
      ],
      ["installation", { action: "something_new", installation: { id: 4242 } }],
    ];
    for (const [event, payload] of cases) {
      const id = newDeliveryId();
      const response = await callAction(signedRequest(event, payload, { deliveryId: id }));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: "ignored", delivery: id });
      expect((await deliveryRows(id))[0]).toMatchObject({
        event,
        status: "ignored",
        payload: null,
      });
    }
    expect(await tasks()).toHaveLength(0);
  });

  it("acknowledges any well-formed event name, digits included, and refuses malformed ones", async () => {
    for (const event of [
      "projects_v2_item",
      "projects_v2",
      "github_app_authorization",
      "Check_Run",
    ]) {
      const id = newDeliveryId();
      const response = await callAction(
        signedRequest(event, { action: "edited", installation: { id: 4242 } }, { deliveryId: id }),
      );
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: "ignored", delivery: id });
      expect((await deliveryRows(id))[0]).toMatchObject({ event, status: "ignored" });
    }
    for (const event of ["", "issue comment", "issues;drop", "_x", "x".repeat(65), "café"]) {
      const id = newDeliveryId();
      const response = await callAction(
        signedRequest(
          "ping",
          { zen: "x" },
          { deliveryId: id, headers: { "x-github-event": event } },
        ),
      );
      expect(response.status, event).toBe(400);
      expect(await response.json()).toEqual({ error: "missing or malformed X-GitHub-Event" });
      expect(await deliveryRows(id)).toEqual([]);
    }
  });

  it("records each handled event with its task in one go", async () => {
    for (const name of [
      "installation.created",
      "installation.suspend",
      "installation_repositories.added",
      "issue_comment.created",
    ]) {
      const [event] = name.split(".");
      const id = newDeliveryId();
      const response = await callAction(
        signedRequest(event!, null, { raw: fixture(name), deliveryId: id }),
      );
      expect(response.status).toBe(202);
      expect((await deliveryRows(id))[0]).toMatchObject({
        event,
        status: "received",
        installationId: 4242,
      });
    }
    expect(await tasks()).toHaveLength(4);
    await db.current.knex.raw("delete from graphile_worker._private_jobs");
    await db.current.knex("webhook_deliveries").delete();
  });

  it("records a delivery sent five times once, counts the redeliveries, and enqueues one task", async () => {
    const id = newDeliveryId();
    const raw = JSON.stringify(userComment(f, "/bisect v1.4.0 main -- ./test.sh"));
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push(
        (await callAction(signedRequest("issue_comment", null, { raw, deliveryId: id }))).status,
      );
    expect(statuses).toEqual([202, 200, 200, 200, 200]);
    expect(await deliveryRows(id)).toMatchObject([{ redeliveries: 4, status: "received" }]);
    expect((await tasks()).map((t) => t.payload)).toEqual([{ deliveryId: id }]);

    // Concurrent redeliveries race on the same row and still yield one task.
    const racing = newDeliveryId();
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        callAction(signedRequest("issue_comment", null, { raw, deliveryId: racing })),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 202]);
    expect(await tasks()).toHaveLength(2);

    // Handled by the task: the one comment yields one job, whatever the number of deliveries.
    const handled = await handleQueuedDeliveries(ctx);
    expect(handled.map((h) => h.status)).toEqual(["processed", "ignored"]);
    expect(await BisectJob.query(db.current.knex).where({ source: "github" })).toHaveLength(1);
  });

  it("makes one job of the same comment delivered twice under different ids", async () => {
    const payload = userComment(f, "/bisect v1.4.0 main -- ./test.sh");
    const first = newDeliveryId();
    const second = newDeliveryId();
    expect(
      (await send(config, db.current.knex, "issue_comment", payload, { deliveryId: first })).status,
    ).toBe(202);
    expect(
      (await send(config, db.current.knex, "issue_comment", payload, { deliveryId: second }))
        .status,
    ).toBe(202);
    await handleQueuedDeliveries(ctx);
    const jobs = await BisectJob.query(db.current.knex).where({
      triggerCommentId: payload.comment.id,
    });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.deliveryId).toBe(first);
    // One status comment for it, however many deliveries.
    expect(
      f.standIn
        .comments("acme", "widgets", 17)
        .filter((c) => c.body.includes(`[Bisection ${jobs[0]!.id}]`)),
    ).toHaveLength(1);
  });

  it("keeps a comment with a NUL character (jsonb cannot) and still verifies it", async () => {
    const raw = JSON.stringify(commentPayload("/bisect v1.4.0 main -- printf 'a\u0000b'"));
    expect(raw).toContain("\\u0000");
    const id = newDeliveryId();
    expect(
      (await callAction(signedRequest("issue_comment", null, { raw, deliveryId: id }))).status,
    ).toBe(202);
    const [row] = await deliveryRows(id);
    expect(row.payload.comment.body).toBe("/bisect v1.4.0 main -- printf 'a\ufffdb'");
    // Only what the task reads is kept of a comment delivery.
    expect(row.payload.repository).toEqual({
      id: 700001,
      name: "widgets",
      private: true,
      default_branch: "main",
      owner: { login: "acme", id: 9001, type: "Organization" },
    });
    expect(row.payload.comment.html_url).toBeUndefined();
  });
});

describe("recording under load (group commit)", () => {
  const row = (id: string, over: Partial<DeliveryRow> = {}): DeliveryRow => ({
    id,
    event: "issue_comment",
    action: "created",
    installationId: 4242,
    payload: '{"n": 1}',
    status: "received",
    enqueue: true,
    ...over,
  });

  it("a burst with the same deliveries several times: one row and one task per delivery", async () => {
    await db.current.knex.raw("delete from graphile_worker._private_jobs");
    const raws = Array.from({ length: 12 }, (_, i) => ({
      id: newDeliveryId(),
      raw: JSON.stringify(userComment(f, `/bisect v1.4.0 main -- ./test.sh ${i}`)),
    }));
    // Each delivery three times, all at once: copies land in the same batch or in later ones.
    const requests = [...raws, ...raws, ...raws].map(({ id, raw }) =>
      callAction(signedRequest("issue_comment", null, { raw, deliveryId: id })),
    );
    const statuses = (await Promise.all(requests)).map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(12);
    expect(statuses.filter((s) => s === 200)).toHaveLength(24);
    const rows = await db.current.knex("webhook_deliveries").whereIn(
      "id",
      raws.map((r) => r.id),
    );
    expect(rows).toHaveLength(12);
    expect(rows.every((r) => r.redeliveries === 2)).toBe(true);
    expect((await tasks()).map((t) => t.payload.deliveryId).sort()).toEqual(
      raws.map((r) => r.id).sort(),
    );
    await db.current.knex.raw("delete from graphile_worker._private_jobs");
  });

  it("a row the database refuses fails alone; the rest of its batch is recorded", async () => {
    const recorder = new DeliveryRecorder(db.current.knex, "github__handle_delivery", 1);
    const ids = Array.from({ length: 5 }, () => newDeliveryId());
    // The first is written at once; the others wait and go together, the bad one among them.
    const results = await Promise.allSettled([
      recorder.record(row(ids[0]!)),
      recorder.record(row(ids[1]!)),
      recorder.record(row(ids[2]!, { payload: "{not json" })),
      recorder.record(row(ids[3]!, { enqueue: false, status: "ignored", payload: null })),
      recorder.record(row(ids[1]!)),
    ]);
    expect(results.map((r) => (r.status === "fulfilled" ? r.value : "rejected"))).toEqual([
      true,
      true,
      "rejected",
      true,
      false,
    ]);
    const rows = await db.current
      .knex("webhook_deliveries")
      .whereIn("id", ids)
      .orderBy("receivedAt");
    expect(rows.map((r) => [r.id, r.redeliveries])).toEqual(
      expect.arrayContaining([
        [ids[0], 0],
        [ids[1], 1],
        [ids[3], 0],
      ]),
    );
    expect(rows).toHaveLength(3);
    expect((await tasks()).map((t) => t.payload.deliveryId).sort()).toEqual(
      [ids[0], ids[1]].sort(),
    );
    await db.current.knex.raw("delete from graphile_worker._private_jobs");
  });

  it("stores what jsonb cannot hold (NUL, unpaired surrogates) with U+FFFD", () => {
    expect(storablePayload('{"a":"x"}')).toBe('{"a":"x"}');
    expect(
      JSON.parse(storablePayload('{"a":"x\\u0000y","b":"\\ud800z","c":"\\ud83d\\ude00"}')),
    ).toEqual({
      a: "x\ufffdy",
      b: "\ufffdz",
      c: "😀",
    });
  });
});
