// Replay: a comment delivered again long after the 7-day delivery dedupe window (a manual
// redelivery, or a captured delivery sent again) must not start a second job.
import { describe, expect, it } from "vitest";
import { BisectJob } from "../../db/models";
import { useTestDatabase } from "../helpers/database";
import { useInstalledApp } from "../github/installed";
import { REPO, userComment } from "../github/support";

const db = useTestDatabase();
const app = useInstalledApp(db);
const knex = () => db.current.knex;
const deliver = app.deliver;

describe("a comment delivered again after the dedupe window", () => {
  for (const body of ["/bisect v1.4.0 main -- ./test.sh", "/bisect retry"]) {
    it(`starts nothing new: ${body}`, async () => {
      const issue = 4000 + body.length;
      if (body === "/bisect retry") {
        await deliver(
          "issue_comment",
          userComment(app.f, "/bisect v1.4.0 main -- ./test.sh", { issue }),
        );
        await knex()("bisectJobs")
          .where({ issueNumber: issue })
          .update({ status: "failed", finishedAt: new Date() });
      }
      const payload = userComment(app.f, body, { issue });
      await deliver("issue_comment", payload);
      const jobs = async () =>
        BisectJob.query(knex()).where({ issueNumber: issue, repositoryId: REPO.id });
      const before = await jobs();
      const bot = () =>
        app.f.standIn
          .comments(REPO.owner, REPO.name, issue)
          .filter((c) => c.user === "bisect-bot[bot]").length;
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
