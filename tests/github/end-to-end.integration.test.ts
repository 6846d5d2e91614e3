// The whole product from GitHub's side: a signed webhook with a `/bisect` comment goes through
// the webhook route, the worker handles it, the farm bisects on real Docker engines (fetching
// the repository from the GitHub stand-in with a scoped installation token), and the status
// comment on the issue ends up naming the culprit.
import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../config/env";
import { BisectJob, BisectStep } from "../../db/models";
import { PURPOSE_PERMISSIONS } from "../../jobs/github/app-client";
import { startWorker, type StartedWorker } from "../../jobs/worker";
import { registerHost } from "../../jobs/farm/hosts";
import { useTestDatabase } from "../helpers/database";
import {
  dockerRequired,
  ensureImageEverywhere,
  tlsEngines,
  type TestEngine,
} from "../helpers/engines";
import {
  REPO,
  send,
  startFixture,
  testConfig,
  testContext,
  userComment,
  type Fixture,
} from "./support";

const { engines, problem } = await tlsEngines();
if (problem && dockerRequired) throw new Error(`Docker engines are required in CI: ${problem}`);
if (problem) console.warn(`skipping the GitHub end-to-end test: ${problem}`);
const suite = problem ? describe.skip : describe;

suite("GitHub end to end", () => {
  const db = useTestDatabase();
  let f: Fixture;
  let config: Config;
  let worker: StartedWorker;

  beforeAll(async () => {
    await ensureImageEverywhere(engines as TestEngine[]);
    f = await startFixture();
    f.standIn.setPullsForCommit(REPO.owner, REPO.name, f.shas[3]!, [
      { number: 42, title: "New date parser", merged: true, user: "carol" },
    ]);
    for (const e of engines) {
      await registerHost(db.current.knex, {
        name: e.name,
        dockerEndpoint: e.endpoint,
        tlsPath: e.tlsPath,
        capacity: 2,
        source: "admin",
      });
    }
    // The fetch container reaches the stand-in's git endpoint on 127.0.0.1 through the host network.
    config = testConfig(f, db.current.url, {
      WORKER_CONCURRENCY: "8",
      RUNNER_FETCH_NETWORK: "host",
    });
    const { github } = testContext(config, db.current.knex, db.current.url);
    worker = await startWorker(config, { registerEnvHost: false, ctx: { github } });
    // The app is installed on acme/widgets before any test comments there.
    const installed = readFileSync("tests/fixtures/webhooks/installation.created.json", "utf8");
    expect(
      (await send(config, db.current.knex, "installation", null, { raw: installed })).status,
    ).toBe(202);
  }, 600_000);

  afterEach(() => {
    f.standIn.assertNoUnexpected();
  });

  afterAll(async () => {
    await worker?.stop();
    await f?.close();
  });

  it("a signed /bisect comment becomes a bisection on Docker and a comment naming the culprit", async () => {
    const payload = userComment(f, "/bisect v1.4.0 main --parallel 2 -- ./test.sh", { issue: 17 });
    expect((await send(config, db.current.knex, "issue_comment", payload)).status).toBe(202);

    const final = () =>
      f.standIn
        .comments(REPO.owner, REPO.name, 17)
        .find(
          (c) =>
            c.user === "bisect-bot[bot]" &&
            !c.deleted &&
            /found the first bad commit|failed|could not finish/.test(c.body),
        );
    await expect
      .poll(() => final()?.body ?? "", { timeout: 240_000, interval: 500 })
      .toMatch(/found the first bad commit/);

    const job = await BisectJob.query(db.current.knex).findOne({
      triggerCommentId: payload.comment.id,
    });
    expect(job).toMatchObject({
      status: "finished",
      outcome: "found",
      culpritSha: f.shas[3],
      setupCommand: "echo setting up",
    });
    const comment = final()!;
    expect(job!.statusCommentId).toBe(comment.id);
    // One status comment (the job may have raced ahead of the first render: any extra one made
    // at the same moment is deleted), then edited as the job went on.
    expect(
      f.standIn
        .comments(REPO.owner, REPO.name, 17)
        .filter((c) => c.user === "bisect-bot[bot]" && !c.deleted),
    ).toHaveLength(1);
    expect(comment.history[0] ?? comment.body).toMatch(
      /is queued|is starting|is running|found the first bad commit/,
    );

    const web = f.standIn.urls.web;
    expect(comment.body).toContain(
      `[\`${f.shas[3]!.slice(0, 7)}\` Parse dates with the new parser](${web}/acme/widgets/commit/${f.shas[3]})`,
    );
    expect(comment.body).toContain(
      `from pull request [#42 New date parser](${web}/acme/widgets/pull/42)`,
    );
    expect(comment.body).toContain("| Round | Commit | Result | Time | Notes |");
    expect(comment.body).toContain("FAIL parses dates");
    expect(comment.body).toContain(
      `npm run -s bisect -- --repo ${web}/acme/widgets.git --good ${f.shas[0]} --bad ${f.shas[5]}`,
    );
    expect(
      f.standIn.reactions(REPO.owner, REPO.name, { commentId: payload.comment.id }),
    ).toMatchObject([{ content: "eyes" }]);

    // The repository was fetched with a token for that repository and contents:read only.
    const clones = f.standIn.tokensIssued().filter((t) => t.permissions.issues === undefined);
    expect(clones.length).toBeGreaterThan(0);
    for (const t of clones)
      expect(t).toMatchObject({
        repositories: ["acme/widgets"],
        permissions: PURPOSE_PERMISSIONS.clone,
      });
    expect(
      f.standIn
        .requests({ path: /git-upload-pack/ })
        .some((r) => r.auth === "basic" && r.status === 200),
    ).toBe(true);
  }, 300_000);
  it("--flaky on a comment overrides the file's runs, and /bisect verify edits the conclusion", async () => {
    const issue = 18;
    const payload = userComment(f, "/bisect v1.4.0 main --flaky --parallel 2 -- ./test.sh", {
      issue,
    });
    expect((await send(config, db.current.knex, "issue_comment", payload)).status).toBe(202);
    const status = () =>
      f.standIn
        .comments(REPO.owner, REPO.name, issue)
        .find((c) => c.user === "bisect-bot[bot]" && !c.deleted && /Bisection \d+/.test(c.body));
    await expect
      .poll(() => status()?.body ?? "", { timeout: 240_000, interval: 500 })
      .toMatch(/found the first bad commit|failed|could not finish/);
    const job = (await BisectJob.query(db.current.knex).findOne({
      triggerCommentId: payload.comment.id,
    }))!;
    // The comment's --flaky replaced `runs: 1` from .github/bisect.yml.
    expect(job).toMatchObject({ status: "finished", outcome: "found", culpritSha: f.shas[3] });
    expect(job.options).toMatchObject({
      runs: 5,
      failThreshold: 3,
      predicate: { flaky: true, runs: 5, failThreshold: 3, crash: "skip", find: "regression" },
    });
    const body = status()!.body;
    expect(body).toContain(
      "Flaky test: each commit runs 5 times and fails when 3 or more runs fail",
    );
    expect(body).toContain(`/compare/${f.shas[0]}...${f.shas[5]}`);
    expect(body).toContain(`Comment \`/bisect verify ${job.id}\``);
    // No "#N" that GitHub would turn into a link to another issue or pull request.
    expect(body).not.toMatch(new RegExp(`#${job.id}\\b`));
    // Each note of a row is said once.
    const rows = body.split("\n").filter((l) => /^\| \d+ \| /.test(l));
    expect(rows.length).toBeGreaterThanOrEqual(10);
    for (const row of rows) {
      const notes = row.split("|").at(-2)!.trim();
      const parts = notes ? notes.split(", ") : [];
      expect(new Set(parts).size, row).toBe(parts.length);
    }
    expect(body).not.toContain("exit 1, exit 1");

    const edits = status()!.history.length;
    const verify = userComment(f, `/bisect verify ${job.id}`, { issue });
    expect((await send(config, db.current.knex, "issue_comment", verify)).status).toBe(202);
    await expect
      .poll(() => status()?.body ?? "", { timeout: 240_000, interval: 500 })
      .toMatch(/✅ \*\*Verified\*\* by \[bisection \d+\]/);
    const check = (await BisectJob.query(db.current.knex).findOne({
      triggerCommentId: verify.comment.id,
    }))!;
    expect(check).toMatchObject({ status: "finished", outcome: "found", culpritSha: f.shas[3] });
    expect(check.options.verify).toEqual({
      jobId: job.id,
      culprit: f.shas[3],
      parent: f.shas[2],
      runs: 5,
    });
    const final = status()!;
    expect(final.body).toContain(
      `The commit ${f.shas[3]!.slice(0, 7)} was bad in 5 of 5 runs; its parent ${f.shas[2]!.slice(0, 7)} was bad in 0 of 5 runs. Confidence 100%: confirmed as the first bad commit.`,
    );
    expect(final.history.length).toBeGreaterThan(edits);
    // The verification edited the conclusion: no second status comment on the issue.
    expect(
      f.standIn
        .comments(REPO.owner, REPO.name, issue)
        .filter((c) => c.user === "bisect-bot[bot]" && !c.deleted),
    ).toHaveLength(1);
  }, 600_000);
  it("--flaky on a test that fails one run in four on good commits names the right commit", async () => {
    const issue = 19;
    const payload = userComment(f, "/bisect v1.4.0 main --flaky --parallel 2 -- ./flaky.sh", {
      issue,
    });
    expect((await send(config, db.current.knex, "issue_comment", payload)).status).toBe(202);
    const status = () =>
      f.standIn
        .comments(REPO.owner, REPO.name, issue)
        .find((c) => c.user === "bisect-bot[bot]" && !c.deleted && /Bisection \d+/.test(c.body));
    await expect
      .poll(() => status()?.body ?? "", { timeout: 240_000, interval: 500 })
      .toMatch(/first bad commit \(not sure\)|found the first bad commit|failed|could not finish/);
    const job = (await BisectJob.query(db.current.knex).findOne({
      triggerCommentId: payload.comment.id,
    }))!;
    expect(job).toMatchObject({ status: "finished", culpritSha: f.shas[3] });
    const body = status()!.body;
    // The parent fails on runs 1, 5, 9, 13: its pass rate stays below 90%, so the answer is
    // "likely", with its numbers and the commands that settle it, never "found".
    expect(job.outcome).toBe("likely");
    expect(job.confidence).toBeLessThan(0.9);
    expect(body).toContain("**Likely, not sure:**");
    expect(body).toMatch(new RegExp(`its parent ${f.shas[2]!.slice(0, 7)}: \\d+ of \\d+ runs bad`));
    expect(body).toContain(`/bisect verify ${job.id}`);
    expect(body).not.toContain("found the first bad commit");
    const steps = await BisectStep.query(db.current.knex).where({ bisectJobId: job.id });
    // Each good commit failed on some runs and still counted as good.
    const runsOf = (sha: string) => steps.filter((s) => s.sha === sha && s.status === "done");
    expect(runsOf(f.shas[2]!).some((s) => s.verdict === "bad")).toBe(true);
    expect(runsOf(f.shas[2]!).length).toBeGreaterThanOrEqual(5);
  }, 600_000);
});
