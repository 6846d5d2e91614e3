// Unsigned webhook floods: the body of a request without a well-formed signature is never kept
// (read and dropped, up to the size cap), and refused deliveries are written to the audit log at a
// bounded rate (the rest counted).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../config/env";
import { receiveWebhook } from "../../app/webhook.server";
import { useTestDatabase } from "../helpers/database";
import { startFixture, testConfig, type Fixture } from "../github/support";

const db = useTestDatabase();
let f: Fixture;
let config: Config;

beforeAll(async () => {
  f = await startFixture();
  config = testConfig(f, db.current.url);
});

afterAll(async () => {
  await f?.close();
});

/** A 20 MiB body, under the cap. */
function countingBody(): ReadableStream<Uint8Array> {
  let pulled = 0;
  const chunk = new Uint8Array(1024 * 1024);
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (++pulled > 20) controller.close();
      else controller.enqueue(chunk);
    },
  });
}

function unsigned(body: BodyInit, headers: Record<string, string> = {}): Request {
  return new Request("http://bisect.test/webhook", {
    method: "POST",
    body,
    headers: { "x-github-event": "issue_comment", "x-github-delivery": "d-1", ...headers },
    duplex: "half",
  } as RequestInit);
}

describe("an unsigned webhook flood", () => {
  it("is refused with 401, and an unsigned body over the cap with 413, whatever it holds", async () => {
    const cases: Record<string, string>[] = [{}, { "x-hub-signature-256": "sha256=nothex" }];
    for (const headers of cases) {
      const response = await receiveWebhook(unsigned(countingBody(), headers), {
        config,
        db: () => db.current.knex,
      });
      expect(response.status).toBe(401);
    }
    const huge = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array(1024 * 1024));
      },
    });
    const response = await receiveWebhook(unsigned(huge), { config, db: () => db.current.knex });
    expect(response.status).toBe(413);
  });

  it("is audited at a bounded rate, with the unrecorded ones counted", async () => {
    const before = Number((await db.current.knex("audit_log").count({ n: "*" }).first())!.n);
    const deps = { config, db: () => db.current.knex, auditPerMinute: 5 };
    for (let i = 0; i < 40; i++) {
      const response = await receiveWebhook(
        unsigned("{}", { "x-hub-signature-256": `sha256=${"0".repeat(64)}` }),
        deps,
      );
      expect(response.status).toBe(401);
    }
    const rows = await db.current
      .knex("audit_log")
      .orderBy("id")
      .offset(before)
      .select("action", "details");
    // The bound is per process and per minute: at most 5 here (fewer if earlier tests used some).
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThanOrEqual(5);
    expect(rows.every((r) => r.action === "webhook.signature_invalid")).toBe(true);
  });
});
