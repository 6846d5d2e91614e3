// Handling deliveries end to end on the GitHub side: signed webhook → recorded delivery → the
// github__handle_delivery service → rows in PostgreSQL and comments/reactions on the stand-in.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Config } from "../../config/env";
import {
  AuditLogEntry,
  BisectJob,
  Installation,
  Repository,
  UsageStat,
  monthOf,
} from "../../db/models";
import { handleIssueComment } from "../../jobs/github/comments";
import { PURPOSE_PERMISSIONS } from "../../jobs/github/app-client";
import { issueCommentEvent } from "../../jobs/github/payloads";
import type { WorkerContext } from "../../jobs/worker-context";
import { useTestDatabase } from "../helpers/database";
import { queuedJobs } from "../helpers/queue";
import {
  commentPayload,
  handleQueuedDeliveries,
  INSTALLATION_ID,
  newDeliveryId,
  REPO,
  send,
  startFixture,
  testConfig,
  testContext,
  userComment,
  type CommentOptions,
  type Fixture,
} from "./support";

const db = useTestDatabase();
let f: Fixture;
let config: Config;
let ctx: WorkerContext;
let issues = 100;

const fixture = (name: string) =>
  JSON.parse(readFileSync(`tests/fixtures/webhooks/${name}.json`, "utf8"));
const knex = () => db.current.knex;

async function deliver(event: string, payload: unknown) {
  const response = await send(config, knex(), event, payload, { deliveryId: newDeliveryId() });
  expect(response.status).toBe(202);
  const handled = await handleQueuedDeliveries(ctx);
  expect(handled).toHaveLength(1);
  return handled[0]!;
}

/** Someone comments on a fresh issue (unless one is given); the bot handles the delivery. */
async function comment(body: string, options: CommentOptions = {}) {
  const issue = options.issue ?? ++issues;
  const payload = userComment(f, body, { ...options, issue });
  const handled = await deliver("issue_comment", payload);
  const replies = f.standIn
    .comments(REPO.owner, REPO.name, issue)
    .filter((c) => c.user === "bisect-bot[bot]");
  const reactions = f.standIn.reactions(REPO.owner, REPO.name, { commentId: payload.comment.id });
  return {
    issue,
    payload,
    handled,
    replies,
    reactions,
    job: await BisectJob.query(knex()).findOne({ triggerCommentId: payload.comment.id }),
  };
}

beforeAll(async () => {
  f = await startFixture();
  config = testConfig(f, db.current.url);
  ctx = testContext(config, knex(), db.current.url);
});

// Each test starts from a fresh installation of the app (no jobs, usage, queued tasks or audit
// entries), whatever ran before it: the tests pass in any order.
beforeEach(async () => {
  const k = knex();
  await k.raw("delete from graphile_worker._private_jobs");
  for (const table of [
    "bisect_jobs",
    "usage_stats",
    "webhook_deliveries",
    "audit_log",
    "repositories",
    "installations",
  ])
    await k(table).delete();
  await deliver("installation", fixture("installation.created"));
  f.standIn.clearRequests();
});

afterEach(() => {
  try {
    f.standIn.assertNoUnexpected();
  } finally {
    f.standIn.clearRequests();
    f.standIn.clearFaults();
    f.standIn.resetAllowed();
  }
});

afterAll(async () => {
  await f?.close();
});

describe("a /bisect command", () => {
  it("from a maintainer: a job, 👀, one queued status comment, usage counted, least-privilege tokens", async () => {
    const { replies, reactions, job, handled } = await comment("/bisect v1.4.0 main -- ./test.sh");
    expect(handled).toMatchObject({ status: "processed" });
    expect(job).toMatchObject({
      source: "github",
      status: "queued",
      installationId: INSTALLATION_ID,
      repositoryId: REPO.id,
      goodRef: "v1.4.0",
      badRef: "main",
      command: "./test.sh",
      // From .github/bisect.yml at main.
      setupCommand: "echo setting up",
      options: {
        runs: 1,
        parallel: 1,
        firstParent: false,
        network: false,
        timeoutSeconds: 300,
        maxDurationSeconds: 1800,
        pathspec: ["version.txt", "test.sh"],
      },
      requesterLogin: "alice",
    });
    expect(reactions).toMatchObject([{ content: "eyes", user: "bisect-bot[bot]" }]);
    expect(replies).toHaveLength(1);
    expect(job!.statusCommentId).toBe(replies[0]!.id);
    expect(replies[0]!.body).toContain(
      `[Bisection ${job!.id}](https://bisect.example.com/dashboard/jobs/${job!.id}) is queued`,
    );
    expect(replies[0]!.body).toContain("Quota: 1 of 50 bisections used this month (free plan).");
    expect(replies[0]!.body).toContain(`https://bisect.example.com/dashboard/jobs/${job!.id}`);
    expect(
      (
        await UsageStat.query(knex()).findOne({
          installationId: INSTALLATION_ID,
          month: monthOf(new Date()),
        })
      )?.jobs,
    ).toBe(1);
    expect((await queuedJobs(knex(), "bisect__prepare")).map((j) => j.payload)).toContainEqual({
      jobId: job!.id,
    });
    expect(
      await AuditLogEntry.query(knex()).where({ action: "job.create", subjectId: String(job!.id) }),
    ).toHaveLength(1);

    // The permission was confirmed with GitHub; every token was for this one repository only.
    expect(
      f.standIn.requests({
        method: "GET",
        path: "/api/v3/repos/:owner/:repo/collaborators/:username/permission",
      }),
    ).toHaveLength(1);
    const tokens = f.standIn.tokensIssued();
    expect(tokens.length).toBeGreaterThan(0);
    for (const t of tokens) {
      expect(t.repositories).toEqual(["acme/widgets"]);
      expect(t.permissions).toEqual(PURPOSE_PERMISSIONS.comments);
    }
  });

  it("without an image or a setup in bisect.yml: picks them from the files at the bad revision, and says so", async () => {
    // A branch of a Node project with no .github/bisect.yml (the file first comes with main's last commit).
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", f.repoPath, ...args], {
        encoding: "utf8",
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: "t",
          GIT_AUTHOR_EMAIL: "t@example.com",
          GIT_COMMITTER_NAME: "t",
          GIT_COMMITTER_EMAIL: "t@example.com",
        },
      }).trim();
    if (!git("branch", "--list", "node-app")) {
      const tree = mkdtempSync(path.join(tmpdir(), "node-app-"));
      try {
        git("worktree", "add", "-q", "-b", "node-app", tree, f.shas[4]!);
        writeFileSync(
          path.join(tree, "package.json"),
          '{"name":"widgets","scripts":{"test":"node test.js"}}\n',
        );
        writeFileSync(
          path.join(tree, "package-lock.json"),
          '{"name":"widgets","lockfileVersion":3}\n',
        );
        execFileSync("git", ["-C", tree, "add", "-A"]);
        execFileSync("git", [
          "-C",
          tree,
          "-c",
          "user.name=t",
          "-c",
          "user.email=t@example.com",
          "commit",
          "-qm",
          "A Node project",
        ]);
      } finally {
        git("worktree", "remove", "--force", tree);
      }
    }
    const { replies, job } = await comment("/bisect v1.4.0 node-app -- npm test");
    expect(job).toMatchObject({
      badRef: "node-app",
      setupCommand: "npm ci",
      options: {
        image: "node:20-bookworm",
        // npm ci downloads: the setup is online, the test is not.
        network: false,
        setupNetwork: true,
        zeroConfig: {
          ecosystem: "Node (npm)",
          file: "package-lock.json",
          image: "node:20-bookworm",
          network: "setup",
        },
      },
    });
    expect(replies).toHaveLength(1);
    expect(replies[0]!.body).toContain(
      "this looks like a Node (npm) project (`package-lock.json`), so the test runs in `node:20-bookworm` after the setup `npm ci`",
    );
    expect(replies[0]!.body).toContain("the test runs offline");
    expect(replies[0]!.body).toContain("To choose otherwise, set `image:`");
    // A repository that configures a setup keeps it: nothing is picked.
    const configured = await comment("/bisect v1.4.0 main -- ./test.sh");
    expect(configured.job!.options.zeroConfig).toBeUndefined();
    expect(configured.job!.setupCommand).toBe("echo setting up");
  });

  it("caps a timeout above the plan's maximum and says so", async () => {
    const { job, replies } = await comment(
      "/bisect v1.4.0 main --timeout 2h --runs 3 --parallel 2 --first-parent -- ./test.sh",
    );
    expect(job!.options).toMatchObject({
      timeoutSeconds: 1800,
      maxDurationSeconds: 1800,
      runs: 3,
      parallel: 2,
      firstParent: true,
    });
    expect(replies[0]!.body).toContain("30m per run (capped from 2h by the free plan)");
  });

  it("takes the test command from a code block", async () => {
    const { job } = await comment(
      "Let's find it:\n\n/bisect v1.4.0 main\n```sh\n./test.sh\necho done\n```",
    );
    expect(job!.command).toBe("./test.sh\necho done");
  });

  it("malformed: a reply that says exactly what is wrong, with an example, and no job", async () => {
    const { replies, reactions, job } = await comment("/bisect v1.4.0 --runs 9 -- ./test.sh");
    expect(job).toBeUndefined();
    expect(reactions).toMatchObject([{ content: "eyes" }]);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.body).toMatch(/^@alice I could not start that: Missing the bad revision/);
    expect(replies[0]!.body).toContain('/bisect v1.4.0 main -- npm test -- -t "parses dates"');
  });

  it("refuses an outsider politely, without asking GitHub about them", async () => {
    const { replies, job } = await comment("/bisect v1.4.0 main -- ./test.sh", {
      user: { login: "mallory", id: 9666 },
      association: "NONE",
    });
    expect(job).toBeUndefined();
    expect(replies[0]!.body).toMatch(/^Sorry, only people with write access to this repository/);
    expect(
      f.standIn.requests({ path: "/api/v3/repos/:owner/:repo/collaborators/:username/permission" }),
    ).toHaveLength(0);
    expect(
      await AuditLogEntry.query(knex()).where({ action: "command.refused", actor: "mallory" }),
    ).toHaveLength(1);
  });

  it("refuses a trusted association whose permission GitHub says is read-only", async () => {
    const { replies, job } = await comment("/bisect v1.4.0 main -- ./test.sh", {
      user: { login: "mallory", id: 9666 },
      association: "COLLABORATOR",
    });
    expect(job).toBeUndefined();
    expect(replies[0]!.body).toMatch(/^Sorry, only people with write access/);
    expect(
      f.standIn.requests({ path: "/api/v3/repos/:owner/:repo/collaborators/:username/permission" }),
    ).toHaveLength(1);
  });

  it("over the monthly quota: a refusal with the numbers and the reset date", async () => {
    // The seeded month and the expected reset date from one clock reading.
    const now = new Date();
    const month = monthOf(now);
    await knex()("usage_stats")
      .insert({ installationId: INSTALLATION_ID, month, jobs: 50, computeSeconds: 0 })
      .onConflict(["installationId", "month"])
      .merge({ jobs: 50 });
    try {
      const { replies, job } = await comment("/bisect v1.4.0 main -- ./test.sh");
      expect(job).toBeUndefined();
      const reset = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
      const resetText = reset.toLocaleString("en-GB", {
        day: "numeric",
        month: "long",
        year: "numeric",
        timeZone: "UTC",
      });
      expect(replies[0]!.body).toContain("has used 50 of its 50 bisections this month (free plan)");
      expect(replies[0]!.body).toContain(`The quota resets on ${resetText} at 00:00 UTC`);
      expect(
        (await UsageStat.query(knex()).findOne({ installationId: INSTALLATION_ID, month }))?.jobs,
      ).toBe(50);
    } finally {
      await knex()("usage_stats")
        .where({ installationId: INSTALLATION_ID, month })
        .update({ jobs: 2 });
    }
  });

  it("an unknown revision, an invalid .github/bisect.yml and a missing command each get their reply", async () => {
    const unknown = await comment("/bisect v1.4.0 mian -- ./test.sh");
    expect(unknown.replies[0]!.body).toMatch(
      /the bad revision `mian` is not a commit, tag or branch of this repository/,
    );
    const broken = await comment("/bisect v1.4.0 broken-config -- ./test.sh");
    expect(broken.replies[0]!.body).toMatch(
      /`\.github\/bisect\.yml` at `broken-config` has 2 problems:\n\n- `runs` must be a whole number from 1 to 5\n- unknown setting `timout`/,
    );
    const missing = await comment("/bisect v1.4.0 main");
    expect(missing.replies[0]!.body).toMatch(/there is no test command/);
    expect([unknown.job, broken.job, missing.job]).toEqual([undefined, undefined, undefined]);
  });

  it("stores the comment's predicate over the file's, and answers options that disagree", async () => {
    const { job } = await comment(
      "/bisect v1.4.0 main --crash bad --timeout-is bad --find fix --runs 3 --fail-threshold 2 --bad-if-output `panicked at|Segfault` -- ./test.sh",
    );
    expect(job!.options).toMatchObject({
      runs: 3,
      failThreshold: 2,
      predicate: {
        crash: "bad",
        timeout: "bad",
        find: "fix",
        runs: 3,
        failThreshold: 2,
        flaky: false,
        badIfOutput: "panicked at|Segfault",
      },
    });
    const plain = await comment("/bisect v1.4.0 main -- ./test.sh");
    // `runs: 1` from .github/bisect.yml on main, the rest the defaults.
    expect(plain.job!.options.predicate).toEqual({
      crash: "skip",
      timeout: "skip",
      find: "regression",
      runs: 1,
      failThreshold: 1,
      flaky: false,
    });
    const clash = await comment("/bisect v1.4.0 main --fail-threshold 2 -- ./test.sh");
    expect(clash.job).toBeUndefined();
    expect(clash.replies[0]!.body).toMatch(
      /I could not start that: --fail-threshold 2 is more than --runs 1/,
    );
  });

  it("/bisect verify: only for a finished job that named a commit, and only for writers", async () => {
    const started = await comment("/bisect v1.4.0 main -- ./test.sh");
    const early = await comment(`/bisect verify ${started.job!.id}`, { issue: started.issue });
    expect(early.job).toBeUndefined();
    expect(early.replies.at(-1)!.body).toMatch(
      new RegExp(`bisection ${started.job!.id} is still queued`),
    );
    await BisectJob.query(knex())
      .patch({ status: "finished", outcome: "ambiguous", finishedAt: new Date() })
      .where({ id: started.job!.id });
    const ambiguous = await comment("/bisect verify", { issue: started.issue });
    expect(ambiguous.replies.at(-1)!.body).toBe(
      `@alice bisection ${started.job!.id} cannot be verified: only a bisection that named one commit can be verified.`,
    );
    const outsider = await comment(`/bisect verify ${started.job!.id}`, {
      issue: started.issue,
      user: { login: "mallory", id: 9666 },
      association: "NONE",
    });
    expect(outsider.job).toBeUndefined();
    expect(outsider.replies.at(-1)!.body).toMatch(/^Sorry, only people with write access/);
  });

  it("is ignored when a bot wrote it", async () => {
    const payload = issueCommentEvent.parse(
      commentPayload("/bisect v1.4.0 main -- ./test.sh", {
        user: { login: "other-app[bot]", id: 5, type: "Bot" },
      }),
    );
    expect(await handleIssueComment(ctx, payload, "direct")).toMatchObject({ status: "ignored" });
    expect(f.standIn.requests()).toHaveLength(0);
  });
});

describe("cancel, retry, status, help", () => {
  it("/bisect cancel cancels the latest job on the issue and says so; again, it says it had ended", async () => {
    const started = await comment("/bisect v1.4.0 main -- ./test.sh");
    const cancel = await comment("/bisect cancel", { issue: started.issue });
    expect(await BisectJob.query(knex()).findById(started.job!.id)).toMatchObject({
      status: "cancelled",
      error: "cancelled by alice",
    });
    expect(cancel.replies.at(-1)!.body).toBe(`@alice cancelled bisection ${started.job!.id}.`);
    expect((await queuedJobs(knex(), "bisect__cancel")).map((j) => j.payload)).toContainEqual({
      jobId: started.job!.id,
    });
    expect((await queuedJobs(knex(), "github__status_comment")).map((j) => j.key)).toContain(
      `github__status_comment:${started.job!.id}`,
    );

    const again = await comment(`/bisect cancel #${started.job!.id}`, { issue: started.issue });
    expect(again.replies.at(-1)!.body).toMatch(/had already been cancelled/);
    const none = await comment("/bisect cancel #999999");
    expect(none.replies[0]!.body).toMatch(/there is no bisection 999999 in this repository/);
  });

  it("/bisect retry runs an ended job again as a new job with its own status comment", async () => {
    const started = await comment("/bisect v1.4.0 main --runs 2 -- ./test.sh");
    const busy = await comment("/bisect retry", { issue: started.issue });
    expect(busy.replies.at(-1)!.body).toMatch(/is still queued; cancel it first/);
    await knex()("bisect_jobs")
      .where({ id: started.job!.id })
      .update({ status: "failed", outcome: "error", finishedAt: new Date() });
    const retried = await comment("/bisect retry", { issue: started.issue });
    expect(retried.job).toMatchObject({
      retryOfJobId: started.job!.id,
      goodRef: "v1.4.0",
      badRef: "main",
      command: "./test.sh",
      status: "queued",
      issueNumber: started.issue,
    });
    expect(retried.job!.options.runs).toBe(2);
    expect(retried.replies.at(-1)!.body).toContain(
      `[Bisection ${retried.job!.id}](https://bisect.example.com/dashboard/jobs/${retried.job!.id}) is queued`,
    );
    expect(retried.job!.statusCommentId).toBe(retried.replies.at(-1)!.id);
  });

  it("/bisect status lists the issue's jobs; /bisect help explains everything", async () => {
    const started = await comment("/bisect v1.4.0 main -- ./test.sh");
    const status = await comment("/bisect status", { issue: started.issue });
    expect(status.replies.at(-1)!.body).toContain(
      `| [bisection ${started.job!.id}](https://bisect.example.com/dashboard/jobs/${started.job!.id}) | \`v1.4.0\` → \`main\` | queued |`,
    );
    const help = await comment("/bisect help");
    expect(help.replies[0]!.body).toContain("/bisect <good> <bad> [options] -- <test command>");
  });
});

describe("installation lifecycle", () => {
  it("keeps repositories in sync as they are added and removed; a removed one stops its jobs and mirrors", async () => {
    await deliver("installation_repositories", fixture("installation_repositories.added"));
    expect(await Repository.query(knex()).findById(700002)).toMatchObject({
      owner: "acme",
      name: "gadgets",
      removedAt: null,
    });
    const job = await knex()("bisect_jobs")
      .insert({
        source: "github",
        installationId: INSTALLATION_ID,
        repositoryId: 700002,
        goodRef: "a",
        badRef: "b",
        command: "true",
      })
      .returning("id");
    await deliver("installation_repositories", fixture("installation_repositories.removed"));
    expect((await Repository.query(knex()).findById(700002))!.removedAt).toBeInstanceOf(Date);
    expect((await BisectJob.query(knex()).findById(job[0].id))!.status).toBe("cancelled");
    expect((await queuedJobs(knex(), "mirrors__purge")).map((j) => j.payload)).toContainEqual({
      repositoryIds: [700002],
    });
  });

  it("suspended: jobs cancelled, mirrors purged; unsuspended: usable again; new permissions recorded", async () => {
    const running = await comment("/bisect v1.4.0 main -- ./test.sh");
    await deliver("installation", fixture("installation.suspend"));
    expect(
      (await Installation.query(knex()).findById(INSTALLATION_ID))!.suspendedAt,
    ).toBeInstanceOf(Date);
    expect(await BisectJob.query(knex()).findById(running.job!.id)).toMatchObject({
      status: "cancelled",
      error: "the installation was suspended",
    });
    expect((await queuedJobs(knex(), "mirrors__purge")).map((j) => j.payload)).toContainEqual({
      repositoryIds: expect.arrayContaining([REPO.id]),
    });

    // While suspended, comments are ignored (GitHub would refuse the bot's tokens anyway).
    const ignored = await comment("/bisect v1.4.0 main -- ./test.sh");
    expect(ignored.handled).toMatchObject({ status: "ignored" });
    expect(ignored.replies).toHaveLength(0);

    await deliver("installation", fixture("installation.unsuspend"));
    expect((await Installation.query(knex()).findById(INSTALLATION_ID))!.suspendedAt).toBeNull();
    await deliver("installation", fixture("installation.new_permissions_accepted"));
    expect((await Installation.query(knex()).findById(INSTALLATION_ID))!.permissions).toMatchObject(
      { checks: "write", issues: "write" },
    );
  });

  it("deleted: every queued and running job cancelled and its mirrors purged", async () => {
    await deliver("installation_repositories", fixture("installation_repositories.added"));
    const queued = await comment("/bisect v1.4.0 main -- ./test.sh");
    const running = await comment("/bisect v1.4.0 main -- ./test.sh");
    await knex()("bisect_jobs")
      .where({ id: running.job!.id })
      .update({ status: "running", startedAt: new Date() });
    await knex().raw(
      "delete from graphile_worker._private_jobs where task_id = (select id from graphile_worker._private_tasks where identifier = 'mirrors__purge')",
    );

    await deliver("installation", fixture("installation.deleted"));
    expect((await Installation.query(knex()).findById(INSTALLATION_ID))!.deletedAt).toBeInstanceOf(
      Date,
    );
    for (const id of [queued.job!.id, running.job!.id]) {
      expect(await BisectJob.query(knex()).findById(id)).toMatchObject({
        status: "cancelled",
        error: "the app was uninstalled",
      });
    }
    const purges = await queuedJobs(knex(), "mirrors__purge");
    expect(purges.map((j) => (j.payload.repositoryIds as number[]).sort())).toEqual([
      [700001, 700002],
    ]);
    expect(
      (
        await AuditLogEntry.query(knex()).where({
          action: "job.cancel",
          subjectId: String(running.job!.id),
        })
      )[0],
    ).toMatchObject({ actor: "alice" });
  });
});
