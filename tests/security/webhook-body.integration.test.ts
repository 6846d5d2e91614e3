// Webhook bodies are read as they stream in: over GitHub's 25 MB (or the operator's smaller
// WEBHOOK_MAX_BODY_BYTES) a delivery is refused with 413 before its body is read, and bodies
// that carry a well-formed signature header — which anyone can send — are held only within a
// process-wide budget (WEBHOOK_BODY_BUDGET_BYTES): past it, 503 at once, nothing read.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { receiveWebhook } from "../../app/webhook.server";
import { useTestDatabase } from "../helpers/database";
import { webhookHeaders } from "../github-stand-in/webhook";
import {
  commentPayload,
  newDeliveryId,
  startFixture,
  testConfig,
  WEBHOOK_SECRET,
  type Fixture,
} from "../github/support";

const db = useTestDatabase();
let f: Fixture;

beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => {
  await f?.close();
});

const FAKE_SIGNATURE = `sha256=${"0".repeat(64)}`;
const deliveryRows = () => db.current.knex("webhook_deliveries");

/** A body the test feeds by hand; `pulled` counts how often the server asked for more. */
function heldBody() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const state = { pulled: 0 };
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    pull() {
      state.pulled++;
    },
  });
  return {
    stream,
    state,
    send: (bytes: number) => controller.enqueue(new Uint8Array(bytes).fill(0x20)),
    end: () => controller.close(),
  };
}

function post(body: BodyInit, headers: Record<string, string>): Request {
  return new Request("http://bisect.test/webhook", {
    method: "POST",
    body,
    headers: {
      "x-github-event": "issue_comment",
      "x-github-delivery": newDeliveryId(),
      ...headers,
    },
    duplex: "half",
  } as RequestInit);
}

/** A correctly signed /bisect comment delivery of about `size` bytes. */
function signedComment(size: number): Request {
  const payload = commentPayload("/bisect v1.4.0 main -- ./test.sh");
  const raw = JSON.stringify({ ...payload, padding: "" });
  const body = raw.replace(
    '"padding":""',
    `"padding":"${"x".repeat(Math.max(0, size - raw.length))}"`,
  );
  return new Request("http://bisect.test/webhook", {
    method: "POST",
    body,
    headers: webhookHeaders("issue_comment", newDeliveryId(), body, WEBHOOK_SECRET),
  });
}

describe("webhook bodies", () => {
  it("over GitHub's 25 MB: 413 from Content-Length, before the body is read", async () => {
    const config = testConfig(f, db.current.url);
    const body = heldBody();
    const response = await receiveWebhook(
      post(body.stream, {
        "content-length": String(25_000_001),
        "x-hub-signature-256": FAKE_SIGNATURE,
      }),
      { config, db: () => db.current.knex },
    );
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ error: "payload too large", limit: 25_000_000 });
    expect(body.state.pulled).toBeLessThanOrEqual(1); // a stream asks once on its own when made
  });

  it("over the operator's smaller limit: 413 even when correctly signed, nothing recorded", async () => {
    const config = testConfig(f, db.current.url, { WEBHOOK_MAX_BODY_BYTES: "65536" });
    const deps = { config, db: () => db.current.knex };
    const before = (await deliveryRows()).length;
    expect((await receiveWebhook(signedComment(70_000), deps)).status).toBe(413);
    expect((await deliveryRows()).length).toBe(before);
    // Under it, the same kind of delivery is taken.
    expect((await receiveWebhook(signedComment(30_000), deps)).status).toBe(202);
    expect((await deliveryRows()).length).toBe(before + 1);
  });

  it("holds only so many bytes at once: past the budget, 503 at once, and the budget comes back", async () => {
    const config = testConfig(f, db.current.url, { WEBHOOK_BODY_BUDGET_BYTES: "3000" });
    const deps = { config, db: () => db.current.knex };
    const held = [heldBody(), heldBody()];
    // Two uploads of 1400 bytes each in flight, their bodies not yet complete.
    const pending = held.map((h) => {
      const answer = receiveWebhook(
        post(h.stream, { "content-length": "1400", "x-hub-signature-256": FAKE_SIGNATURE }),
        deps,
      );
      h.send(700);
      return answer;
    });
    const third = heldBody();
    const refused = await receiveWebhook(
      post(third.stream, { "content-length": "1400", "x-hub-signature-256": FAKE_SIGNATURE }),
      deps,
    );
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("5");

    // A chunked upload (no Content-Length) is held to the budget as it grows.
    const chunked = heldBody();
    const growing = receiveWebhook(
      post(chunked.stream, { "x-hub-signature-256": FAKE_SIGNATURE }),
      deps,
    );
    chunked.send(100);
    chunked.send(500);
    expect((await growing).status).toBe(503);

    for (const h of held) {
      h.send(700);
      h.end();
    }
    expect((await Promise.all(pending)).map((r) => r.status)).toEqual([401, 401]);
    // Given back: a delivery of the same size fits again.
    const again = heldBody();
    const answer = receiveWebhook(
      post(again.stream, { "content-length": "1400", "x-hub-signature-256": FAKE_SIGNATURE }),
      deps,
    );
    again.send(1400);
    again.end();
    expect((await answer).status).toBe(401);
  });
});
