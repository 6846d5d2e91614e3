// Fuzzing the real webhook handler on PostgreSQL: 10,000 malformed deliveries (bodies, event and
// delivery headers, signatures, content types, methods), each with at least one defect. None
// may get a 5xx, none may be recorded or queued, and the handler still takes a good delivery
// afterwards. Called in-process, as the route does (app/routes/webhook.ts).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/env";
import { useTestDatabase } from "../tests/helpers/database";
import { makeAppKey } from "../tests/github-stand-in/server";
import { signWebhook } from "../tests/github-stand-in/webhook";
import { receiveWebhook } from "./webhook.server";

const db = useTestDatabase();
const SECRET = "fuzz-webhook-secret-0123456789";
const RUNS = 10_000;

/** Header values a client can send at all: visible Latin-1, spaces and tabs, no CR/LF/NUL. */
const headerText = (maxLength: number) =>
  fc.string({
    unit: fc
      .integer({ min: 0x20, max: 0xff })
      .filter((c) => c !== 0x7f)
      .map((c) => String.fromCharCode(c)),
    maxLength,
  });

const goodEvent = fc.constantFrom(
  "issue_comment",
  "installation",
  "installation_repositories",
  "ping",
  "push",
  "projects_v2_item",
);
const badEvent = fc.oneof(
  fc.constant(""),
  // Judged as sent: a client's surrounding spaces are dropped on the way.
  headerText(80).filter((e) => !/^[A-Za-z0-9][A-Za-z0-9_]{0,63}$/.test(e.trim())),
  fc.constantFrom("issue comment", "issues;drop table", "_x", "x".repeat(65), "é"),
);
const goodDelivery = fc.uuid();
const badDelivery = fc.oneof(
  fc.constant(""),
  headerText(120).filter((d) => !/^[A-Za-z0-9-]{1,100}$/.test(d.trim())),
  fc.constant("a".repeat(101)),
);

const eventObject = fc.record({
  action: fc.constantFrom("created", "deleted", "added", "edited"),
  installation: fc.record({ id: fc.integer({ min: 1, max: 1e6 }) }),
  comment: fc.record({
    body: fc.constantFrom("/bisect v1 main -- npm test", "hello"),
    user: fc.record({ login: fc.constant("alice") }),
  }),
});
const badBody = fc.oneof(
  fc.string({ maxLength: 300 }), // mostly not JSON
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.json().filter((j) => {
    const v = JSON.parse(j) as unknown;
    return typeof v !== "object" || v === null || Array.isArray(v);
  }),
  // Objects whose envelope has the wrong types.
  fc.record({ action: fc.oneof(fc.integer(), fc.boolean()) }).map((o) => JSON.stringify(o)),
  fc
    .record({ installation: fc.oneof(fc.string(), fc.record({ id: fc.string() }), fc.double()) })
    .map((o) => JSON.stringify(o)),
  fc
    .record({
      comment: fc.oneof(
        fc.string(),
        fc.record({ body: fc.integer() }),
        fc.record({ user: fc.record({ login: fc.integer() }) }),
      ),
    })
    .map((o) => JSON.stringify(o)),
  eventObject.map((o) => JSON.stringify(o).slice(0, -1)), // cut short
  eventObject.map((o) => `${JSON.stringify(o)},`),
  fc.constantFrom("", "null", "[]", "{", "\ufeff{}", '{"a":1}{"b":2}', "undefined", "NaN"),
);
const goodBody = eventObject.map((o) => JSON.stringify(o));

type SignatureKind = "valid" | "missing" | "wrong-secret" | "other-body" | "garbage";
const signatureKind = fc.constantFrom<SignatureKind>(
  "valid",
  "valid",
  "valid",
  "missing",
  "wrong-secret",
  "other-body",
  "garbage",
);

const delivery = fc
  .record({
    // Which parts are broken; at least one is.
    defects: fc
      .record({
        body: fc.boolean(),
        event: fc.boolean(),
        delivery: fc.boolean(),
        signature: fc.boolean(),
      })
      .filter((d) => d.body || d.event || d.delivery || d.signature),
    goodBody,
    badBody,
    goodEvent,
    badEvent,
    goodDelivery,
    badDelivery,
    signature: signatureKind.filter((s) => s !== "valid"),
    garbageSignature: fc.oneof(
      headerText(100),
      fc
        .string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 })
        .map((h) => `sha256=${h}`),
      fc.constant("sha1=0000"),
    ),
    contentType: fc.option(
      fc.oneof(
        fc.constantFrom(
          "application/json",
          "application/x-www-form-urlencoded",
          "text/plain",
          "multipart/form-data; boundary=x",
        ),
        headerText(60),
      ),
      { nil: undefined },
    ),
    method: fc.constantFrom("POST", "POST", "POST", "POST", "PUT", "GET"),
    dropHeader: fc.constantFrom(null, "x-github-event", "x-github-delivery"),
  })
  .map((c) => {
    const body = c.defects.body ? c.badBody : c.goodBody;
    const signature: SignatureKind = c.defects.signature ? c.signature : "valid";
    const headers: Record<string, string> = {
      "x-github-event": c.defects.event ? c.badEvent : c.goodEvent,
      "x-github-delivery": c.defects.delivery ? c.badDelivery : c.goodDelivery,
    };
    if (c.dropHeader && (c.defects.event || c.defects.delivery)) delete headers[c.dropHeader];
    if (signature === "valid") headers["x-hub-signature-256"] = signWebhook(body, SECRET);
    if (signature === "wrong-secret")
      headers["x-hub-signature-256"] = signWebhook(body, "not-the-secret");
    if (signature === "other-body")
      headers["x-hub-signature-256"] = signWebhook(`${body} `, SECRET);
    if (signature === "garbage") headers["x-hub-signature-256"] = c.garbageSignature;
    if (c.contentType !== undefined) headers["content-type"] = c.contentType;
    return { method: c.method, body, headers, signature };
  });

describe("POST /webhook under fuzzing", () => {
  it(`answers ${RUNS} malformed deliveries without a 5xx, records none, and still works after`, async () => {
    const config = loadConfig({
      DATABASE_URL: db.current.url,
      LOG_LEVEL: "error",
      GITHUB_APP_ID: "1001",
      GITHUB_APP_SLUG: "bisect-bot",
      GITHUB_APP_PRIVATE_KEY: makeAppKey(),
      GITHUB_WEBHOOK_SECRET: SECRET,
      GITHUB_CLIENT_ID: "Iv23liTestClient",
      GITHUB_CLIENT_SECRET: "client-secret",
    });
    const k = db.current.knex;
    // Every refusal audited here (the per-minute bound has its own test).
    const deps = { config, db: () => k, auditPerMinute: Infinity };
    const count = async (table: string) =>
      Number((await k(table).count<{ count: string }[]>("* as count"))[0]!.count);
    const before = {
      audit: await count("audit_log"),
      deliveries: await count("webhook_deliveries"),
      jobs: await count("bisect_jobs"),
    };
    const statuses = new Map<number, number>();
    let unsigned = 0;

    await fc.assert(
      fc.asyncProperty(delivery, async (c) => {
        const request = new Request("http://localhost/webhook", {
          method: c.method,
          headers: c.headers,
          ...(c.method === "GET" ? {} : { body: c.body }),
        });
        const response = await receiveWebhook(request, deps);
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        // An empty body cannot carry a valid signature either.
        if (c.method === "POST" && (c.signature !== "valid" || c.body === "")) unsigned++;
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
        expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      }),
      { numRuns: RUNS },
    );

    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(RUNS);
    // Every gate was reached: the method, the signature, and the checks behind it.
    expect([...statuses.keys()].sort()).toEqual([400, 401, 405]);
    expect(statuses.get(400)).toBeGreaterThan(RUNS / 4);
    expect(await count("webhook_deliveries")).toBe(before.deliveries);
    expect(await count("bisect_jobs")).toBe(before.jobs);
    expect(
      await k
        .raw("select count(*)::int as n from graphile_worker._private_jobs")
        .then((r) => r.rows[0].n),
    ).toBe(0);
    // Only what the handler records by design: one audit entry per delivery with a bad signature.
    const audits = await k("audit_log").orderBy("id").offset(before.audit).pluck("action");
    expect(audits).toHaveLength(unsigned);
    expect(new Set(audits)).toEqual(
      new Set(
        ["webhook.signature_invalid", "webhook.signature_missing"].filter((a) =>
          audits.includes(a),
        ),
      ),
    );

    // Still serving: a good delivery is recorded and queued.
    const body = JSON.stringify({
      action: "created",
      installation: { id: 4242 },
      repositories: [],
    });
    const good = await receiveWebhook(
      new Request("http://localhost/webhook", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "installation",
          "x-github-delivery": "fuzz-after-0001",
          "x-hub-signature-256": signWebhook(body, SECRET),
        },
        body,
      }),
      deps,
    );
    expect(good.status).toBe(202);
    expect(await count("webhook_deliveries")).toBe(before.deliveries + 1);
  }, 300_000);
});
