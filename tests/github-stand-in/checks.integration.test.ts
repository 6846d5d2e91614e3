// The stand-in's checks, statuses, compare, commit comments and issues, read through Octokit and
// compared with GitHub's published REST description (as @octokit/openapi-types carries it): each
// object has every field the description requires, and none it does not know.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createAppAuth } from "@octokit/auth-app";
import { Octokit } from "@octokit/rest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeAppKey } from "./server";
import { useStandIn } from "./use-stand-in";

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const INSTALLATION = 4242;
let work: string;
let dir: string;
let privateKey: string;
let shas: string[];

const DESCRIPTION = readFileSync("node_modules/@octokit/openapi-types/types.d.ts", "utf8");

/** The top-level fields of a schema in GitHub's REST description: required and optional. */
function schemaFields(name: string): { required: string[]; optional: string[] } {
  const key = /^\w+$/.test(name) ? name : `"${name}"`;
  const start = DESCRIPTION.indexOf(`\n    ${key}: {\n`);
  if (start < 0) throw new Error(`no schema ${name}`);
  const end = DESCRIPTION.indexOf("\n    };\n", start);
  const required: string[] = [];
  const optional: string[] = [];
  for (const line of DESCRIPTION.slice(start, end).split("\n")) {
    const m = /^ {6}"?([\w+-]+)"?(\?)?:/.exec(line);
    if (m) (m[2] ? optional : required).push(m[1]!);
  }
  return { required, optional };
}

function expectShape(name: string, value: unknown): void {
  const { required, optional } = schemaFields(name);
  // The description was read (a parse that found nothing would make this test pass vacuously).
  expect(required.length, name).toBeGreaterThan(4);
  const keys = Object.keys(value as object);
  expect(
    required.filter((k) => !keys.includes(k)),
    `${name}: missing required fields`,
  ).toEqual([]);
  expect(
    keys.filter((k) => !required.includes(k) && !optional.includes(k)),
    `${name}: fields the description does not know`,
  ).toEqual([]);
}

function octokit(): Octokit {
  return new Octokit({
    log: quiet,
    authStrategy: createAppAuth,
    auth: { appId: 1001, privateKey, installationId: INSTALLATION },
    baseUrl: standIn.urls.api,
  });
}

const repo = { owner: "acme", repo: "widgets" };

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "stand-in-checks-"));
  dir = path.join(work, "widgets");
  const env: NodeJS.ProcessEnv = {
    NODE_ENV: "test",
    PATH: process.env.PATH,
    HOME: work,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "Carol",
    GIT_AUTHOR_EMAIL: "carol@example.com",
    GIT_COMMITTER_NAME: "Carol",
    GIT_COMMITTER_EMAIL: "carol@example.com",
  };
  execFileSync("git", ["init", "-q", "-b", "main", dir], { env });
  shas = [];
  for (let i = 1; i <= 3; i++) {
    writeFileSync(path.join(dir, "n.txt"), `${i}\n`);
    execFileSync("git", ["-C", dir, "add", "-A"], { env });
    execFileSync("git", ["-C", dir, "commit", "-q", "-m", `Change ${i}`], { env });
    shas.push(
      execFileSync("git", ["-C", dir, "rev-parse", "HEAD"], { env, encoding: "utf8" }).trim(),
    );
  }
  privateKey = makeAppKey();
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

const standIn = useStandIn(() => ({
  app: { id: 1001, slug: "bisect-bot", privateKey },
  repositories: [{ owner: "acme", name: "widgets", path: dir, private: true }],
  installations: [
    {
      id: INSTALLATION,
      account: { login: "acme", type: "Organization" },
      permissions: {
        metadata: "read",
        contents: "write",
        issues: "write",
        checks: "read",
        statuses: "read",
      },
    },
  ],
}));

describe("check runs and suites", () => {
  it("lists a commit's check runs, filtered by name and status, the latest per name by default", async () => {
    await standIn.checks.addCheckRun("acme", "widgets", {
      ref: shas[1]!,
      name: "lint",
      conclusion: "failure",
    });
    const rerun = await standIn.checks.addCheckRun("acme", "widgets", {
      ref: shas[1]!,
      name: "lint",
      conclusion: "success",
    });
    await standIn.checks.addCheckRun("acme", "widgets", {
      ref: shas[1]!,
      name: "test",
      status: "in_progress",
    });
    const gh = octokit();
    const { data } = await gh.rest.checks.listForRef({
      ...repo,
      ref: shas[1]!,
      check_name: "lint",
    });
    expect(data.total_count).toBe(1);
    expect(data.check_runs[0]).toMatchObject({
      id: rerun.id,
      name: "lint",
      status: "completed",
      conclusion: "success",
      head_sha: shas[1],
    });
    expectShape("check-run", data.check_runs[0]);
    expectShape("integration", data.check_runs[0]!.app);

    const all = await gh.rest.checks.listForRef({
      ...repo,
      ref: shas[1]!,
      check_name: "lint",
      filter: "all",
    });
    expect(all.data.check_runs.map((r) => r.conclusion)).toEqual(["success", "failure"]);
    const completed = await gh.rest.checks.listForRef({
      ...repo,
      ref: "main~1",
      status: "completed",
    });
    expect(completed.data.check_runs.map((r) => r.name)).toEqual(["lint"]);
    const none = await gh.rest.checks.listForRef({ ...repo, ref: shas[0]! });
    expect(none.data).toEqual({ total_count: 0, check_runs: [] });

    const one = await gh.rest.checks.get({ ...repo, check_run_id: rerun.id });
    expect(one.data.html_url).toBe(rerun.htmlUrl);

    const suites = await gh.rest.checks.listSuitesForRef({ ...repo, ref: shas[1]! });
    expect(suites.data.total_count).toBe(1);
    expect(suites.data.check_suites[0]).toMatchObject({
      head_branch: "main",
      head_sha: shas[1],
      status: "in_progress",
      latest_check_runs_count: 3,
    });
    expectShape("check-suite", suites.data.check_suites[0]);
  });

  it("refuses without checks: read, and sends the check_run webhook GitHub would", async () => {
    const run = await standIn.checks.addCheckRun("acme", "widgets", {
      ref: shas[2]!,
      name: "unit",
      conclusion: "failure",
    });
    const token = standIn.issueInstallationToken(INSTALLATION, {
      permissions: { contents: "read" },
    });
    const limited = new Octokit({ log: quiet, auth: token, baseUrl: standIn.urls.api });
    await expect(limited.rest.checks.listForRef({ ...repo, ref: shas[2]! })).rejects.toMatchObject({
      status: 403,
    });
    const event = standIn.checks.checkRunEvent(run.id, INSTALLATION) as {
      action: string;
      check_run: Record<string, unknown> & { check_suite: { head_branch: string } };
      repository: { default_branch: string };
      installation: { id: number };
    };
    expect(event.action).toBe("completed");
    expect(event.check_run.check_suite.head_branch).toBe(event.repository.default_branch);
    expect(event.installation.id).toBe(INSTALLATION);
  });
});

describe("commit statuses", () => {
  it("lists a commit's statuses and combines the latest per context", async () => {
    await standIn.checks.addStatus("acme", "widgets", {
      ref: shas[2]!,
      state: "pending",
      context: "ci/build",
    });
    await standIn.checks.addStatus("acme", "widgets", {
      ref: shas[2]!,
      state: "success",
      context: "ci/build",
    });
    await standIn.checks.addStatus("acme", "widgets", {
      ref: shas[2]!,
      state: "failure",
      context: "ci/deploy",
    });
    const gh = octokit();
    const list = await gh.rest.repos.listCommitStatusesForRef({ ...repo, ref: shas[2]! });
    expect(list.data.map((s) => s.state)).toEqual(["failure", "success", "pending"]);
    expectShape("status", list.data[0]);
    const combined = await gh.rest.repos.getCombinedStatusForRef({ ...repo, ref: shas[2]! });
    expect(combined.data).toMatchObject({ state: "failure", total_count: 2, sha: shas[2] });
    expectShape("combined-commit-status", combined.data);
  });
});

describe("what an app writes and compares", () => {
  it("compares two commits, creates commit comments and issues with labels", async () => {
    const gh = octokit();
    const ahead = await gh.rest.repos.compareCommitsWithBasehead({
      ...repo,
      basehead: `${shas[0]}...${shas[2]}`,
    });
    expect(ahead.data).toMatchObject({ status: "ahead", ahead_by: 2, behind_by: 0 });
    const behind = await gh.rest.repos.compareCommitsWithBasehead({
      ...repo,
      basehead: `${shas[2]}...${shas[0]}`,
    });
    expect(behind.data.status).toBe("behind");

    const comment = await gh.rest.repos.createCommitComment({
      ...repo,
      commit_sha: shas[1]!,
      body: "found it",
    });
    expect(comment.status).toBe(201);
    expectShape("commit-comment", comment.data);
    expect(standIn.checks.commitComments("acme", "widgets")).toEqual([
      { id: comment.data.id, sha: shas[1], body: "found it", user: "bisect-bot[bot]" },
    ]);

    const issue = await gh.rest.issues.create({
      ...repo,
      title: "lint broke",
      body: "details",
      labels: ["regression"],
    });
    expect(issue.data).toMatchObject({
      title: "lint broke",
      state: "open",
      labels: [{ name: "regression" }],
    });
    expectShape("issue", issue.data);
    expectShape("label", issue.data.labels[0]);
    const again = await gh.rest.issues.get({ ...repo, issue_number: issue.data.number });
    expect(again.data.html_url).toBe(issue.data.html_url);

    const reader = new Octokit({
      log: quiet,
      auth: standIn.issueInstallationToken(INSTALLATION, { permissions: { contents: "read" } }),
      baseUrl: standIn.urls.api,
    });
    await expect(
      reader.rest.repos.createCommitComment({ ...repo, commit_sha: shas[1]!, body: "x" }),
    ).rejects.toMatchObject({ status: 403 });
    standIn.assertNoUnexpected();
  });
});
