// Replay: a comment delivered again long after the 7-day delivery dedupe window (a manual
// redelivery, or a captured delivery sent again) must not start a second job.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../config/env";
import { BisectJob } from "../../db/models";
import type { WorkerContext } from "../../jobs/worker-context";
import { useTestDatabase } from "../helpers/database";
import {
  handleQueuedDeliveries,
  newDeliveryId,
  REPO,
  send,
  startFixture,
  testConfig,
  testContext,
  userComment,
  type Fixture,
} from "../github/support";

const db = useTestDatabase();
let f: Fixture;
let config: Config;
let ctx: WorkerContext;
const knex = () => db.current.knex;

async function deliver(event: string, payload: unknown) {
  const response = await send(config, knex(), event, payload, { deliveryId: newDeliveryId() });
  expect(response.status).toBe(202);
  return handleQueuedDeliveries(ctx);
}

beforeAll(async () => {
  f = await startFixture();
  config = testConfig(f, db.current.url);
  ctx = testContext(config, knex(), db.current.url);
  await deliver(
    "installation",
    JSON.parse(readFileSync("tests/fixtures/webhooks/installation.created.json", "utf8")),
  );
});

afterAll(async () => {
  await f?.close();
});

describe("a comment delivered again after the dedupe window", () => {
  for (const body of ["/bisect v1.4.0 main -- ./test.sh", "/bisect retry"]) {
    it(`starts nothing new: ${body}`, async () => {
      const issue = 4000 + body.length;
      if (body === "/bisect retry") {
        await deliver(
          "issue_comment",
          userComment(f, "/bisect v1.4.0 main -- ./test.sh", { issue }),
        );
        await knex()("bisectJobs")
          .where({ issueNumber: issue })
          .update({ status: "failed", finishedAt: new Date() });
      }
      const payload = userComment(f, body, { issue });
      await deliver("issue_comment", payload);
      const jobs = async () =>
        BisectJob.query(knex()).where({ issueNumber: issue, repositoryId: REPO.id });
      const before = await jobs();
      const bot = () =>
        f.standIn.comments(REPO.owner, REPO.name, issue).filter((c) => c.user === "bisect-bot[bot]")
          .length;
      const comments = bot();
      // Eight days later the first delivery is out of the dedupe window; the same comment arrives again.
      await knex()("webhookDeliveries").update({
        receivedAt: knex().raw("now() - interval '8 days'"),
      });
      await deliver("issue_comment", payload);
      expect(await jobs()).toHaveLength(before.length);
      expect(bot()).toBe(comments);
    });
  }
});
