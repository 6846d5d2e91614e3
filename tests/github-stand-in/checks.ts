// Checks, commit statuses and what an automatic bisection posts, for the GitHub stand-in: check
// suites and check runs recorded by a test (as a CI app would create them), commit statuses, the
// list endpoints for a commit, compare, commit comments and issues created with labels. Shapes
// follow GitHub's REST description (components check-run, check-suite, status, combined-commit-
// status, commit-comment, issue, label). Registered by server.ts with a few lines.
import { isoSeconds, nodeId, userShape, type AccountData, type Urls } from "./shapes";

export const CHECKS_DOCS = "https://docs.github.com/rest";

/** What the server lends this module (its helpers keep one behaviour for auth, paging, errors). */
export interface ChecksHost<Ctx, Actor, Repo extends { id: number; owner: string; name: string }> {
  route(
    method: string,
    pattern: string,
    docs: string,
    handle: (ctx: Ctx) => Promise<void> | void,
  ): void;
  actorFor(ctx: Ctx): Actor;
  requireRepo(ctx: Ctx, actor: Actor, need: { permission: string; level: "read" | "write" }): Repo;
  json(
    ctx: Ctx,
    status: number,
    body: unknown,
    actor?: Actor,
    headers?: Record<string, string>,
  ): void;
  paginate<T>(ctx: Ctx, items: T[]): { page: T[]; headers: Record<string, string> };
  param(ctx: Ctx, name: string): string;
  query(ctx: Ctx, name: string): string | null;
  body(ctx: Ctx): Record<string, unknown>;
  fail(status: number, message: string, extra?: Record<string, unknown>): Error;
  resolve(repo: Repo, ref: string): Promise<string | null>;
  /** null when the two commits share no history. */
  relation(
    repo: Repo,
    base: string,
    head: string,
  ): Promise<{ ahead: number; behind: number } | null>;
  repoJson(repo: Repo): Record<string, unknown>;
  repoByName(owner: string, name: string): Repo | undefined;
  /** The acting identity's login when it writes (`<app>[bot]` for an installation). */
  author(actor: Actor): { login: string; account: AccountData };
  account(login: string): AccountData;
  urls(): Urls;
}

export type Conclusion =
  "success" | "failure" | "neutral" | "cancelled" | "skipped" | "timed_out" | "action_required";

export interface CheckRunInput {
  /** A SHA or ref of the commit. */
  ref: string;
  name: string;
  status?: "queued" | "in_progress" | "completed";
  conclusion?: Conclusion | null;
  /** The branch the suite ran for (default: the repository's default branch). */
  branch?: string;
  completedAt?: Date;
}

export interface CheckRunView {
  id: number;
  suiteId: number;
  name: string;
  headSha: string;
  status: string;
  conclusion: Conclusion | null;
  htmlUrl: string;
}

export interface StatusInput {
  ref: string;
  state: "error" | "failure" | "pending" | "success";
  context?: string;
  description?: string | null;
  targetUrl?: string | null;
}

export interface PostedCommitComment {
  id: number;
  sha: string;
  body: string;
  user: string;
}

export interface CreatedIssue {
  number: number;
  title: string;
  body: string | null;
  labels: string[];
  user: string;
}

/** The CI that "ran" the checks: GitHub Actions' app. */
const CI_APP = { id: 15368, slug: "github-actions", name: "GitHub Actions", ownerLogin: "github" };

interface Suite {
  id: number;
  repoKey: string;
  headSha: string;
  headBranch: string | null;
  createdAt: string;
}
interface Run {
  id: number;
  repoKey: string;
  suiteId: number;
  name: string;
  headSha: string;
  status: string;
  conclusion: Conclusion | null;
  startedAt: string;
  completedAt: string | null;
}
interface StatusRow {
  id: number;
  repoKey: string;
  sha: string;
  state: StatusInput["state"];
  context: string;
  description: string | null;
  targetUrl: string | null;
  createdAt: string;
}
interface CommitCommentRow extends PostedCommitComment {
  repoKey: string;
  createdAt: string;
}
interface IssueRow extends CreatedIssue {
  repoKey: string;
  id: number;
  createdAt: string;
}

export const CHECKS_ROUTES = [
  "GET /api/v3/repos/:owner/:repo/commits/:ref/check-runs",
  "GET /api/v3/repos/:owner/:repo/commits/:ref/check-suites",
  "GET /api/v3/repos/:owner/:repo/commits/:ref/statuses",
  "GET /api/v3/repos/:owner/:repo/commits/:ref/status",
  "GET /api/v3/repos/:owner/:repo/commits/:commit_sha/comments",
  "POST /api/v3/repos/:owner/:repo/commits/:commit_sha/comments",
] as const;
export const CHECKS_LATE_ROUTES = [
  "GET /api/v3/repos/:owner/:repo/check-runs/:check_run_id",
  "GET /api/v3/repos/:owner/:repo/compare/:basehead",
  "POST /api/v3/repos/:owner/:repo/issues",
  "GET /api/v3/repos/:owner/:repo/issues/:issue_number",
] as const;

export interface ChecksApi {
  addCheckRun(owner: string, repo: string, input: CheckRunInput): Promise<CheckRunView>;
  addStatus(owner: string, repo: string, input: StatusInput): Promise<void>;
  /** The `check_run` webhook GitHub sends for a recorded run (action `completed` by default). */
  checkRunEvent(runId: number, installationId: number, action?: string): Record<string, unknown>;
  commitComments(owner: string, repo: string): PostedCommitComment[];
  createdIssues(owner: string, repo: string): CreatedIssue[];
}

/**
 * Registers the routes that must come before `GET commits/:ref+` (`register`), and returns
 * `registerLate` for the others plus the test-facing API.
 */
export function checksModule<
  Ctx,
  Actor,
  Repo extends { id: number; owner: string; name: string; defaultBranch: string },
>(host: ChecksHost<Ctx, Actor, Repo>): { register(): void; registerLate(): void; api: ChecksApi } {
  const suites: Suite[] = [];
  const runs: Run[] = [];
  const statuses: StatusRow[] = [];
  const commitComments: CommitCommentRow[] = [];
  const issues: IssueRow[] = [];
  let nextSuite = 5_100_000_001;
  let nextRun = 21_000_000_001;
  let nextStatus = 33_000_000_001;
  let nextCommitComment = 44_000_001;
  let nextIssueId = 2_500_000_001;
  let nextIssueNumber = 1001;
  const key = (r: { owner: string; name: string }) => `${r.owner}/${r.name}`.toLowerCase();
  const api = (repo: Repo) => `${host.urls().api}/repos/${repo.owner}/${repo.name}`;
  const web = (repo: Repo) => `${host.urls().web}/${repo.owner}/${repo.name}`;
  const ciApp = () => {
    const owner = host.account(CI_APP.ownerLogin);
    return {
      id: CI_APP.id,
      slug: CI_APP.slug,
      node_id: nodeId("Integration", CI_APP.id),
      client_id: "Iv1.05c79e9ad1f0e35d",
      owner: userShape(owner, host.urls()),
      name: CI_APP.name,
      description: "Automate your workflow from idea to production",
      external_url: "https://help.github.com/en/actions",
      html_url: `${host.urls().web}/apps/github-actions`,
      created_at: "2018-07-30T09:30:17Z",
      updated_at: "2024-04-10T20:33:16Z",
      permissions: {
        actions: "write",
        checks: "write",
        contents: "write",
        metadata: "read",
        statuses: "write",
      },
      events: ["check_run", "check_suite", "push", "pull_request", "workflow_dispatch"],
    };
  };

  function suiteJson(repo: Repo, s: Suite) {
    const count = runs.filter((r) => r.suiteId === s.id).length;
    const mine = runs.filter((r) => r.suiteId === s.id);
    const completed = mine.length > 0 && mine.every((r) => r.status === "completed");
    const conclusion = !completed
      ? null
      : mine.some((r) => r.conclusion === "failure" || r.conclusion === "timed_out")
        ? "failure"
        : "success";
    return {
      id: s.id,
      node_id: nodeId("CheckSuite", s.id),
      head_branch: s.headBranch,
      head_sha: s.headSha,
      status: completed ? "completed" : "in_progress",
      conclusion,
      url: `${api(repo)}/check-suites/${s.id}`,
      before: null,
      after: s.headSha,
      pull_requests: [],
      app: ciApp(),
      repository: host.repoJson(repo),
      created_at: s.createdAt,
      updated_at: s.createdAt,
      head_commit: null,
      latest_check_runs_count: count,
      check_runs_url: `${api(repo)}/check-suites/${s.id}/check-runs`,
      rerequestable: true,
      runs_rerequestable: true,
    };
  }

  function runJson(repo: Repo, r: Run) {
    return {
      id: r.id,
      head_sha: r.headSha,
      node_id: nodeId("CheckRun", r.id),
      external_id: String(r.id),
      url: `${api(repo)}/check-runs/${r.id}`,
      html_url: `${web(repo)}/runs/${r.id}`,
      details_url: `${web(repo)}/actions/runs/${r.suiteId}/job/${r.id}`,
      status: r.status,
      conclusion: r.conclusion,
      started_at: r.startedAt,
      completed_at: r.completedAt,
      output: {
        title: null,
        summary: null,
        text: null,
        annotations_count: 0,
        annotations_url: `${api(repo)}/check-runs/${r.id}/annotations`,
      },
      name: r.name,
      check_suite: { id: r.suiteId },
      app: ciApp(),
      pull_requests: [],
    };
  }

  function statusJson(repo: Repo, s: StatusRow) {
    const creator = host.account(CI_APP.ownerLogin);
    return {
      url: `${api(repo)}/statuses/${s.sha}`,
      avatar_url: `https://avatars.githubusercontent.com/u/${creator.id}?v=4`,
      id: s.id,
      node_id: nodeId("StatusContext", s.id),
      state: s.state,
      description: s.description,
      target_url: s.targetUrl,
      context: s.context,
      created_at: s.createdAt,
      updated_at: s.createdAt,
      creator: userShape(creator, host.urls()),
    };
  }

  function commitCommentJson(repo: Repo, c: CommitCommentRow) {
    return {
      html_url: `${web(repo)}/commit/${c.sha}#commitcomment-${c.id}`,
      url: `${api(repo)}/comments/${c.id}`,
      id: c.id,
      node_id: nodeId("CommitComment", c.id),
      body: c.body,
      path: null,
      position: null,
      line: null,
      commit_id: c.sha,
      user: userShape(host.account(c.user), host.urls()),
      created_at: c.createdAt,
      updated_at: c.createdAt,
      author_association: "NONE",
      reactions: {
        url: `${api(repo)}/comments/${c.id}/reactions`,
        total_count: 0,
        "+1": 0,
        "-1": 0,
        laugh: 0,
        confused: 0,
        heart: 0,
        hooray: 0,
        eyes: 0,
        rocket: 0,
      },
    };
  }

  function labelJson(repo: Repo, name: string, i: number) {
    return {
      id: 7_000_000_000 + i,
      node_id: nodeId("Label", 7_000_000_000 + i),
      url: `${api(repo)}/labels/${encodeURIComponent(name)}`,
      name,
      description: null,
      color: "ededed",
      default: false,
    };
  }

  function issueJson(repo: Repo, i: IssueRow) {
    const url = `${api(repo)}/issues/${i.number}`;
    return {
      id: i.id,
      node_id: nodeId("Issue", i.id),
      url,
      repository_url: api(repo),
      labels_url: `${url}/labels{/name}`,
      comments_url: `${url}/comments`,
      events_url: `${url}/events`,
      html_url: `${web(repo)}/issues/${i.number}`,
      number: i.number,
      state: "open",
      state_reason: null,
      title: i.title,
      body: i.body,
      user: userShape(host.account(i.user), host.urls()),
      labels: i.labels.map((l, n) => labelJson(repo, l, n)),
      assignee: null,
      assignees: [],
      milestone: null,
      locked: false,
      active_lock_reason: null,
      comments: 0,
      closed_at: null,
      created_at: i.createdAt,
      updated_at: i.createdAt,
      author_association: "NONE",
    };
  }

  async function commitOf(repo: Repo, ref: string): Promise<string> {
    const sha = await host.resolve(repo, ref);
    if (!sha) throw host.fail(422, `No commit found for SHA: ${ref}`);
    return sha;
  }

  function register(): void {
    host.route(
      "GET",
      "/api/v3/repos/:owner/:repo/commits/:ref/check-runs",
      `${CHECKS_DOCS}/checks/runs#list-check-runs-for-a-git-reference`,
      async (ctx) => {
        const actor = host.actorFor(ctx);
        const repo = host.requireRepo(ctx, actor, { permission: "checks", level: "read" });
        const sha = await commitOf(repo, decodeURIComponent(host.param(ctx, "ref")));
        const name = host.query(ctx, "check_name");
        const status = host.query(ctx, "status");
        const filter = host.query(ctx, "filter") ?? "latest";
        if (filter !== "latest" && filter !== "all")
          throw host.fail(422, "Validation Failed", {
            errors: [{ resource: "CheckRun", field: "filter", code: "invalid" }],
          });
        let list = runs
          .filter((r) => r.repoKey === key(repo) && r.headSha === sha)
          .filter((r) => !name || r.name === name)
          .filter((r) => !status || r.status === status)
          .sort((a, b) => b.id - a.id);
        // `latest`: the most recent run of each name (by completion, then creation).
        if (filter === "latest") {
          const seen = new Set<string>();
          list = list.filter((r) => (seen.has(r.name) ? false : (seen.add(r.name), true)));
        }
        const { page, headers } = host.paginate(ctx, list);
        host.json(
          ctx,
          200,
          { total_count: list.length, check_runs: page.map((r) => runJson(repo, r)) },
          actor,
          headers,
        );
      },
    );
    host.route(
      "GET",
      "/api/v3/repos/:owner/:repo/commits/:ref/check-suites",
      `${CHECKS_DOCS}/checks/suites#list-check-suites-for-a-git-reference`,
      async (ctx) => {
        const actor = host.actorFor(ctx);
        const repo = host.requireRepo(ctx, actor, { permission: "checks", level: "read" });
        const sha = await commitOf(repo, decodeURIComponent(host.param(ctx, "ref")));
        const list = suites.filter((s) => s.repoKey === key(repo) && s.headSha === sha);
        const { page, headers } = host.paginate(ctx, list);
        host.json(
          ctx,
          200,
          { total_count: list.length, check_suites: page.map((s) => suiteJson(repo, s)) },
          actor,
          headers,
        );
      },
    );
    host.route(
      "GET",
      "/api/v3/repos/:owner/:repo/commits/:ref/statuses",
      `${CHECKS_DOCS}/commits/statuses#list-commit-statuses-for-a-reference`,
      async (ctx) => {
        const actor = host.actorFor(ctx);
        const repo = host.requireRepo(ctx, actor, { permission: "statuses", level: "read" });
        const sha = await commitOf(repo, decodeURIComponent(host.param(ctx, "ref")));
        const list = statuses
          .filter((s) => s.repoKey === key(repo) && s.sha === sha)
          .sort((a, b) => b.id - a.id);
        const { page, headers } = host.paginate(ctx, list);
        host.json(
          ctx,
          200,
          page.map((s) => statusJson(repo, s)),
          actor,
          headers,
        );
      },
    );
    host.route(
      "GET",
      "/api/v3/repos/:owner/:repo/commits/:ref/status",
      `${CHECKS_DOCS}/commits/statuses#get-the-combined-status-for-a-specific-reference`,
      async (ctx) => {
        const actor = host.actorFor(ctx);
        const repo = host.requireRepo(ctx, actor, { permission: "statuses", level: "read" });
        const sha = await commitOf(repo, decodeURIComponent(host.param(ctx, "ref")));
        const seen = new Set<string>();
        const latest = statuses
          .filter((s) => s.repoKey === key(repo) && s.sha === sha)
          .sort((a, b) => b.id - a.id)
          .filter((s) => (seen.has(s.context) ? false : (seen.add(s.context), true)));
        const state = latest.some((s) => s.state === "error" || s.state === "failure")
          ? "failure"
          : latest.length > 0 && latest.every((s) => s.state === "success")
            ? "success"
            : "pending";
        host.json(
          ctx,
          200,
          {
            state,
            statuses: latest.map((s) => statusJson(repo, s)),
            sha,
            total_count: latest.length,
            repository: host.repoJson(repo),
            commit_url: `${api(repo)}/commits/${sha}`,
            url: `${api(repo)}/commits/${sha}/status`,
          },
          actor,
        );
      },
    );
    host.route(
      "GET",
      "/api/v3/repos/:owner/:repo/commits/:commit_sha/comments",
      `${CHECKS_DOCS}/commits/comments#list-commit-comments`,
      async (ctx) => {
        const actor = host.actorFor(ctx);
        const repo = host.requireRepo(ctx, actor, { permission: "contents", level: "read" });
        const sha = await commitOf(repo, decodeURIComponent(host.param(ctx, "commit_sha")));
        const list = commitComments.filter((c) => c.repoKey === key(repo) && c.sha === sha);
        const { page, headers } = host.paginate(ctx, list);
        host.json(
          ctx,
          200,
          page.map((c) => commitCommentJson(repo, c)),
          actor,
          headers,
        );
      },
    );
    host.route(
      "POST",
      "/api/v3/repos/:owner/:repo/commits/:commit_sha/comments",
      `${CHECKS_DOCS}/commits/comments#create-a-commit-comment`,
      async (ctx) => {
        const actor = host.actorFor(ctx);
        const repo = host.requireRepo(ctx, actor, { permission: "contents", level: "write" });
        const sha = await commitOf(repo, decodeURIComponent(host.param(ctx, "commit_sha")));
        const body = host.body(ctx).body;
        if (typeof body !== "string" || body.length === 0)
          throw host.fail(422, "Validation Failed", {
            errors: [{ resource: "CommitComment", field: "body", code: "missing_field" }],
          });
        const c: CommitCommentRow = {
          id: nextCommitComment++,
          repoKey: key(repo),
          sha,
          body,
          user: host.author(actor).login,
          createdAt: isoSeconds(),
        };
        commitComments.push(c);
        const shaped = commitCommentJson(repo, c);
        host.json(ctx, 201, shaped, actor, { location: shaped.url });
      },
    );
  }

  function registerLate(): void {
    host.route(
      "GET",
      "/api/v3/repos/:owner/:repo/check-runs/:check_run_id",
      `${CHECKS_DOCS}/checks/runs#get-a-check-run`,
      (ctx) => {
        const actor = host.actorFor(ctx);
        const repo = host.requireRepo(ctx, actor, { permission: "checks", level: "read" });
        const run = runs.find(
          (r) => r.id === Number(host.param(ctx, "check_run_id")) && r.repoKey === key(repo),
        );
        if (!run) throw host.fail(404, "Not Found");
        host.json(ctx, 200, runJson(repo, run), actor);
      },
    );
    host.route(
      "GET",
      "/api/v3/repos/:owner/:repo/compare/:basehead",
      `${CHECKS_DOCS}/commits/commits#compare-two-commits`,
      async (ctx) => {
        const actor = host.actorFor(ctx);
        const repo = host.requireRepo(ctx, actor, { permission: "contents", level: "read" });
        const [baseRef, headRef] = decodeURIComponent(host.param(ctx, "basehead")).split("...");
        if (!baseRef || !headRef) throw host.fail(404, "Not Found");
        const base = await host.resolve(repo, baseRef);
        const head = await host.resolve(repo, headRef);
        if (!base || !head) throw host.fail(404, "Not Found");
        const rel = await host.relation(repo, base, head);
        if (!rel) throw host.fail(404, `No common ancestor between ${baseRef} and ${headRef}.`);
        const status =
          rel.ahead === 0 && rel.behind === 0
            ? "identical"
            : rel.behind === 0
              ? "ahead"
              : rel.ahead === 0
                ? "behind"
                : "diverged";
        host.json(
          ctx,
          200,
          {
            url: `${api(repo)}/compare/${baseRef}...${headRef}`,
            html_url: `${web(repo)}/compare/${baseRef}...${headRef}`,
            permalink_url: `${web(repo)}/compare/${repo.owner}:${base.slice(0, 7)}...${repo.owner}:${head.slice(0, 7)}`,
            diff_url: `${web(repo)}/compare/${baseRef}...${headRef}.diff`,
            patch_url: `${web(repo)}/compare/${baseRef}...${headRef}.patch`,
            base_commit: { sha: base },
            merge_base_commit: { sha: rel.behind === 0 ? base : head },
            status,
            ahead_by: rel.ahead,
            behind_by: rel.behind,
            total_commits: rel.ahead,
            commits: [],
            files: [],
          },
          actor,
        );
      },
    );
    host.route(
      "POST",
      "/api/v3/repos/:owner/:repo/issues",
      `${CHECKS_DOCS}/issues/issues#create-an-issue`,
      (ctx) => {
        const actor = host.actorFor(ctx);
        const repo = host.requireRepo(ctx, actor, { permission: "issues", level: "write" });
        const input = host.body(ctx);
        if (typeof input.title !== "string" || input.title.trim() === "")
          throw host.fail(422, "Validation Failed", {
            errors: [{ resource: "Issue", field: "title", code: "missing_field" }],
          });
        if (
          input.labels !== undefined &&
          (!Array.isArray(input.labels) || input.labels.some((l) => typeof l !== "string"))
        )
          throw host.fail(
            422,
            "Invalid request.\n\nFor 'properties/labels', the items are not strings.",
          );
        const issue: IssueRow = {
          id: nextIssueId++,
          number: nextIssueNumber++,
          repoKey: key(repo),
          title: input.title,
          body: typeof input.body === "string" ? input.body : null,
          // Labels that do not exist yet are created with the issue (as on GitHub).
          labels: [...new Set((input.labels as string[] | undefined) ?? [])],
          user: host.author(actor).login,
          createdAt: isoSeconds(),
        };
        issues.push(issue);
        const shaped = issueJson(repo, issue);
        host.json(ctx, 201, shaped, actor, { location: shaped.url });
      },
    );
    host.route(
      "GET",
      "/api/v3/repos/:owner/:repo/issues/:issue_number",
      `${CHECKS_DOCS}/issues/issues#get-an-issue`,
      (ctx) => {
        const actor = host.actorFor(ctx);
        const repo = host.requireRepo(ctx, actor, { permission: "issues", level: "read" });
        const issue = issues.find(
          (i) => i.repoKey === key(repo) && i.number === Number(host.param(ctx, "issue_number")),
        );
        if (!issue) throw host.fail(404, "Not Found");
        host.json(ctx, 200, issueJson(repo, issue), actor);
      },
    );
  }

  function repoNamed(owner: string, name: string): Repo {
    const repo = host.repoByName(owner, name);
    if (!repo) throw new Error(`no repository ${owner}/${name} in the stand-in`);
    return repo;
  }

  const checksApi: ChecksApi = {
    async addCheckRun(owner, name, input) {
      const repo = repoNamed(owner, name);
      const sha = await host.resolve(repo, input.ref);
      if (!sha) throw new Error(`no commit ${input.ref} in ${owner}/${name}`);
      const branch = input.branch ?? repo.defaultBranch;
      let suite = suites.find(
        (s) => s.repoKey === key(repo) && s.headSha === sha && s.headBranch === branch,
      );
      if (!suite) {
        suite = {
          id: nextSuite++,
          repoKey: key(repo),
          headSha: sha,
          headBranch: branch,
          createdAt: isoSeconds(),
        };
        suites.push(suite);
      }
      const status = input.status ?? "completed";
      const completed = input.completedAt ?? new Date();
      const run: Run = {
        id: nextRun++,
        repoKey: key(repo),
        suiteId: suite.id,
        name: input.name,
        headSha: sha,
        status,
        conclusion: status === "completed" ? (input.conclusion ?? "success") : null,
        startedAt: isoSeconds(completed.getTime() - 60_000),
        completedAt: status === "completed" ? isoSeconds(completed) : null,
      };
      runs.push(run);
      return {
        id: run.id,
        suiteId: suite.id,
        name: run.name,
        headSha: sha,
        status,
        conclusion: run.conclusion,
        htmlUrl: `${web(repo)}/runs/${run.id}`,
      };
    },
    async addStatus(owner, name, input) {
      const repo = repoNamed(owner, name);
      const sha = await host.resolve(repo, input.ref);
      if (!sha) throw new Error(`no commit ${input.ref} in ${owner}/${name}`);
      statuses.push({
        id: nextStatus++,
        repoKey: key(repo),
        sha,
        state: input.state,
        context: input.context ?? "default",
        description: input.description ?? null,
        targetUrl: input.targetUrl ?? null,
        createdAt: isoSeconds(),
      });
    },
    checkRunEvent(runId, installationId, action = "completed") {
      const run = runs.find((r) => r.id === runId);
      if (!run) throw new Error(`no check run ${runId}`);
      const [owner, name] = run.repoKey.split("/");
      const repo = repoNamed(owner!, name!);
      const suite = suites.find((s) => s.id === run.suiteId)!;
      const { repository: _repository, ...suiteFields } = suiteJson(repo, suite);
      return {
        action,
        check_run: { ...runJson(repo, run), check_suite: suiteFields },
        repository: host.repoJson(repo),
        sender: userShape(host.account("github-actions[bot]"), host.urls()),
        installation: { id: installationId, node_id: nodeId("Installation", installationId) },
      };
    },
    commitComments(owner, name) {
      const k = `${owner}/${name}`.toLowerCase();
      return commitComments
        .filter((c) => c.repoKey === k)
        .map(({ id, sha, body, user }) => ({ id, sha, body, user }));
    },
    createdIssues(owner, name) {
      const k = `${owner}/${name}`.toLowerCase();
      return issues
        .filter((i) => i.repoKey === k)
        .map(({ number, title, body, labels, user }) => ({
          number,
          title,
          body,
          labels: [...labels],
          user,
        }));
    },
  };
  return { register, registerLate, api: checksApi };
}
