// The status comment from the rows to the issue: culprit details from GitHub, throttling,
// recovery, retries through GitHub outages and rate limits (with a real worker), and the
// credentials handed to the farm for cloning.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../config/env";
import { BisectJob, type JobOptions } from "../../db/models";
import { githubCloneSource, PURPOSE_PERMISSIONS } from "../../jobs/github/app-client";
import { MAX_BODY, statusMarker } from "../../jobs/github/render";
import { enqueueStatusComment, syncStatusComment } from "../../jobs/github/status-comment";
import type { WorkerContext } from "../../jobs/worker-context";
import { startWorker, type StartedWorker } from "../../jobs/worker";
import { useTestDatabase } from "../helpers/database";
import {
  INSTALLATION_ID,
  REPO,
  startFixture,
  testConfig,
  testContext,
  type Fixture,
} from "./support";

const run = promisify(execFile);
const db = useTestDatabase();
let f: Fixture;
let config: Config;
let ctx: WorkerContext;
let issues = 500;
const knex = () => db.current.knex;

interface JobSpec {
  status?: string;
  outcome?: string | null;
  culprit?: string | null;
  steps?: Array<{
    sha: string;
    round: number;
    verdict: "good" | "bad" | "skip" | "error" | null;
    status?: string;
    log?: string;
    durationMs?: number;
    reason?: string;
  }>;
  options?: JobOptions;
  command?: string;
  issue?: number;
}

async function insertJob(spec: JobSpec = {}): Promise<BisectJob> {
  const { shas } = f;
  const finished = ["finished", "failed", "cancelled"].includes(spec.status ?? "finished");
  const [row] = await knex()("bisect_jobs")
    .insert({
      source: "github",
      installationId: INSTALLATION_ID,
      repositoryId: REPO.id,
      issueNumber: spec.issue ?? ++issues,
      requesterLogin: "alice",
      goodRef: "v1.4.0",
      badRef: "main",
      goodSha: shas[0],
      badSha: shas[5],
      command: spec.command ?? "./test.sh",
      options: JSON.stringify(spec.options ?? { runs: 1, parallel: 1, timeoutSeconds: 300 }),
      status: spec.status ?? "finished",
      outcome: spec.outcome === undefined ? "found" : spec.outcome,
      culpritSha: spec.culprit === undefined ? shas[3] : spec.culprit,
      candidates: JSON.stringify(spec.culprit === null ? [] : [shas[3]]),
      confidence: 1,
      commitCount: 5,
      rounds: 3,
      startedAt: new Date(Date.now() - 95_000),
      finishedAt: finished ? new Date() : null,
    })
    .returning("*");
  const steps = spec.steps ?? [
    { sha: shas[0]!, round: 0, verdict: "good" as const },
    { sha: shas[5]!, round: 0, verdict: "bad" as const },
    { sha: shas[2]!, round: 1, verdict: "good" as const },
    { sha: shas[4]!, round: 2, verdict: "bad" as const },
    { sha: shas[3]!, round: 3, verdict: "bad" as const, log: "FAIL parses dates" },
  ];
  const rows = steps.map((s) => ({
    bisectJobId: row.id,
    sha: s.sha,
    round: s.round,
    status: s.status ?? (s.verdict ? "done" : "running"),
    verdict: s.verdict,
    exitCode: s.verdict === "bad" ? 1 : s.verdict === "good" ? 0 : null,
    durationMs: s.durationMs ?? (s.verdict ? 3100 : null),
    logExcerpt: s.log ?? null,
    reason: s.reason ?? null,
  }));
  for (let i = 0; i < rows.length; i += 500)
    await knex()("bisect_steps").insert(rows.slice(i, i + 500));
  return (await BisectJob.query(knex()).findById(row.id))!;
}

const botComments = (issue: number) =>
  f.standIn
    .comments(REPO.owner, REPO.name, issue)
    .filter((c) => c.user === "bisect-bot[bot]" && !c.deleted);

beforeAll(async () => {
  f = await startFixture();
  config = testConfig(f, db.current.url);
  ctx = testContext(config, knex(), db.current.url);
  await knex()("installations").insert({
    id: INSTALLATION_ID,
    accountId: REPO.ownerId,
    accountLogin: "acme",
    accountType: "Organization",
  });
  await knex()("repositories").insert({
    id: REPO.id,
    installationId: INSTALLATION_ID,
    owner: REPO.owner,
    name: REPO.name,
    private: true,
  });
  f.standIn.setPullsForCommit(REPO.owner, REPO.name, f.shas[3]!, [
    { number: 42, title: "New date parser", merged: true, user: "carol" },
  ]);
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
  await f?.close();
});

describe("github__status_comment", () => {
  it("renders a finished job: the culprit linked with title, author, date and pull request, the table, GHES links", async () => {
    const job = await insertJob();
    expect(await syncStatusComment(ctx, job.id)).toMatchObject({ action: "created" });
    const [posted] = botComments(job.issueNumber!);
    const web = f.standIn.urls.web;
    const culprit = f.shas[3]!;
    expect(posted!.body).toContain(
      `🎯 [Bisection ${job.id}](https://bisect.example.com/dashboard/jobs/${job.id}) found the first bad commit`,
    );
    expect(posted!.body).toContain(
      `**First bad commit:** [\`${culprit.slice(0, 7)}\` Parse dates with the new parser](${web}/acme/widgets/commit/${culprit})`,
    );
    expect(posted!.body).toMatch(
      new RegExp(`by \\[carol\\]\\(${web}/carol\\) on \\d{4}-\\d{2}-\\d{2}`),
    );
    expect(posted!.body).toContain(
      `from pull request [#42 New date parser](${web}/acme/widgets/pull/42)`,
    );
    expect(posted!.body).toContain(
      `| 3 | [\`${culprit.slice(0, 7)}\`](${web}/acme/widgets/commit/${culprit}) 🎯 | ❌ bad | 3s | exit 1 |`,
    );
    expect(posted!.body).toContain("FAIL parses dates");
    expect(posted!.body).toContain(
      `npm run -s bisect -- --repo ${web}/acme/widgets.git --good ${f.shas[0]} --bad ${f.shas[5]} --endpoints alongside --timeout 300 -- ./test.sh`,
    );
    expect(posted!.body).toContain(`https://bisect.example.com/dashboard/jobs/${job.id}`);
    expect((await BisectJob.query(knex()).findById(job.id))!.statusCommentId).toBe(posted!.id);

    // A second notification with nothing new edits nothing.
    expect(await syncStatusComment(ctx, job.id)).toMatchObject({ action: "unchanged" });
    expect(botComments(job.issueNumber!)[0]!.edits).toBe(0);
  });

  it("keeps a huge job under 60,000 characters (GitHub's limit is 65,536)", async () => {
    const steps = Array.from({ length: 4000 }, (_, i) => ({
      sha: (i + 1).toString(16).padStart(40, "0"),
      round: Math.floor(i / 8),
      verdict: (i % 3 ? "bad" : "good") as "bad" | "good",
      log: "x".repeat(2000),
      reason: "a long reason ".repeat(10),
    }));
    const job = await insertJob({ steps, command: "c".repeat(8000) });
    expect(await syncStatusComment(ctx, job.id)).toMatchObject({ action: "created" });
    const [posted] = botComments(job.issueNumber!);
    expect(posted!.body.length).toBeLessThanOrEqual(MAX_BODY);
    expect(posted!.body).toMatch(/more runs \| \| \| see the dashboard \|/);
    expect(posted!.body).toContain("First bad commit");
  });

  it("edits a running job at most once per 10 s, the final result at once", async () => {
    const job = await insertJob({
      status: "running",
      outcome: null,
      culprit: null,
      steps: [{ sha: f.shas[0]!, round: 0, verdict: "good" }],
    });
    expect(await syncStatusComment(ctx, job.id)).toMatchObject({ action: "created" });
    await knex()("bisect_steps").insert({
      bisectJobId: job.id,
      sha: f.shas[5],
      round: 0,
      status: "done",
      verdict: "bad",
      exitCode: 1,
      durationMs: 2000,
    });
    const throttled = await syncStatusComment(ctx, job.id);
    expect(throttled).toMatchObject({ action: "throttled" });
    expect((throttled as { retryAt: Date }).retryAt.getTime() - Date.now()).toBeGreaterThan(8_000);
    expect(botComments(job.issueNumber!)[0]!.edits).toBe(0);

    await knex()("bisect_jobs").where({ id: job.id }).update({
      status: "finished",
      outcome: "found",
      culpritSha: f.shas[3],
      finishedAt: new Date(),
    });
    expect(await syncStatusComment(ctx, job.id)).toMatchObject({ action: "edited" });
    const [posted] = botComments(job.issueNumber!);
    expect(posted!.edits).toBe(1);
    expect(posted!.body).toContain("found the first bad commit");
  });

  it("posts a new comment when someone deleted it, and finds its own after a lost response", async () => {
    const job = await insertJob();
    await syncStatusComment(ctx, job.id);
    const first = botComments(job.issueNumber!)[0]!;
    await ctx
      .github!.client({ installationId: INSTALLATION_ID, repositoryId: REPO.id })
      .rest.issues.deleteComment({ owner: REPO.owner, repo: REPO.name, comment_id: first.id });
    await knex()("bisect_jobs").where({ id: job.id }).update({ explanation: "changed" });
    expect(await syncStatusComment(ctx, job.id)).toMatchObject({ action: "created" });
    const second = botComments(job.issueNumber!);
    expect(second).toHaveLength(1);
    expect(second[0]!.id).not.toBe(first.id);

    // The comment was created but its id never recorded (the worker died): adopt it, no duplicate.
    await knex()("bisect_jobs")
      .where({ id: job.id })
      .update({ statusCommentId: null, explanation: "changed again" });
    expect(await syncStatusComment(ctx, job.id, { recover: true })).toMatchObject({
      action: "edited",
      commentId: second[0]!.id,
    });
    expect(botComments(job.issueNumber!)).toHaveLength(1);
    expect(botComments(job.issueNumber!)[0]!.body).toContain(statusMarker(job.id));
  });

  it("two renders racing to create the comment leave exactly one, up to date", async () => {
    const job = await insertJob({ status: "running", outcome: null, culprit: null });
    const [a, b] = await Promise.all([
      syncStatusComment(ctx, job.id, { force: true }),
      syncStatusComment(ctx, job.id, { force: true }),
    ]);
    const actions = [a.action, b.action].sort();
    expect(actions[0]).toBe("created");
    expect(["edited", "unchanged"]).toContain(actions[1]);
    expect(f.standIn.requests({ method: "DELETE" })).toHaveLength(1);
    const live = botComments(job.issueNumber!);
    expect(live).toHaveLength(1);
    expect((await BisectJob.query(knex()).findById(job.id))!.statusCommentId).toBe(live[0]!.id);
    expect(live[0]!.body).toContain("is running");
  });

  it("asks for a fresh token once the cached one has expired", async () => {
    const job = await insertJob();
    const before = f.standIn.tokensIssued().length;
    f.standIn.expireInstallationTokens();
    expect(await syncStatusComment(ctx, job.id)).toMatchObject({ action: "created" });
    expect(f.standIn.tokensIssued().length).toBeGreaterThan(before);
    expect(f.standIn.requests().filter((r) => r.status === 401).length).toBeGreaterThan(0);
  });

  it("leaves jobs of a suspended installation alone", async () => {
    const job = await insertJob();
    await knex()("installations")
      .where({ id: INSTALLATION_ID })
      .update({ githubSuspendedAt: new Date() });
    try {
      expect(await syncStatusComment(ctx, job.id)).toEqual({
        action: "skipped",
        reason: "the installation is suspended",
      });
      expect(f.standIn.requests()).toHaveLength(0);
    } finally {
      await knex()("installations")
        .where({ id: INSTALLATION_ID })
        .update({ githubSuspendedAt: null });
    }
  });
});

describe("github__status_comment through GitHub failures (real worker)", () => {
  let worker: StartedWorker;
  beforeAll(async () => {
    worker = await startWorker(config, {
      concurrency: 2,
      registerEnvHost: false,
      ctx: { github: ctx.github, statusComments: ctx.statusComments },
    });
  });
  afterAll(async () => {
    await worker?.stop();
  });

  it("still posts the result after 502s and rate limits, and never twice", async () => {
    const job = await insertJob();
    const comments = "/api/v3/repos/:owner/:repo/issues/:issue_number/comments";
    f.standIn.failNext({ method: "POST", path: comments, status: 502, times: 2 });
    f.standIn.failNext({ method: "POST", path: comments, status: 429, times: 1, retryAfter: 1 });
    f.standIn.failNext({
      method: "POST",
      path: comments,
      status: 403,
      rateLimit: true,
      secondary: true,
      times: 1,
      retryAfter: 1,
    });
    await enqueueStatusComment(knex(), job.id);
    await expect
      .poll(() => botComments(job.issueNumber!).length, { timeout: 40_000, interval: 250 })
      .toBe(1);
    expect(botComments(job.issueNumber!)[0]!.body).toContain("found the first bad commit");
    expect(f.standIn.requests({ method: "POST", path: comments }).map((r) => r.status)).toEqual([
      502, 502, 429, 403, 201,
    ]);
    await expect
      .poll(async () => (await BisectJob.query(knex()).findById(job.id))!.statusCommentId, {
        timeout: 5_000,
      })
      .toBe(botComments(job.issueNumber!)[0]!.id);
  }, 60_000);
});

describe("githubCloneSource", () => {
  it("gives the farm a clone URL without credentials and a contents:read token for that repository only", async () => {
    const source = await githubCloneSource(ctx, REPO.id);
    expect(source.url).toBe(`${f.standIn.urls.web}/acme/widgets.git`);
    expect(source.username).toBe("x-access-token");
    const token = f.standIn.tokensIssued().find((t) => t.token === source.password)!;
    expect(token).toMatchObject({
      repositories: ["acme/widgets"],
      permissions: PURPOSE_PERMISSIONS.clone,
      expired: false,
    });

    const basic = Buffer.from(`${source.username}:${source.password}`).toString("base64");
    const { stdout } = await run(
      "git",
      [
        "-c",
        `http.extraHeader=Authorization: Basic ${basic}`,
        "ls-remote",
        source.url,
        "refs/heads/main",
      ],
      { env: { NODE_ENV: "test", PATH: process.env.PATH, HOME: f.work, GIT_TERMINAL_PROMPT: "0" } },
    );
    expect(stdout).toContain(`${f.shas[5]}\trefs/heads/main`);
  });

  it("refuses a repository the app no longer has", async () => {
    await knex()("repositories").insert({
      id: 700009,
      installationId: INSTALLATION_ID,
      owner: "acme",
      name: "old",
      removedAt: new Date(),
    });
    await expect(githubCloneSource(ctx, 700009)).rejects.toThrow(
      /acme\/old was removed from the installation/,
    );
    await expect(githubCloneSource(ctx, 1)).rejects.toThrow(/not known/);
  });
});
