// Automatic bisection from GitHub's side, without Docker: a configured check's results recorded
// in the stand-in, its check_run deliveries signed and handled, and what the product does with
// them — the last green found from GitHub's record, one bisection per breakage, "fixed
// meanwhile", the direct report, the notify targets, the permission and the monthly cap.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AutoBisection, BisectJob } from "../../db/models";
import { reportAutomatic } from "../../jobs/github/auto/report";
import { useTestDatabase } from "../helpers/database";
import { queuedJobs } from "../helpers/queue";
import { commitAutoConfig } from "./auto-support";
import { useInstalledApp, webhookFixture } from "./installed";
import { INSTALLATION_ID, REPO, send } from "./support";

// Each test has its own database, stand-in and repository, with the app installed as created
// (without the checks permission): the tests pass in any order.
const db = useTestDatabase({ per: "test" });
const app = useInstalledApp(db, { per: "test" });
const knex = () => db.current.knex;
const CHECKS = [
  "unit",
  "direct",
  "join",
  "fixed",
  "cap",
  "issue-target",
  "commit-target",
  "quiet",
  "fork",
];
let head: string;

const commitConfig = (notify: string) => commitAutoConfig(app.f, CHECKS, notify);

/** Records a completed run of `name` at `ref` and delivers its check_run event. */
async function checkRun(name: string, ref: string, conclusion: "success" | "failure") {
  const run = await app.f.standIn.checks.addCheckRun(REPO.owner, REPO.name, {
    ref,
    name,
    conclusion,
  });
  return app.deliver("check_run", app.f.standIn.checks.checkRunEvent(run.id, INSTALLATION_ID));
}

/** Records a result without a delivery (history GitHub already has). */
const record = (name: string, ref: string, conclusion: "success" | "failure") =>
  app.f.standIn.checks.addCheckRun(REPO.owner, REPO.name, { ref, name, conclusion });

const autoRow = (checkName: string) => AutoBisection.query(knex()).findOne({ checkName });

/** The owner accepts the `checks: read` permission automatic bisection needs. */
async function acceptChecksPermission() {
  const accepted = webhookFixture("installation.new_permissions_accepted");
  app.f.standIn.updateInstallation(INSTALLATION_ID, {
    permissions: accepted.installation.permissions,
  });
  await app.deliver("installation", accepted);
}

/** `check` was green at the second commit and turns red at `red`: a bisection is queued. */
async function breakage(check: string, red = head) {
  await record(check, app.f.shas[1]!, "success");
  const [handled] = await checkRun(check, red, "failure");
  expect(handled!.note).toMatch(/^automatic bisection \d+: job \d+ queued$/);
  return (await autoRow(check))!;
}

beforeEach(() => {
  head = commitConfig("pull-request");
  app.f.standIn.setPullsForCommit(REPO.owner, REPO.name, app.f.shas[3]!, [
    { number: 42, title: "New date parser", merged: true, user: "carol" },
  ]);
});

afterEach(() => app.f.standIn.assertNoUnexpected());

describe("an installation without the checks permission", () => {
  it("keeps working without automatic bisection and asks GitHub nothing", async () => {
    await record("unit", app.f.shas[1]!, "success");
    app.f.standIn.clearRequests();
    const handled = await checkRun("unit", head, "failure");
    expect(handled).toEqual([
      {
        status: "ignored",
        note: expect.stringContaining("has not granted the `checks: read` permission"),
      },
    ]);
    expect(app.f.standIn.requests({ path: /^\/api\/v3\// })).toEqual([]);
    expect(await AutoBisection.query(knex())).toEqual([]);
    expect(await BisectJob.query(knex())).toEqual([]);

    // The owner accepts the new permission: the same kind of delivery now starts a bisection.
    await acceptChecksPermission();
    const [started] = await checkRun("unit", head, "failure");
    expect(started).toEqual({
      status: "processed",
      note: expect.stringMatching(/^automatic bisection \d+: job \d+ queued$/),
    });
  });
});

describe("a configured check turning red on the default branch", () => {
  beforeEach(acceptChecksPermission);

  it("finds the last green by walking first parents and queues an automatic job from it", async () => {
    // Green at the second commit, nothing recorded after it, red at the head.
    await record("unit", app.f.shas[1]!, "success");
    await checkRun("unit", head, "failure");
    const row = (await autoRow("unit"))!;
    expect(row).toMatchObject({
      greenSha: app.f.shas[1],
      redSha: head,
      state: "bisecting",
      notify: "pull-request",
      command: "./test.sh",
    });
    const job = (await BisectJob.query(knex()).findById(row.bisectJobId!))!;
    expect(job).toMatchObject({
      source: "auto",
      goodRef: app.f.shas[1],
      badRef: head,
      command: "./test.sh",
      setupCommand: "echo setting up",
      requesterLogin: null,
      issueNumber: null,
      status: "queued",
    });
    expect(job.options).toMatchObject({ firstParent: true, timeoutSeconds: 300 });
    // GitHub's record was read with a token that may read checks, not write anything.
    const reads = app.f.standIn.requests({ path: /\/check-runs$/ });
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.every((r) => r.query.check_name === "unit" && r.status === 200)).toBe(true);
    const tokens = app.f.standIn.tokensIssued().filter((t) => t.permissions.checks);
    expect(tokens.at(-1)!.permissions).toEqual({
      checks: "read",
      contents: "read",
      metadata: "read",
    });
    const audit = await knex()("audit_log").where({ action: "job.create" }).first();
    expect(audit).toMatchObject({ actor: "check:unit" });
    expect(audit.details).toMatchObject({ source: "auto", check: "unit" });
  });

  it("ignores a check that is not configured, and results off the default branch", async () => {
    await record("docs", app.f.shas[1]!, "success");
    const handled = await checkRun("docs", head, "failure");
    expect(handled).toEqual([
      {
        status: "ignored",
        note: 'check "docs" is not configured for automatic bisection',
      },
    ]);
    expect(await autoRow("docs")).toBeUndefined();

    const branch = await app.f.standIn.checks.addCheckRun(REPO.owner, REPO.name, {
      ref: head,
      name: "unit",
      conclusion: "failure",
      branch: "feature",
    });
    const response = await send(
      app.config,
      knex(),
      "check_run",
      app.f.standIn.checks.checkRunEvent(branch.id, INSTALLATION_ID),
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "ignored" });

    // A fork's pull request from a branch called main: the commit is not on the default branch.
    await record("fork", app.f.shas[1]!, "success");
    const forked = await app.f.standIn.checks.addCheckRun(REPO.owner, REPO.name, {
      ref: "broken-config",
      name: "fork",
      conclusion: "failure",
      branch: "main",
    });
    const [fromFork] = await app.deliver(
      "check_run",
      app.f.standIn.checks.checkRunEvent(forked.id, INSTALLATION_ID),
    );
    expect(fromFork!.note).toBe(`${forked.headSha.slice(0, 7)} is not on the default branch`);
    expect(await autoRow("fork")).toBeUndefined();
  });

  it("joins a later red run with the same last green to the open bisection", async () => {
    await record("join", app.f.shas[1]!, "success");
    await checkRun("join", app.f.shas[4]!, "failure");
    const first = (await autoRow("join"))!;
    expect(first).toMatchObject({ greenSha: app.f.shas[1], redSha: app.f.shas[4] });
    const jobs = await BisectJob.query(knex()).where({ source: "auto" }).resultSize();

    const [joined] = await checkRun("join", app.f.shas[5]!, "failure");
    expect(joined).toEqual({
      status: "processed",
      note: `red join at ${app.f.shas[5]!.slice(0, 7)} joined automatic bisection ${first.id} (job ${first.bisectJobId})`,
    });
    expect(await BisectJob.query(knex()).where({ source: "auto" }).resultSize()).toBe(jobs);
    expect(await autoRow("join")).toMatchObject({ joinedRuns: 1, bisectJobId: first.bisectJobId });
  });

  it("cancels the bisection as fixed meanwhile when the check passes again, and posts nothing", async () => {
    await record("fixed", app.f.shas[1]!, "success");
    await checkRun("fixed", app.f.shas[4]!, "failure");
    const row = (await autoRow("fixed"))!;
    // An older green (before the red commit) does not end it.
    const [older] = await checkRun("fixed", app.f.shas[2]!, "success");
    expect(older!.note).toContain("nothing to cancel");
    expect((await BisectJob.query(knex()).findById(row.bisectJobId!))!.status).toBe("queued");

    const [green] = await checkRun("fixed", head, "success");
    expect(green!.note).toBe(
      `fixed is green at ${head.slice(0, 7)}: job ${row.bisectJobId} cancelled (fixed meanwhile)`,
    );
    const job = (await BisectJob.query(knex()).findById(row.bisectJobId!))!;
    expect(job).toMatchObject({
      status: "cancelled",
      error: `fixed meanwhile: fixed passed again at ${head.slice(0, 7)} before the bisection ended`,
    });
    const comments = () =>
      app.f.standIn.requests({ method: "POST", path: /\/(comments|issues)$/ }).length;
    const before = comments();
    expect(await reportAutomatic(app.ctx, { autoId: row.id })).toContain("fixed meanwhile");
    expect(comments()).toBe(before);
    expect(await autoRow("fixed")).toMatchObject({
      state: "fixed",
      fixedBySha: head,
      reportUrl: null,
      reportNote: expect.stringContaining("fixed meanwhile"),
    });
  });
});

describe("a red commit whose parent was green", () => {
  beforeEach(acceptChecksPermission);

  it("is reported directly, with no run, on the culprit's pull request mentioning its author", async () => {
    await record("direct", app.f.shas[2]!, "success");
    const [handled] = await checkRun("direct", app.f.shas[3]!, "failure");
    expect(handled!.note).toBe(
      `direct was green at the parent of ${app.f.shas[3]!.slice(0, 7)}: reported directly`,
    );
    const row = (await autoRow("direct"))!;
    expect(row).toMatchObject({ state: "direct", culpritSha: app.f.shas[3], bisectJobId: null });
    const tasks = await queuedJobs(knex(), "github__auto_report");
    expect(tasks.map((t) => t.payload)).toContainEqual({ autoId: row.id });

    expect(await reportAutomatic(app.ctx, { autoId: row.id })).toMatch(/^posted at /);
    const [comment] = app.f.standIn
      .comments(REPO.owner, REPO.name, 42)
      .filter((c) => c.user === "bisect-bot[bot]");
    expect(comment!.body).toContain("🤖 Automatic bisection: `direct` turned red on `main`");
    expect(comment!.body).toContain("@carol, the first bad commit below is yours");
    expect(comment!.body).toContain(
      `**First bad commit:** [\`${app.f.shas[3]!.slice(0, 7)}\` Parse dates with the new parser]`,
    );
    expect(comment!.body).toContain("no bisection was needed");
    expect(await autoRow("direct")).toMatchObject({
      state: "reported",
      reportUrl: comment!.htmlUrl,
    });
    // Reported once: a second run of the task posts nothing more, nor does an attempt that posted
    // without recording it (the comment is found again by its marker).
    await reportAutomatic(app.ctx, { autoId: row.id });
    await AutoBisection.query(knex())
      .findById(row.id)
      .patch({ reportedAt: null, reportUrl: null, state: "direct" });
    expect(await reportAutomatic(app.ctx, { autoId: row.id })).toBe(
      `posted at ${comment!.htmlUrl}`,
    );
    expect(
      app.f.standIn.comments(REPO.owner, REPO.name, 42).filter((c) => c.user === "bisect-bot[bot]"),
    ).toHaveLength(1);
  });

  it("opens an issue labelled regression when notify is issue", async () => {
    commitConfig("issue");
    await record("issue-target", app.f.shas[2]!, "success");
    const red = await record("issue-target", app.f.shas[3]!, "failure");
    await app.deliver("check_run", app.f.standIn.checks.checkRunEvent(red.id, INSTALLATION_ID));
    const row = (await autoRow("issue-target"))!;
    await reportAutomatic(app.ctx, { autoId: row.id });
    const [issue] = app.f.standIn.checks.createdIssues(REPO.owner, REPO.name);
    expect(issue).toMatchObject({
      title: "issue-target broke on main: Parse dates with the new parser",
      labels: ["regression"],
      user: "bisect-bot[bot]",
    });
    expect(issue!.body).toContain(`([check run](${red.htmlUrl}))`);
    expect(issue!.body).toContain("Reproduce locally");
    expect(issue!.body).toContain("@carol");
  });

  it("keeps a commit comment on the dashboard when contents: write is not granted, and posts it when it is", async () => {
    commitConfig("commit");
    await record("commit-target", app.f.shas[2]!, "success");
    await checkRun("commit-target", app.f.shas[3]!, "failure");
    const row = (await autoRow("commit-target"))!;
    expect(await reportAutomatic(app.ctx, { autoId: row.id })).toContain("contents: write");
    expect(app.f.standIn.checks.commitComments(REPO.owner, REPO.name)).toEqual([]);
    expect(await autoRow("commit-target")).toMatchObject({
      reportUrl: null,
      reportNote: expect.stringContaining("`contents: write`"),
    });

    // With the permission, the next breakage's answer is a comment on the culprit commit.
    const granted = {
      ...webhookFixture("installation.new_permissions_accepted").installation.permissions,
      contents: "write",
    };
    app.f.standIn.updateInstallation(INSTALLATION_ID, { permissions: granted });
    await knex()("installations").where({ id: INSTALLATION_ID }).update({ permissions: granted });
    await record("commit-target", app.f.shas[4]!, "success");
    await checkRun("commit-target", app.f.shas[5]!, "failure");
    const next = (await AutoBisection.query(knex()).findOne({
      checkName: "commit-target",
      greenSha: app.f.shas[4]!,
    }))!;
    await reportAutomatic(app.ctx, { autoId: next.id });
    expect(app.f.standIn.checks.commitComments(REPO.owner, REPO.name)).toEqual([
      expect.objectContaining({ sha: app.f.shas[5], user: "bisect-bot[bot]" }),
    ]);
  });

  it("stays on the dashboard when notify is none", async () => {
    commitConfig("none");
    await record("quiet", app.f.shas[2]!, "success");
    await checkRun("quiet", app.f.shas[3]!, "failure");
    const row = (await autoRow("quiet"))!;
    const seen = app.f.standIn.requests().at(-1)?.seq ?? 0;
    await reportAutomatic(app.ctx, { autoId: row.id });
    // Nothing written on GitHub: the only POST allowed is for a token to read the culprit with.
    const posts = app.f.standIn
      .requests({ method: "POST" })
      .filter((r) => r.seq > seen && !r.path.endsWith("/access_tokens"));
    expect(posts).toEqual([]);
    expect(await autoRow("quiet")).toMatchObject({ state: "reported", reportNote: "notify: none" });
  });
});

describe("the monthly cap on automatic bisections", () => {
  beforeEach(acceptChecksPermission);

  it("refuses a new automatic job past the plan's cap and says why on the dashboard", async () => {
    // One automatic bisection this month already, and a plan that allows just that many.
    await breakage("unit");
    const used = await BisectJob.query(knex()).where({ source: "auto" }).resultSize();
    expect(used).toBe(1);
    await knex()("rate_limits").where({ tier: "free" }).update({ autoJobsPerMonth: used });
    await record("cap", app.f.shas[1]!, "success");
    const [handled] = await checkRun("cap", app.f.shas[4]!, "failure");
    expect(handled!.note).toMatch(
      new RegExp(
        `not started: the free plan's monthly limit of ${used} automatic bisections is reached`,
      ),
    );
    expect(await autoRow("cap")).toMatchObject({
      state: "refused",
      bisectJobId: null,
      reportNote: expect.stringContaining(`monthly limit of ${used} automatic bisections`),
    });
    expect(await BisectJob.query(knex()).where({ source: "auto" }).resultSize()).toBe(used);
    // Jobs people ask for are not held back by it: the cap is the automatic ones' own.
    expect(
      (await knex()("usage_stats").where({ installationId: INSTALLATION_ID }).first()).jobs,
    ).toBe(used);
  });
});

describe("the answer of an automatic job", () => {
  beforeEach(acceptChecksPermission);

  it("mentions nobody when the culprit is only likely, and posts nothing without a culprit", async () => {
    const unit = await breakage("unit");
    await BisectJob.query(knex()).findById(unit.bisectJobId!).patch({
      status: "finished",
      outcome: "likely",
      culpritSha: app.f.shas[3]!,
      confidence: 0.7,
      finishedAt: new Date(),
    });
    const before = app.f.standIn.comments(REPO.owner, REPO.name, 42).length;
    expect(await reportAutomatic(app.ctx, { jobId: unit.bisectJobId! })).toMatch(/^posted at /);
    const posted = app.f.standIn.comments(REPO.owner, REPO.name, 42).slice(before);
    expect(posted).toHaveLength(1);
    expect(posted[0]!.body).toContain("The answer is not certain, so nobody is mentioned.");
    expect(posted[0]!.body).toContain("likely first bad commit (not sure)");
    expect(posted[0]!.body).not.toMatch(/@\w/);

    const join = await breakage("join", app.f.shas[4]!);
    await BisectJob.query(knex()).findById(join.bisectJobId!).patch({
      status: "finished",
      outcome: "bad-is-good",
      finishedAt: new Date(),
    });
    const posts = app.f.standIn.requests({ method: "POST" }).length;
    expect(await reportAutomatic(app.ctx, { jobId: join.bisectJobId! })).toBe(
      "no culprit to report (bad-is-good)",
    );
    expect(app.f.standIn.requests({ method: "POST" }).length).toBe(posts);
    expect(await autoRow("join")).toMatchObject({
      state: "reported",
      reportNote: "no culprit to report (bad-is-good)",
    });
  });
});
