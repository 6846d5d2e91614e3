// A small world for dashboard tests: a GitHub stand-in with two organisations and three people,
// the environment that points the product at it, and rows a worker would have written.
import { createHash, randomBytes } from "node:crypto";
import type { Knex } from "knex";
import { makeAppKey, startGitHubStandIn, type StandIn } from "../github-stand-in/server";

export const APP = {
  id: 1001,
  slug: "bisect-bot",
  clientId: "Iv23liDashboard",
  clientSecret: "dashboard-client-secret",
};
export const ACME = { installationId: 4242, login: "acme", accountId: 5001 };
export const BOBCO = { installationId: 5353, login: "bobco", accountId: 5002 };
export const REPOS = {
  widgets: { id: 700101, owner: "acme", name: "widgets", installationId: ACME.installationId },
  gadgets: { id: 700102, owner: "acme", name: "gadgets", installationId: ACME.installationId },
  tools: { id: 700201, owner: "bobco", name: "tools", installationId: BOBCO.installationId },
} as const;

export interface World {
  standIn: StandIn;
  publicUrl: string;
  env: Record<string, string>;
}

/**
 * Starts the stand-in: alice belongs to acme and may push to its repositories, bob likewise for
 * bobco, carol belongs to nothing.
 */
export async function startWorld(publicUrl: string): Promise<World> {
  const privateKey = makeAppKey();
  const standIn = await startGitHubStandIn({
    app: {
      id: APP.id,
      slug: APP.slug,
      privateKey,
      clientId: APP.clientId,
      clientSecret: APP.clientSecret,
      callbackUrls: [`${publicUrl}/auth/callback`],
    },
    users: [
      { login: "alice", id: 9101, name: "Alice Example" },
      { login: "bob", id: 9102, name: "Bob Builder" },
      { login: "carol", id: 9103 },
    ],
    repositories: Object.values(REPOS).map((r) => ({
      id: r.id,
      owner: r.owner,
      name: r.name,
      private: r.name !== "gadgets",
      defaultBranch: "main",
      path: "/nonexistent/repository.git",
    })),
    installations: [
      {
        id: ACME.installationId,
        account: { login: ACME.login, type: "Organization", id: ACME.accountId },
        members: ["alice"],
      },
      {
        id: BOBCO.installationId,
        account: { login: BOBCO.login, type: "Organization", id: BOBCO.accountId },
        members: ["bob"],
      },
    ],
  });
  for (const r of Object.values(REPOS))
    standIn.setPermission(r.owner, r.name, r.owner === ACME.login ? "alice" : "bob", "write");
  const env: Record<string, string> = {
    NODE_ENV: "test",
    PUBLIC_URL: publicUrl,
    SESSION_SECRET: randomBytes(32).toString("hex"),
    ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    GITHUB_APP_ID: String(APP.id),
    GITHUB_APP_SLUG: APP.slug,
    GITHUB_APP_PRIVATE_KEY: privateKey,
    GITHUB_WEBHOOK_SECRET: randomBytes(16).toString("hex"),
    GITHUB_CLIENT_ID: APP.clientId,
    GITHUB_CLIENT_SECRET: APP.clientSecret,
    GITHUB_URL: standIn.urls.web,
    GITHUB_API_URL: standIn.urls.api,
  };
  return { standIn, publicUrl, env };
}

/** Our rows for the two installations and their repositories (as the webhook would record them). */
export async function seedInstallations(
  knex: Knex,
  tiers: { acme?: string; bobco?: string } = {},
): Promise<void> {
  await knex("installations")
    .insert([
      {
        id: ACME.installationId,
        accountId: ACME.accountId,
        accountLogin: ACME.login,
        accountType: "Organization",
        tier: tiers.acme ?? "free",
      },
      {
        id: BOBCO.installationId,
        accountId: BOBCO.accountId,
        accountLogin: BOBCO.login,
        accountType: "Organization",
        tier: tiers.bobco ?? "pro",
      },
    ])
    .onConflict("id")
    .ignore();
  await knex("repositories")
    .insert(
      Object.values(REPOS).map((r) => ({
        id: r.id,
        installationId: r.installationId,
        owner: r.owner,
        name: r.name,
        private: r.name !== "gadgets",
        defaultBranch: "main",
      })),
    )
    .onConflict("id")
    .ignore();
}

/** A commit id for commit number n (stable, realistic-looking). */
export const sha = (n: number) => createHash("sha1").update(`commit ${n}`).digest("hex");

/** A linear commit graph good=c0 … bad=cN, as bisect__prepare stores it. */
export function linearGraph(n: number) {
  const commits: Record<string, { parents: string[] }> = {};
  for (let i = 1; i <= n; i++) commits[sha(i)] = { parents: [sha(i - 1)] };
  return { good: sha(0), bad: sha(n), commits };
}

export interface JobSeed {
  repo?: keyof typeof REPOS | null;
  status?: string;
  issueNumber?: number;
  requesterLogin?: string;
  commits?: number;
  outcome?: string | null;
  culprit?: number | null;
}

/** A bisection job row as intake + bisect__prepare leave it. */
export async function seedJob(knex: Knex, seed: JobSeed = {}): Promise<number> {
  const repo = seed.repo === null ? null : REPOS[seed.repo ?? "widgets"];
  const commits = seed.commits ?? 16;
  const graph = linearGraph(commits);
  const [row] = await knex("bisectJobs")
    .insert({
      installationId: repo?.installationId ?? null,
      repositoryId: repo?.id ?? null,
      repoUrl: repo ? null : "/srv/some/repository.git",
      source: repo ? "github" : "cli",
      issueNumber: repo ? (seed.issueNumber ?? 7) : null,
      requesterLogin: seed.requesterLogin ?? "alice",
      goodRef: "v1.4.0",
      badRef: "main",
      goodSha: graph.good,
      badSha: graph.bad,
      command: 'npm test -- -t "parses dates"',
      options: JSON.stringify({ parallel: 2 }),
      graph: JSON.stringify(graph),
      commitCount: commits,
      status: seed.status ?? "running",
      outcome: seed.outcome ?? null,
      culpritSha: seed.culprit ? sha(seed.culprit) : null,
      startedAt: new Date(),
    })
    .returning("id");
  return (row as { id: number }).id;
}

export async function addStep(
  knex: Knex,
  jobId: number,
  step: {
    commit: number;
    round: number;
    verdict?: "good" | "bad" | "skip" | "error" | null;
    log?: string;
  },
): Promise<void> {
  const done = step.verdict !== undefined && step.verdict !== null;
  await knex("bisectSteps").insert({
    bisectJobId: jobId,
    sha: sha(step.commit),
    round: step.round,
    status: done ? "done" : "running",
    verdict: done ? step.verdict : null,
    exitCode: done ? (step.verdict === "good" ? 0 : step.verdict === "skip" ? 125 : 1) : null,
    durationMs: done ? 1500 + step.commit * 10 : null,
    logExcerpt:
      step.log ??
      (done
        ? `$ npm test\n${step.verdict === "good" ? "ok 12 tests" : "not ok 3 parses dates"}\n`
        : null),
    startedAt: new Date(),
    finishedAt: done ? new Date() : null,
  });
}
