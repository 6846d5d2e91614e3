// What the GitHub tests share: a git repository served by the GitHub stand-in, the product's
// configuration pointed at the stand-in, signed deliveries sent through the webhook route, and
// running the recorded deliveries' task directly.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Knex } from "knex";
import { receiveWebhook } from "../../app/webhook.server";
import { loadConfig, type Config } from "../../config/env";
import { GitHubApp } from "../../jobs/github/app-client";
import { StatusCommentCache } from "../../jobs/github/status-cache";
import { handleDelivery } from "../../jobs/github/deliveries";
import type { Handled } from "../../jobs/github/installations";
import type { WorkerContext } from "../../jobs/worker-context";
import { makeAppKey, startGitHubStandIn, type StandIn } from "../github-stand-in/server";
import {
  issueCommentPayload,
  webhookHeaders,
  type AuthorAssociation,
  type PersonRef,
} from "../github-stand-in/webhook";
import { queuedJobs } from "../helpers/queue";

export const APP_ID = 1001;
export const INSTALLATION_ID = 4242;
export const REPO = { owner: "acme", name: "widgets", id: 700001, ownerId: 9001 } as const;
export const ALICE: PersonRef = { login: "alice", id: 9101 };
export const WEBHOOK_SECRET = "test-webhook-secret-0123456789";

export interface Fixture {
  standIn: StandIn;
  work: string;
  repoPath: string;
  /** SHAs of the repository's commits, oldest first; `v1.4.0` is the first, `main` the last. */
  shas: string[];
  privateKey: string;
  close(): Promise<void>;
}

const gitEnv = (home: string): NodeJS.ProcessEnv => ({
  NODE_ENV: "test",
  PATH: process.env.PATH,
  HOME: home,
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "Carol Example",
  GIT_AUTHOR_EMAIL: "carol@example.com",
  GIT_COMMITTER_NAME: "Carol Example",
  GIT_COMMITTER_EMAIL: "carol@example.com",
});

/**
 * acme/widgets: six commits; the fourth ("Parse dates with the new parser") breaks `test.sh`.
 * `flaky.sh` breaks there too, and before it fails on one run in four (by BISECT_RUN).
 * `main` carries a valid `.github/bisect.yml`; the branch `broken-config` an invalid one.
 */
export function makeWidgets(dir: string): { path: string; shas: string[] } {
  const repo = path.join(dir, "widgets");
  const env = gitEnv(dir);
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", repo, ...args], { env, encoding: "utf8" }).trim();
  execFileSync("git", ["init", "-q", "-b", "main", repo], { env });
  const shas: string[] = [];
  for (let i = 1; i <= 6; i++) {
    writeFileSync(path.join(repo, "version.txt"), `${i}\n`);
    writeFileSync(
      path.join(repo, "test.sh"),
      i >= 4 ? "#!/bin/sh\necho 'FAIL parses dates'\nexit 1\n" : "#!/bin/sh\necho ok\nexit 0\n",
      { mode: 0o755 },
    );
    // Flaky from the start: fails on runs 1, 5, 9… of a commit (25%, the same on every test run).
    writeFileSync(
      path.join(repo, "flaky.sh"),
      i >= 4
        ? "#!/bin/sh\necho 'FAIL parses dates'\nexit 1\n"
        : '#!/bin/sh\nif [ $(( ${BISECT_RUN:-1} % 4 )) -eq 1 ]; then echo "FAIL timing"; exit 1; fi\necho ok\n',
      { mode: 0o755 },
    );
    if (i === 6) {
      mkdirSync(path.join(repo, ".github"), { recursive: true });
      writeFileSync(
        path.join(repo, ".github", "bisect.yml"),
        "setup: echo setting up\ntimeout: 5m\nruns: 1\npathspec: [version.txt, test.sh]\n",
      );
    }
    git("add", "-A");
    git(
      "commit",
      "-q",
      "-m",
      i === 4 ? "Parse dates with the new parser\n\nSwitches to the faster parser." : `Change ${i}`,
    );
    shas.push(git("rev-parse", "HEAD"));
  }
  git("tag", "v1.4.0", shas[0]!);
  git("checkout", "-q", "-b", "broken-config");
  writeFileSync(path.join(repo, ".github", "bisect.yml"), "runs: 9\ntimout: 5\n");
  git("commit", "-q", "-am", "Break the config");
  git("checkout", "-q", "main");
  return { path: repo, shas };
}

export async function startFixture(): Promise<Fixture> {
  const work = mkdtempSync(path.join(tmpdir(), "bisect-github-test-"));
  const { path: repoPath, shas } = makeWidgets(work);
  const privateKey = makeAppKey();
  const standIn = await startGitHubStandIn({
    app: { id: APP_ID, slug: "bisect-bot", privateKey },
    users: [
      { login: "alice", id: 9101, emails: [] },
      { login: "carol", id: 9103, name: "Carol Example", emails: ["carol@example.com"] },
      { login: "mallory", id: 9666 },
    ],
    repositories: [
      { owner: REPO.owner, name: REPO.name, id: REPO.id, path: repoPath, private: true },
    ],
    installations: [
      {
        id: INSTALLATION_ID,
        account: { login: "acme", type: "Organization", id: REPO.ownerId },
        repositories: ["acme/widgets"],
        members: ["bob"],
      },
    ],
  });
  standIn.setPermission(REPO.owner, REPO.name, "alice", "write");
  standIn.setPermission(REPO.owner, REPO.name, "mallory", "read");
  return {
    standIn,
    work,
    repoPath,
    shas,
    privateKey,
    close: async () => {
      await standIn.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

export function testConfig(
  f: Fixture,
  databaseUrl: string,
  extra: Record<string, string> = {},
): Config {
  return loadConfig({
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: "error",
    PUBLIC_URL: "https://bisect.example.com",
    GITHUB_APP_ID: String(APP_ID),
    GITHUB_APP_SLUG: "bisect-bot",
    GITHUB_APP_PRIVATE_KEY: f.privateKey,
    GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
    GITHUB_CLIENT_ID: "Iv23liTestClient",
    GITHUB_CLIENT_SECRET: "client-secret",
    GITHUB_API_URL: f.standIn.urls.api,
    GITHUB_URL: f.standIn.urls.web,
    ...extra,
  });
}

export function testContext(config: Config, knex: Knex, url: string): WorkerContext {
  // Writes 20 ms apart keep the tests quick; the gate itself is unit-tested at GitHub's 1 s.
  const github = new GitHubApp(config.github!, { writeIntervalMs: 20, readRetryDelaysMs: [50] });
  return Object.assign(
    { config, knex, workerDatabaseUrl: url, github, statusComments: new StatusCommentCache() },
    { instanceId: "github-tests" },
  );
}

let deliveries = 0;
export function newDeliveryId(): string {
  deliveries++;
  return `7d0c1a30-0000-4000-8000-${String(Date.now() % 1e8).padStart(8, "0")}${String(deliveries).padStart(4, "0")}`;
}

export function signedRequest(
  event: string,
  payload: unknown,
  options: {
    deliveryId?: string;
    secret?: string;
    raw?: string;
    headers?: Record<string, string>;
  } = {},
): Request {
  const body = options.raw ?? JSON.stringify(payload);
  const headers = {
    ...webhookHeaders(
      event,
      options.deliveryId ?? newDeliveryId(),
      body,
      options.secret ?? WEBHOOK_SECRET,
    ),
    ...options.headers,
  };
  return new Request("http://localhost/webhook", { method: "POST", headers, body });
}

export async function send(
  config: Config,
  knex: Knex,
  event: string,
  payload: unknown,
  options: Parameters<typeof signedRequest>[2] = {},
): Promise<Response> {
  return receiveWebhook(signedRequest(event, payload, options), { config, db: () => knex });
}

let commentIds = 3_000_000_000;
export interface CommentOptions {
  id?: number;
  user?: PersonRef;
  association?: AuthorAssociation;
  issue?: number;
  action?: "created" | "edited" | "deleted";
}

export type CommentDelivery = Record<string, unknown> & { comment: { id: number; body: string } };

export function commentPayload(body: string, options: CommentOptions = {}): CommentDelivery {
  return issueCommentPayload({
    action: options.action ?? "created",
    installationId: INSTALLATION_ID,
    repo: REPO,
    issue: { number: options.issue ?? 17, title: "Date parsing broke somewhere after v1.4.0" },
    comment: {
      id: options.id ?? ++commentIds,
      body,
      user: options.user ?? ALICE,
      author_association: options.association ?? "MEMBER",
    },
  }) as CommentDelivery;
}

/** A comment as someone wrote it on the stand-in's issue, and the delivery GitHub sends for it. */
export function userComment(f: Fixture, body: string, options: CommentOptions = {}) {
  const user = options.user ?? ALICE;
  const seeded = f.standIn.seedComment(REPO.owner, REPO.name, options.issue ?? 17, {
    body,
    user: user.login,
    id: options.id ?? ++commentIds,
  });
  return commentPayload(body, { ...options, id: seeded.id });
}

/** Runs the queued github__handle_delivery jobs the way the worker would, and removes them. */
export async function handleQueuedDeliveries(ctx: WorkerContext): Promise<Handled[]> {
  const results: Handled[] = [];
  for (const job of await queuedJobs(ctx.knex, "github__handle_delivery")) {
    results.push(await handleDelivery(ctx, String(job.payload.deliveryId)));
    await ctx.knex.raw("delete from graphile_worker._private_jobs where id = ?", [job.id]);
  }
  return results;
}
