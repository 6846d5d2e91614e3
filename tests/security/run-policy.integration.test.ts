// The operator owns the network policy: `network` and `image` come from `.github/bisect.yml` on the
// default branch, never from the bad revision (any commit, a fork's included), and test runs get
// network only where the operator allows it for the plan; a plan bounds how many slots one
// installation holds, and a larger --parallel is lowered with a word in the acknowledgement; the
// plan gives each run its memory, CPUs, disk and timeout, within the runner hosts' own limits.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { BisectJob } from "../../db/models";
import { limitsOf } from "../../jobs/farm/policy";
import { useTestDatabase } from "../helpers/database";
import { useInstalledApp } from "../github/installed";
import { REPO, userComment } from "../github/support";

const db = useTestDatabase();
const app = useInstalledApp(db);
let issues = 900;
const MiB = 1024 * 1024;
const knex = () => db.current.knex;

async function bisect(bad: string, options = "") {
  const payload = userComment(app.f, `/bisect v1.4.0 ${bad} ${options} -- ./test.sh`, {
    issue: ++issues,
  });
  await app.deliver("issue_comment", payload);
  const job = await BisectJob.query(knex()).findOne({ triggerCommentId: payload.comment.id });
  expect(job, "a job was created").toBeDefined();
  return job!;
}

/** Commits a `.github/bisect.yml` on a branch of the fixture repository; returns the commit. */
function commitConfig(branch: string, yaml: string): string {
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", app.f.repoPath, ...args], {
      encoding: "utf8",
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "t",
        GIT_AUTHOR_EMAIL: "t@example.com",
        GIT_COMMITTER_NAME: "t",
        GIT_COMMITTER_EMAIL: "t@example.com",
      },
    }).trim();
  git("checkout", "-q", "-B", branch, "main");
  mkdirSync(path.join(app.f.repoPath, ".github"), { recursive: true });
  writeFileSync(path.join(app.f.repoPath, ".github", "bisect.yml"), yaml);
  git("commit", "-q", "-am", `config on ${branch}`);
  const sha = git("rev-parse", "HEAD");
  git("checkout", "-q", "main");
  return sha;
}

beforeAll(async () => {
  // Every plan allows network here, so only where the setting is read from decides.
  await knex()("rateLimits").update({ testNetwork: true });
});

describe("network and image", () => {
  it("set only on a fork's commit give no network and the default image", async () => {
    // The default branch says nothing of network or image (whichever test changed it before).
    commitConfig("main", "setup: echo setting up\ntimeout: 5m\nruns: 1\n");
    const forkSha = commitConfig("fork-pr", "network: true\nimage: attacker/toolbox:latest\n");
    const job = await bisect(forkSha);
    expect(job.options.network).toBe(false);
    expect(job.options.image).toBeUndefined();
  });

  it("set on the default branch are honoured where the plan allows network", async () => {
    const sha = commitConfig("main", "network: true\nimage: node:20-bookworm\n");
    const job = await bisect(sha.slice(0, 12));
    expect(job.options).toMatchObject({ network: true, image: "node:20-bookworm" });

    await knex()("rateLimits").update({ testNetwork: false });
    try {
      const refused = await bisect("main");
      expect(refused.options.network).toBe(false);
    } finally {
      await knex()("rateLimits").update({ testNetwork: true });
    }
  });
});

describe("the plan's parallel limit", () => {
  it("lowers a larger --parallel and says so in the acknowledgement", async () => {
    const job = await bisect("main", "--parallel 8");
    expect(job.options.parallel).toBe(2); // the free plan's max_parallel
    const ack = app.f.standIn
      .comments(REPO.owner, REPO.name, job.issueNumber!)
      .find((c) => c.id === job.statusCommentId);
    expect(ack?.body).toContain("2 commits at a time (lowered from 8 by the free plan)");
  });
});

describe("the plan's run resources", () => {
  // Runner hosts that could give any plan more than it has: only the plan decides.
  const roomy = () =>
    loadConfig({
      DATABASE_URL: db.current.url,
      RUNNER_MEMORY_MB: "65536",
      RUNNER_CPUS: "16",
      RUNNER_WORK_MB: "1048576",
      RUNNER_STEP_TIMEOUT_SECONDS: "86400",
    });

  it("gives a free-plan job the free plan's memory, CPUs, disk and run timeout", async () => {
    const job = await bisect("main", "--timeout 1h");
    expect(job.options.resources).toEqual({ memoryMb: 1024, cpus: 1, workMb: 2048 });
    expect(job.options.timeoutSeconds).toBe(1800);
    expect(limitsOf(roomy(), job)).toMatchObject({
      memoryBytes: 1024 * MiB,
      nanoCpus: 1e9,
      workBytes: 2048 * MiB,
    });
    const ack = app.f.standIn
      .comments(REPO.owner, REPO.name, job.issueNumber!)
      .find((c) => c.id === job.statusCommentId);
    expect(ack?.body).toContain("30m per run (capped from 1h by the free plan)");
  });

  it("follows the plan when the operator changes it or moves the installation to another", async () => {
    await knex()("rateLimits")
      .where({ tier: "free" })
      .update({ runMemoryMb: 512, runTimeoutSeconds: 300 });
    const changed = await bisect("main", "--timeout 20m");
    expect(changed.options.resources).toMatchObject({ memoryMb: 512 });
    expect(changed.options.timeoutSeconds).toBe(300);
    await knex()("installations").update({ tier: "pro" });
    try {
      const job = await bisect("main", "--timeout 20m");
      expect(job.options.resources).toEqual({ memoryMb: 4096, cpus: 2, workMb: 10240 });
      expect(job.options.timeoutSeconds).toBe(1200);
      // Never more than the runner hosts' own limits.
      expect(limitsOf(loadConfig({ DATABASE_URL: db.current.url }), job)).toMatchObject({
        memoryBytes: 1024 * MiB,
        nanoCpus: 1e9,
        workBytes: 1024 * MiB,
      });
    } finally {
      await knex()("installations").update({ tier: "free" });
      await knex()("rateLimits")
        .where({ tier: "free" })
        .update({ runMemoryMb: 1024, runTimeoutSeconds: 1800 });
    }
  });
});
