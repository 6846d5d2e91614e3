// Automatic bisection end to end: nobody types anything. The stand-in records green runs of a
// configured check further back and sends a red check_run for the head of main; the worker
// finds the last green from GitHub's record, bisects on real Docker engines, and comments on
// the culprit's pull request, mentioning its author.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../config/env";
import { AutoBisection, BisectJob } from "../../db/models";
import { startWorker, type StartedWorker } from "../../jobs/worker";
import { registerHost } from "../../jobs/farm/hosts";
import { useTestDatabase } from "../helpers/database";
import {
  dockerRequired,
  ensureImageEverywhere,
  tlsEngines,
  type TestEngine,
} from "../helpers/engines";
import { commitAutoConfig } from "./auto-support";
import { webhookFixture } from "./installed";
import {
  INSTALLATION_ID,
  REPO,
  send,
  startFixture,
  testConfig,
  testContext,
  type Fixture,
} from "./support";

const { engines, problem } = await tlsEngines();
if (problem && dockerRequired) throw new Error(`Docker engines are required in CI: ${problem}`);
if (problem) console.warn(`skipping the automatic bisection end-to-end test: ${problem}`);
const suite = problem ? describe.skip : describe;

suite("automatic bisection end to end", () => {
  const db = useTestDatabase();
  let f: Fixture;
  let config: Config;
  let worker: StartedWorker;
  let head: string;

  beforeAll(async () => {
    await ensureImageEverywhere(engines as TestEngine[]);
    f = await startFixture();
    head = commitAutoConfig(f, ["test (ubuntu-latest)"], "pull-request");
    f.standIn.setPullsForCommit(REPO.owner, REPO.name, f.shas[3]!, [
      { number: 42, title: "New date parser", merged: true, user: "carol" },
    ]);
    const permissions = webhookFixture("installation.new_permissions_accepted").installation
      .permissions;
    f.standIn.updateInstallation(INSTALLATION_ID, { permissions });
    for (const e of engines) {
      await registerHost(db.current.knex, {
        name: e.name,
        dockerEndpoint: e.endpoint,
        tlsPath: e.tlsPath,
        capacity: 2,
        source: "admin",
      });
    }
    config = testConfig(f, db.current.url, {
      WORKER_CONCURRENCY: "8",
      RUNNER_FETCH_NETWORK: "host",
    });
    const { github } = testContext(config, db.current.knex, db.current.url);
    worker = await startWorker(config, { registerEnvHost: false, ctx: { github } });
  }, 600_000);

  afterEach(() => {
    f.standIn.assertNoUnexpected();
  });

  afterAll(async () => {
    await worker?.stop();
    await f?.close();
  });

  it("a red check_run at the head of main ends as a comment on the culprit's pull request", async () => {
    const accepted = webhookFixture("installation.new_permissions_accepted");
    expect((await send(config, db.current.knex, "installation", accepted)).status).toBe(202);
    const check = "test (ubuntu-latest)";
    // GitHub's record: green on the first two commits, nothing in between, red at the head.
    for (const ref of [f.shas[0]!, f.shas[1]!])
      await f.standIn.checks.addCheckRun(REPO.owner, REPO.name, {
        ref,
        name: check,
        conclusion: "success",
      });
    const red = await f.standIn.checks.addCheckRun(REPO.owner, REPO.name, {
      ref: head,
      name: check,
      conclusion: "failure",
    });
    const delivery = f.standIn.checks.checkRunEvent(red.id, INSTALLATION_ID);
    expect((await send(config, db.current.knex, "check_run", delivery)).status).toBe(202);

    const answer = () =>
      f.standIn.comments(REPO.owner, REPO.name, 42).find((c) => c.user === "bisect-bot[bot]");
    await expect
      .poll(() => answer()?.body ?? "", { timeout: 240_000, interval: 500 })
      .toMatch(/found the first bad commit|failed|could not finish/);

    const body = answer()!.body;
    expect(body).toContain(`🤖 Automatic bisection: \`${check}\` turned red on \`main\``);
    expect(body).toContain("@carol, the first bad commit below is yours");
    expect(body).toMatch(/found the first bad commit/);
    expect(body).toContain(
      `[\`${f.shas[3]!.slice(0, 7)}\` Parse dates with the new parser](${f.standIn.urls.web}/acme/widgets/commit/${f.shas[3]})`,
    );
    expect(body).toContain(`([check run](${red.htmlUrl}))`);
    expect(body).toContain("Reproduce locally");

    // The answer is posted first and recorded after: wait for the record.
    const record = () => AutoBisection.query(db.current.knex).findOne({ checkName: check });
    await expect.poll(async () => (await record())?.state, { timeout: 30_000 }).toBe("reported");
    const auto = (await record())!;
    expect(auto).toMatchObject({ greenSha: f.shas[1], redSha: head, state: "reported" });
    expect(auto.reportUrl).toBe(answer()!.htmlUrl);
    const job = (await BisectJob.query(db.current.knex).findById(auto.bisectJobId!))!;
    expect(job).toMatchObject({
      source: "auto",
      status: "finished",
      outcome: "found",
      culpritSha: f.shas[3],
      requesterLogin: null,
    });
    // Nobody typed a comment: the bot's answer is the only comment anywhere, and there is one.
    for (const issue of [17, 42])
      expect(
        f.standIn
          .comments(REPO.owner, REPO.name, issue)
          .filter((c) => c.user !== "bisect-bot[bot]"),
      ).toEqual([]);
    expect(f.standIn.comments(REPO.owner, REPO.name, 42)).toHaveLength(1);
  }, 300_000);
});
