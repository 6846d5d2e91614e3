// The GitHub stand-in, exercised with the real clients the product uses: Octokit with
// @octokit/auth-app, fetch for the OAuth web flow, the git command line for smart HTTP, and
// @octokit/webhooks for signatures.
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createAppAuth } from "@octokit/auth-app";
import { Octokit } from "@octokit/rest";
import { Webhooks } from "@octokit/webhooks";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_ROUTES, makeAppKey } from "./server";
import { useStandIn } from "./use-stand-in";
import { issueCommentPayload, signWebhook, webhookHeaders } from "./webhook";

const run = promisify(execFile);
// Octokit logs every failed request; the failures here are on purpose.
const noop = () => undefined;
const quiet = { debug: noop, info: noop, warn: noop, error: noop };
const APP_ID = 1001;
const INSTALLATION = 4242;

let work: string;
let widgets: string;
let privateKey: string;
let gitEnv: NodeJS.ProcessEnv;
let headSha: string;
let firstSha: string;

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run("git", args, { cwd, env: gitEnv });
  return stdout.trim();
}

function appOctokit(key = privateKey): Octokit {
  return new Octokit({
    log: quiet,
    authStrategy: createAppAuth,
    auth: { appId: APP_ID, privateKey: key },
    baseUrl: standIn.urls.api,
  });
}

function installationOctokit(): Octokit {
  return new Octokit({
    log: quiet,
    authStrategy: createAppAuth,
    auth: { appId: APP_ID, privateKey, installationId: INSTALLATION },
    baseUrl: standIn.urls.api,
  });
}

async function installationToken(repositoryNames?: string[]): Promise<string> {
  const auth = createAppAuth({
    appId: APP_ID,
    privateKey,
    request: new Octokit({ log: quiet, baseUrl: standIn.urls.api }).request,
  });
  const result = await auth({
    type: "installation",
    installationId: INSTALLATION,
    repositoryNames,
  });
  return result.token;
}

async function errorOf(p: Promise<unknown>): Promise<{
  status: number;
  message: string;
  response?: { headers: Record<string, string | undefined> };
}> {
  try {
    await p;
  } catch (err) {
    return err as {
      status: number;
      message: string;
      response?: { headers: Record<string, string | undefined> };
    };
  }
  throw new Error("expected the request to fail");
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "gh-stand-in-test-"));
  gitEnv = {
    ...process.env,
    HOME: work,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_TERMINAL_PROMPT: "0",
    GIT_AUTHOR_NAME: "Alice Example",
    GIT_AUTHOR_EMAIL: "alice@example.com",
    GIT_COMMITTER_NAME: "Alice Example",
    GIT_COMMITTER_EMAIL: "alice@example.com",
  };
  widgets = join(work, "widgets");
  await run("git", ["init", "-q", "-b", "main", widgets], { env: gitEnv });
  writeFileSync(join(widgets, "README.md"), "# widgets\n");
  await git(widgets, "add", ".");
  await git(widgets, "commit", "-q", "-m", "Initial commit");
  firstSha = await git(widgets, "rev-parse", "HEAD");
  await run("mkdir", ["-p", join(widgets, "src")]);
  writeFileSync(join(widgets, "src", "dates.js"), "export const parse = (s) => new Date(s);\n");
  await git(widgets, "add", ".");
  await git(widgets, "commit", "-q", "-m", "Parse dates\n\nUses the Date constructor.");
  headSha = await git(widgets, "rev-parse", "HEAD");
  await git(widgets, "tag", "v1.4.0", firstSha);
  // A bare copy serves as a second repository.
  await run("git", ["clone", "-q", "--bare", widgets, join(work, "gadgets.git")], { env: gitEnv });
  await run("git", ["clone", "-q", "--bare", widgets, join(work, "secret.git")], { env: gitEnv });

  privateKey = makeAppKey();
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const standIn = useStandIn(() => ({
  app: {
    id: APP_ID,
    slug: "bisect-bot",
    privateKey,
    clientId: "Iv23liTestClient",
    clientSecret: "s3cret",
  },
  users: [
    { login: "alice", id: 9101, name: "Alice Example", emails: ["alice@example.com"] },
    { login: "bob", id: 9102 },
  ],
  repositories: [
    { owner: "acme", name: "widgets", path: widgets, private: true },
    { owner: "acme", name: "gadgets", path: join(work, "gadgets.git") },
    { owner: "acme", name: "secret", path: join(work, "secret.git") },
  ],
  installations: [
    {
      id: INSTALLATION,
      account: { login: "acme", type: "Organization" },
      repositories: ["acme/widgets", "acme/gadgets"],
    },
  ],
}));

afterEach(() => {
  try {
    standIn.assertNoUnexpected();
  } finally {
    standIn.clearRequests();
    standIn.clearFaults();
    standIn.resetAllowed();
  }
});

describe("GitHub App authentication", () => {
  it("gives @octokit/auth-app an installation token and serves the app endpoints", async () => {
    // Other tests of this file issue tokens too, in any order: look at this test's own.
    const issuedBefore = standIn.tokensIssued().length;
    const app = appOctokit();
    const { data: me } = await app.rest.apps.getAuthenticated();
    expect(me).toMatchObject({ id: APP_ID, slug: "bisect-bot" });
    const { data: inst } = await app.rest.apps.getRepoInstallation({
      owner: "acme",
      repo: "widgets",
    });
    expect(inst).toMatchObject({
      id: INSTALLATION,
      account: { login: "acme", type: "Organization" },
      app_id: APP_ID,
    });
    const { data: byId } = await app.rest.apps.getInstallation({ installation_id: INSTALLATION });
    expect(byId.repository_selection).toBe("selected");
    const missing = await errorOf(
      app.rest.apps.getRepoInstallation({ owner: "acme", repo: "secret" }),
    );
    expect(missing.status).toBe(404);

    const octokit = installationOctokit();
    const { data: repo } = await octokit.rest.repos.get({ owner: "acme", repo: "widgets" });
    expect(repo).toMatchObject({
      full_name: "acme/widgets",
      private: true,
      default_branch: "main",
      id: expect.any(Number),
    });
    const { data: list } = await octokit.rest.apps.listReposAccessibleToInstallation();
    expect(list.repositories.map((r) => r.full_name).sort()).toEqual([
      "acme/gadgets",
      "acme/widgets",
    ]);

    const tokens = standIn.tokensIssued().slice(issuedBefore);
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({
      installationId: INSTALLATION,
      repositories: "all",
      expired: false,
    });
    expect(Date.parse(tokens[0]!.expiresAt) - Date.now()).toBeGreaterThan(55 * 60 * 1000);
    // The token text is available to tests but never printed with the view or kept in the log.
    expect(tokens[0]!.token).toMatch(/^ghs_/);
    expect(JSON.stringify(tokens)).not.toContain(tokens[0]!.token);
    expect(JSON.stringify(standIn.requests())).not.toContain(tokens[0]!.token);
    const kinds = standIn
      .requests()
      .map((r) => `${r.method} ${r.path.replace(/\d+/g, "N")} ${r.auth}`);
    expect(kinds).toContain("POST /api/vN/app/installations/N/access_tokens jwt");
    expect(kinds).toContain("GET /api/vN/repos/acme/widgets installation");
  });

  it("answers 401 to a JWT signed with the wrong key", async () => {
    const wrong = appOctokit(makeAppKey());
    const err = await errorOf(wrong.rest.apps.getAuthenticated());
    expect(err.status).toBe(401);
    expect(err.message).toContain("A JSON web token could not be decoded");
    const auth = createAppAuth({
      appId: APP_ID,
      privateKey: makeAppKey(),
      request: new Octokit({ log: quiet, baseUrl: standIn.urls.api }).request,
    });
    const exchange = await errorOf(auth({ type: "installation", installationId: INSTALLATION }));
    expect(exchange.status).toBe(401);
    expect(
      standIn.requests({ method: "POST", path: "/app/installations/:id/access_tokens" }).at(-1)
        ?.status,
    ).toBe(401);
  });

  it("answers 401 to unknown tokens and 404 to repositories outside the installation", async () => {
    const stranger = new Octokit({
      log: quiet,
      auth: "ghs_notarealtoken",
      baseUrl: standIn.urls.api,
    });
    expect(
      (await errorOf(stranger.rest.repos.get({ owner: "acme", repo: "widgets" }))).status,
    ).toBe(401);
    const octokit = new Octokit({
      log: quiet,
      auth: await installationToken(),
      baseUrl: standIn.urls.api,
    });
    expect((await errorOf(octokit.rest.repos.get({ owner: "acme", repo: "secret" }))).status).toBe(
      404,
    );
  });

  it("records the repositories a token was scoped to", async () => {
    const token = await installationToken(["widgets"]);
    const view = standIn.tokensIssued().find((t) => t.token === token);
    expect(view).toMatchObject({ repositories: ["acme/widgets"], repositorySelection: "selected" });
    const octokit = new Octokit({ log: quiet, auth: token, baseUrl: standIn.urls.api });
    await octokit.rest.repos.get({ owner: "acme", repo: "widgets" });
    expect((await errorOf(octokit.rest.repos.get({ owner: "acme", repo: "gadgets" }))).status).toBe(
      404,
    );
    const body = standIn.requests({ method: "POST", path: /access_tokens$/ }).at(-1)?.body;
    expect(body).toEqual({ repositories: ["widgets"] });
  });
});

describe("tokens minted by the test", () => {
  it("expires and revokes installation tokens and refuses suspended installations", async () => {
    const token = standIn.issueInstallationToken(INSTALLATION, { repositories: ["acme/gadgets"] });
    const octokit = new Octokit({ log: quiet, auth: token, baseUrl: standIn.urls.api });
    await octokit.rest.repos.get({ owner: "acme", repo: "gadgets" });
    standIn.expireInstallationTokens();
    expect((await errorOf(octokit.rest.repos.get({ owner: "acme", repo: "gadgets" }))).status).toBe(
      401,
    );
    expect(standIn.tokensIssued().every((t) => t.expired)).toBe(true);

    const other = standIn.issueInstallationToken(INSTALLATION);
    standIn.revokeToken(other);
    const revoked = new Octokit({ log: quiet, auth: other, baseUrl: standIn.urls.api });
    expect((await errorOf(revoked.rest.repos.get({ owner: "acme", repo: "widgets" }))).status).toBe(
      401,
    );

    standIn.suspendInstallation(INSTALLATION);
    try {
      const app = appOctokit();
      const err = await errorOf(
        app.rest.apps.createInstallationAccessToken({ installation_id: INSTALLATION }),
      );
      expect(err.status).toBe(403);
      expect(err.message).toContain("suspended");
    } finally {
      standIn.suspendInstallation(INSTALLATION, false);
    }
  });

  it("serves a user token minted directly", async () => {
    const user = new Octokit({
      log: quiet,
      auth: standIn.issueOAuthToken("bob"),
      baseUrl: standIn.urls.api,
    });
    const { data } = await user.rest.users.getAuthenticated();
    expect(data.login).toBe("bob");
    const { data: installs } = await user.rest.apps.listInstallationsForAuthenticatedUser();
    expect(installs.total_count).toBe(0);
  });
});

describe("issues, permissions, commits and contents", () => {
  it("creates and edits a comment and reacts to the trigger", async () => {
    const trigger = standIn.seedComment("acme", "widgets", 17, {
      body: "/bisect v1.4.0 main -- npm test",
      user: "alice",
    });
    const octokit = installationOctokit();
    await octokit.rest.reactions.createForIssueComment({
      owner: "acme",
      repo: "widgets",
      comment_id: trigger.id,
      content: "eyes",
    });
    const { data: created } = await octokit.rest.issues.createComment({
      owner: "acme",
      repo: "widgets",
      issue_number: 17,
      body: "Bisecting…",
    });
    expect(created.html_url).toBe(
      `${standIn.urls.web}/acme/widgets/issues/17#issuecomment-${created.id}`,
    );
    expect(created.user?.login).toBe("bisect-bot[bot]");
    expect(created.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const { data: edited } = await octokit.rest.issues.updateComment({
      owner: "acme",
      repo: "widgets",
      comment_id: created.id,
      body: "Culprit found",
    });
    expect(edited.body).toBe("Culprit found");
    const { data: fetched } = await octokit.rest.issues.getComment({
      owner: "acme",
      repo: "widgets",
      comment_id: created.id,
    });
    expect(fetched.body).toBe("Culprit found");
    const all = await octokit.paginate(octokit.rest.issues.listComments, {
      owner: "acme",
      repo: "widgets",
      issue_number: 17,
      per_page: 1,
    });
    expect(all.map((c) => c.id)).toEqual([trigger.id, created.id]);

    const comments = standIn.comments("acme", "widgets", 17);
    expect(comments.map((c) => ({ user: c.user, body: c.body, edits: c.edits }))).toEqual([
      { user: "alice", body: "/bisect v1.4.0 main -- npm test", edits: 0 },
      { user: "bisect-bot[bot]", body: "Culprit found", edits: 1 },
    ]);
    expect(comments[1]!.history).toEqual(["Bisecting…"]);
    await octokit.rest.reactions.createForIssue({
      owner: "acme",
      repo: "widgets",
      issue_number: 17,
      content: "rocket",
    });
    expect(standIn.reactions("acme", "widgets", { issue: 17 })).toMatchObject([
      { content: "rocket" },
    ]);
    expect(standIn.reactions("acme", "widgets", { commentId: trigger.id })).toMatchObject([
      { content: "eyes", user: "bisect-bot[bot]" },
    ]);

    const tooLong = await errorOf(
      octokit.rest.issues.createComment({
        owner: "acme",
        repo: "widgets",
        issue_number: 17,
        body: "x".repeat(65537),
      }),
    );
    expect(tooLong.status).toBe(422);
    const missing = await errorOf(
      octokit.rest.issues.getComment({ owner: "acme", repo: "widgets", comment_id: 1 }),
    );
    expect(missing.status).toBe(404);
  });

  it("reads a collaborator's permission", async () => {
    standIn.setPermission("acme", "widgets", "alice", "maintain");
    const octokit = installationOctokit();
    const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({
      owner: "acme",
      repo: "widgets",
      username: "alice",
    });
    expect(data).toMatchObject({
      permission: "write",
      role_name: "maintain",
      user: { login: "alice", id: 9101 },
    });
    const { data: bob } = await octokit.rest.repos.getCollaboratorPermissionLevel({
      owner: "acme",
      repo: "widgets",
      username: "bob",
    });
    expect(bob.permission).toBe("none");
    const nobody = await errorOf(
      octokit.rest.repos.getCollaboratorPermissionLevel({
        owner: "acme",
        repo: "widgets",
        username: "nobody",
      }),
    );
    expect(nobody.status).toBe(404);
  });

  it("reads commits, associated pull requests and file contents from the git repository", async () => {
    const octokit = installationOctokit();
    const { data: commit } = await octokit.rest.repos.getCommit({
      owner: "acme",
      repo: "widgets",
      ref: "main",
    });
    expect(commit).toMatchObject({
      sha: headSha,
      html_url: `${standIn.urls.web}/acme/widgets/commit/${headSha}`,
      commit: {
        message: "Parse dates\n\nUses the Date constructor.",
        author: { name: "Alice Example", email: "alice@example.com" },
      },
      author: { login: "alice" },
      parents: [{ sha: firstSha }],
    });
    const { data: tagged } = await octokit.rest.repos.getCommit({
      owner: "acme",
      repo: "widgets",
      ref: "v1.4.0",
    });
    expect(tagged.sha).toBe(firstSha);
    const unknown = await errorOf(
      octokit.rest.repos.getCommit({ owner: "acme", repo: "widgets", ref: "nope" }),
    );
    expect(unknown.status).toBe(422);

    standIn.setPullsForCommit("acme", "widgets", headSha, [
      { number: 5, title: "Parse dates", merged: true, user: "alice" },
    ]);
    const { data: pulls } = await octokit.rest.repos.listPullRequestsAssociatedWithCommit({
      owner: "acme",
      repo: "widgets",
      commit_sha: headSha,
    });
    expect(pulls).toMatchObject([
      { number: 5, title: "Parse dates", state: "closed", user: { login: "alice" } },
    ]);
    const { data: none } = await octokit.rest.repos.listPullRequestsAssociatedWithCommit({
      owner: "acme",
      repo: "widgets",
      commit_sha: firstSha,
    });
    expect(none).toEqual([]);

    const { data: file } = await octokit.rest.repos.getContent({
      owner: "acme",
      repo: "widgets",
      path: "src/dates.js",
      ref: headSha,
    });
    if (Array.isArray(file) || file.type !== "file") throw new Error("expected a file");
    expect(file.encoding).toBe("base64");
    expect(Buffer.from(file.content, "base64").toString("utf8")).toBe(
      "export const parse = (s) => new Date(s);\n",
    );
    const { data: dir } = await octokit.rest.repos.getContent({
      owner: "acme",
      repo: "widgets",
      path: "",
    });
    expect(Array.isArray(dir) && dir.map((e) => `${e.type}:${e.name}`).sort()).toEqual([
      "dir:src",
      "file:README.md",
    ]);
    const gone = await errorOf(
      octokit.rest.repos.getContent({
        owner: "acme",
        repo: "widgets",
        path: "src/dates.js",
        ref: firstSha,
      }),
    );
    expect(gone.status).toBe(404);
    // Bare repositories work the same.
    const { data: bare } = await octokit.rest.repos.getContent({
      owner: "acme",
      repo: "gadgets",
      path: "README.md",
    });
    expect(
      !Array.isArray(bare) &&
        bare.type === "file" &&
        Buffer.from(bare.content, "base64").toString(),
    ).toBe("# widgets\n");
  });
});

describe("fault injection", () => {
  it("injects primary and secondary rate limits and server errors that Octokit sees", async () => {
    const octokit = installationOctokit();
    await octokit.rest.repos.get({ owner: "acme", repo: "widgets" });
    standIn.failNext({
      method: "POST",
      path: /\/issues\/\d+\/comments$/,
      status: 403,
      rateLimit: true,
      retryAfter: 30,
    });
    const limited = await errorOf(
      octokit.rest.issues.createComment({
        owner: "acme",
        repo: "widgets",
        issue_number: 3,
        body: "hi",
      }),
    );
    expect(limited.status).toBe(403);
    expect(limited.response?.headers["x-ratelimit-remaining"]).toBe("0");
    expect(limited.response?.headers["retry-after"]).toBe("30");
    expect(Number(limited.response?.headers["x-ratelimit-reset"])).toBeGreaterThan(
      Date.now() / 1000,
    );

    standIn.failNext({ path: "/repos/:owner/:repo", status: 429, times: 2, secondary: true });
    expect((await errorOf(octokit.rest.repos.get({ owner: "acme", repo: "widgets" }))).status).toBe(
      429,
    );
    const second = await errorOf(octokit.rest.repos.get({ owner: "acme", repo: "widgets" }));
    expect(second.message).toContain("secondary rate limit");
    await octokit.rest.repos.get({ owner: "acme", repo: "widgets" });

    standIn.failNext({ path: /\/commits\//, status: 502 });
    expect(
      (await errorOf(octokit.rest.repos.getCommit({ owner: "acme", repo: "widgets", ref: "main" })))
        .status,
    ).toBe(502);
    await octokit.rest.repos.getCommit({ owner: "acme", repo: "widgets", ref: "main" });
    expect(
      standIn
        .requests()
        .filter((r) => r.fault)
        .map((r) => r.fault),
    ).toEqual([403, 429, 429, 502]);
    expect(standIn.comments("acme", "widgets", 3)).toEqual([]);
  });
});

describe("expectations", () => {
  it("answers 404 to unknown routes and lists them as unexpected", async () => {
    const octokit = installationOctokit();
    const err = await errorOf(octokit.rest.pulls.list({ owner: "acme", repo: "widgets" }));
    expect(err.status).toBe(404);
    expect(standIn.unexpected().map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /api/v3/repos/acme/widgets/pulls",
    ]);
    expect(() => standIn.assertNoUnexpected()).toThrow(
      /GET \/api\/v3\/repos\/acme\/widgets\/pulls → 404 \[auth: installation\]/,
    );
    standIn.clearRequests();
    standIn.assertNoUnexpected();

    standIn.allow("GET", "/repos/:owner/:repo/pulls", { status: 200, body: [] });
    const { data } = await octokit.rest.pulls.list({ owner: "acme", repo: "widgets" });
    expect(data).toEqual([]);

    standIn.allow("GET", /\/repos\/acme\/widgets\/branches$/);
    expect(
      (await errorOf(octokit.rest.repos.listBranches({ owner: "acme", repo: "widgets" }))).status,
    ).toBe(404);
    expect(standIn.unexpected()).toEqual([]);

    standIn.allowOnly([["POST", "/app/installations/:installation_id/access_tokens"]]);
    await octokit.rest.repos.get({ owner: "acme", repo: "widgets" });
    expect(standIn.unexpected().map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /api/v3/repos/acme/widgets",
    ]);
    standIn.clearRequests();
  });

  it("lists its routes", () => {
    expect(standIn.routes()).toEqual([...DEFAULT_ROUTES]);
  });
});

describe("GitHub App Manifest flow", () => {
  it("takes a posted manifest, returns to its redirect_url with a code, and converts the code once", async () => {
    const manifest = {
      name: "Acme Bisect",
      url: "http://127.0.0.1:9",
      hook_attributes: { url: "http://127.0.0.1:9/webhook" },
      redirect_url: "http://127.0.0.1:9/setup/app",
      default_permissions: { issues: "write", contents: "read", metadata: "read" },
      default_events: ["issue_comment"],
    };
    const posted = await fetch(`${standIn.urls.web}/settings/apps/new?state=m4nifest`, {
      method: "POST",
      body: new URLSearchParams({ manifest: JSON.stringify(manifest) }),
      redirect: "manual",
    });
    expect(posted.status).toBe(302);
    const back = new URL(posted.headers.get("location")!);
    expect(`${back.origin}${back.pathname}`).toBe("http://127.0.0.1:9/setup/app");
    expect(back.searchParams.get("state")).toBe("m4nifest");
    const code = back.searchParams.get("code")!;

    const convert = () =>
      fetch(`${standIn.urls.api}/app-manifests/${code}/conversions`, {
        method: "POST",
        headers: { Accept: "application/vnd.github+json" },
      });
    const res = await convert();
    expect(res.status).toBe(201);
    const app = await res.json();
    expect(app).toMatchObject({
      slug: "acme-bisect",
      name: "Acme Bisect",
      html_url: `${standIn.urls.web}/apps/acme-bisect`,
      permissions: manifest.default_permissions,
      events: ["issue_comment"],
      client_id: expect.stringMatching(/^Iv23li/),
      client_secret: expect.stringMatching(/^[0-9a-f]{40}$/),
      webhook_secret: expect.stringMatching(/^[0-9a-f]{40}$/),
      pem: expect.stringMatching(/^-----BEGIN (RSA )?PRIVATE KEY-----/),
    });
    expect(Number.isInteger(app.id)).toBe(true);
    // A code is good for one conversion.
    expect((await convert()).status).toBe(404);
    const refused = await fetch(`${standIn.urls.web}/settings/apps/new`, {
      method: "POST",
      body: new URLSearchParams({ manifest: "{" }),
      redirect: "manual",
    });
    expect(refused.status).toBe(422);
    standIn.clearRequests();
  });
});

describe("OAuth web flow", () => {
  it("signs in the chosen user with code + PKCE and serves the user endpoints", async () => {
    standIn.setOAuthUser("alice");
    standIn.setPermission("acme", "widgets", "alice", "write");
    const verifier = randomBytes(32).toString("base64url");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const authorize = new URL(`${standIn.urls.web}/login/oauth/authorize`);
    authorize.search = new URLSearchParams({
      client_id: standIn.app.clientId,
      redirect_uri: "http://127.0.0.1:9/auth/github/callback",
      state: "st4te",
      scope: "read:user",
      code_challenge: challenge,
      code_challenge_method: "S256",
    }).toString();
    const res = await fetch(authorize, { redirect: "manual" });
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get("location")!);
    expect(`${back.origin}${back.pathname}`).toBe("http://127.0.0.1:9/auth/github/callback");
    expect(back.searchParams.get("state")).toBe("st4te");
    const code = back.searchParams.get("code")!;

    const exchange = (params: Record<string, string>, accept = "application/json") =>
      fetch(`${standIn.urls.web}/login/oauth/access_token`, {
        method: "POST",
        headers: { accept, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(params),
      });
    const base = { client_id: standIn.app.clientId, client_secret: "s3cret", code };
    expect(
      await (await exchange({ ...base, code_verifier: "wrong-verifier" })).json(),
    ).toMatchObject({ error: "bad_verification_code" });
    expect(
      await (await exchange({ ...base, client_secret: "nope", code_verifier: verifier })).json(),
    ).toMatchObject({
      error: "incorrect_client_credentials",
    });
    // Client credentials in HTTP Basic auth, as OAuth 2 client libraries send them.
    const basic = await fetch(`${standIn.urls.web}/login/oauth/access_token`, {
      method: "POST",
      headers: {
        accept: "application/json",
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`${standIn.app.clientId}:s3cret`).toString("base64")}`,
      },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        code_verifier: verifier,
        redirect_uri: "http://127.0.0.1:9/elsewhere",
      }),
    });
    expect(await basic.json()).toMatchObject({ error: "redirect_uri_mismatch" });
    const ok = await exchange({ ...base, code_verifier: verifier });
    const token = (await ok.json()) as { access_token: string; token_type: string; scope: string };
    expect(token.access_token).toMatch(/^gho_/);
    expect(token.token_type).toBe("bearer");
    expect(await (await exchange({ ...base, code_verifier: verifier })).json()).toMatchObject({
      error: "bad_verification_code",
    });
    // The logged body never holds the secret, the code or the verifier.
    const logged = JSON.stringify(standIn.requests({ path: "/login/oauth/access_token" }));
    expect(logged).not.toContain("s3cret");
    expect(logged).not.toContain(verifier);
    expect(logged).not.toContain(code);

    const user = new Octokit({ log: quiet, auth: token.access_token, baseUrl: standIn.urls.api });
    const { data: me } = await user.rest.users.getAuthenticated();
    expect(me).toMatchObject({ login: "alice", id: 9101, name: "Alice Example" });
    const { data: installs } = await user.rest.apps.listInstallationsForAuthenticatedUser();
    expect(installs.total_count).toBe(1);
    expect(installs.installations[0]).toMatchObject({
      id: INSTALLATION,
      account: { login: "acme" },
    });
    const { data: repos } = await user.rest.apps.listInstallationReposForAuthenticatedUser({
      installation_id: INSTALLATION,
    });
    expect(repos.repositories.map((r) => r.full_name)).toEqual(["acme/widgets"]);
    expect(repos.repositories[0]!.permissions).toMatchObject({ push: true, admin: false });
  });

  it("answers in form encoding without Accept: application/json and honours a refusal", async () => {
    standIn.setOAuthUser("bob");
    const start = (state: string) =>
      fetch(
        `${standIn.urls.web}/login/oauth/authorize?client_id=${standIn.app.clientId}&redirect_uri=${encodeURIComponent("http://127.0.0.1:9/cb")}&state=${state}`,
        { redirect: "manual" },
      );
    const code = new URL((await start("a")).headers.get("location")!).searchParams.get("code")!;
    const res = await fetch(`${standIn.urls.web}/login/oauth/access_token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client_id: standIn.app.clientId, client_secret: "s3cret", code }),
    });
    const form = new URLSearchParams(await res.text());
    expect(form.get("access_token")).toMatch(/^gho_/);
    standIn.denyNextOAuth();
    const denied = new URL((await start("b")).headers.get("location")!);
    expect(denied.searchParams.get("error")).toBe("access_denied");
    expect(denied.searchParams.get("state")).toBe("b");
  });
});

describe("git smart HTTP", () => {
  const clone = (url: string, dest: string) =>
    run("git", ["clone", "-q", url, dest], {
      env: { ...gitEnv, GIT_ASKPASS: "/bin/false" },
      timeout: 20_000,
    });

  it("clones with an installation token and refuses a bad one", async () => {
    const token = await installationToken();
    const port = new URL(standIn.urls.web).port;
    const dest = join(work, "clone-ok");
    await clone(`http://x-access-token:${token}@127.0.0.1:${port}/acme/widgets.git`, dest);
    expect(await git(dest, "rev-parse", "HEAD")).toBe(headSha);
    expect(readFileSync(join(dest, "src", "dates.js"), "utf8")).toContain("new Date");

    const bareDest = join(work, "clone-bare");
    await clone(`http://x-access-token:${token}@127.0.0.1:${port}/acme/gadgets`, bareDest);
    expect(existsSync(join(bareDest, "README.md"))).toBe(true);

    // Fetch of a single reachable commit by SHA, as a mirror refresh does.
    const fetchDir = join(work, "fetch-sha");
    await run("git", ["init", "-q", fetchDir], { env: gitEnv });
    await git(
      fetchDir,
      "fetch",
      "-q",
      "--depth=1",
      `http://x-access-token:${token}@127.0.0.1:${port}/acme/widgets.git`,
      firstSha,
    );
    expect(await git(fetchDir, "rev-parse", "FETCH_HEAD")).toBe(firstSha);

    const bad = await errorOf(
      clone(
        `http://x-access-token:ghs_bogus@127.0.0.1:${port}/acme/widgets.git`,
        join(work, "clone-bad"),
      ),
    );
    expect(String((bad as unknown as { stderr: string }).stderr)).toMatch(
      /Authentication failed|401/,
    );
    const outside = await errorOf(
      clone(
        `http://x-access-token:${token}@127.0.0.1:${port}/acme/secret.git`,
        join(work, "clone-out"),
      ),
    );
    expect(String((outside as unknown as { stderr: string }).stderr)).toMatch(/not found|404/i);

    const gitRequests = standIn.requests({ path: /\/info\/refs$/ });
    expect(
      gitRequests.every((r) => r.auth === "basic" || (r.auth === "none" && r.status === 401)),
    ).toBe(true);
    expect(JSON.stringify(standIn.requests())).not.toContain(token);
  });
});

describe("webhooks", () => {
  const secret = "webhook-secret";

  it("signs bodies the way @octokit/webhooks verifies them", async () => {
    const webhooks = new Webhooks({ secret });
    const body = JSON.stringify(
      issueCommentPayload({
        action: "created",
        installationId: INSTALLATION,
        repo: { owner: "acme", name: "widgets", id: 1 },
        issue: { number: 17, title: "Dates" },
        comment: {
          id: 5,
          body: "/bisect a b -- true",
          user: { login: "alice", id: 9101 },
          author_association: "MEMBER",
        },
      }),
    );
    expect(await webhooks.verify(body, signWebhook(body, secret))).toBe(true);
    expect(await webhooks.verify(body, signWebhook(body, "other"))).toBe(false);
    expect(await webhooks.verify(`${body} `, signWebhook(body, secret))).toBe(false);
  });

  it("ships fixtures that @octokit/webhooks dispatches under their event and action", async () => {
    const dir = fileURLToPath(new URL("../fixtures/webhooks/", import.meta.url));
    const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const file of files) {
      const [event, action] = file.replace(/\.json$/, "").split(".") as [
        string,
        string | undefined,
      ];
      const body = readFileSync(join(dir, file), "utf8");
      const webhooks = new Webhooks({ secret });
      const seen: string[] = [];
      webhooks.onAny((e) => {
        seen.push(`${e.name}${"action" in e.payload ? `.${String(e.payload.action)}` : ""}`);
      });
      const headers = webhookHeaders(event, `delivery-${file}`, body, secret);
      await webhooks.verifyAndReceive({
        id: headers["x-github-delivery"]!,
        name: headers["x-github-event"] as "ping",
        payload: body,
        signature: headers["x-hub-signature-256"]!,
      });
      expect(seen).toEqual([action ? `${event}.${action}` : event]);
    }
  });
});
