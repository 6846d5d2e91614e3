// Pull requests for the GitHub stand-in: the pull requests associated with a commit.
import { resolveCommit } from "./git";
import { nodeId, userShape } from "./shapes";
import type { Core } from "./core";
import { type PullInput, type RepoState, DOCS, lc, HttpFailure } from "./model";

export function registerPulls(core: Core): void {
  const {
    git,
    pulls,
    pullIdBase,
    account,
    accountData,
    fullName,
    repoData,
    actorFor,
    requireRepo,
    json,
    paginate,
    association,
    route,
    API,
  } = core;

  function pullJson(repo: RepoState, p: PullInput, sha: string) {
    const id = pullIdBase + repo.id * 1000 + p.number;
    const api = `${core.urls.api}/repos/${fullName(repo)}`;
    const html = `${core.urls.web}/${fullName(repo)}`;
    const user = accountData(account(p.user ?? repo.owner, "User"));
    const merged = p.merged ?? false;
    const state = p.state ?? (merged ? "closed" : "open");
    return {
      url: `${api}/pulls/${p.number}`,
      id,
      node_id: nodeId("PullRequest", id),
      html_url: `${html}/pull/${p.number}`,
      diff_url: `${html}/pull/${p.number}.diff`,
      patch_url: `${html}/pull/${p.number}.patch`,
      issue_url: `${api}/issues/${p.number}`,
      commits_url: `${api}/pulls/${p.number}/commits`,
      review_comments_url: `${api}/pulls/${p.number}/comments`,
      review_comment_url: `${api}/pulls/comments{/number}`,
      comments_url: `${api}/issues/${p.number}/comments`,
      statuses_url: `${api}/statuses/${sha}`,
      number: p.number,
      state,
      locked: false,
      title: p.title ?? `Pull request #${p.number}`,
      user: userShape(user, core.urls),
      body: p.body ?? null,
      labels: [],
      milestone: null,
      active_lock_reason: null,
      created_at: repo.createdAt,
      updated_at: repo.createdAt,
      closed_at: state === "closed" ? repo.createdAt : null,
      merged_at: merged ? repo.createdAt : null,
      merge_commit_sha: merged ? sha : null,
      assignee: null,
      assignees: [],
      requested_reviewers: [],
      requested_teams: [],
      head: {
        label: `${repo.owner}:${p.head ?? `pr-${p.number}`}`,
        ref: p.head ?? `pr-${p.number}`,
        sha,
        user: userShape(user, core.urls),
        repo: repoData(repo),
      },
      base: {
        label: `${repo.owner}:${p.base ?? repo.defaultBranch}`,
        ref: p.base ?? repo.defaultBranch,
        sha,
        user: userShape(accountData(account(repo.owner)), core.urls),
        repo: repoData(repo),
      },
      _links: {
        self: { href: `${api}/pulls/${p.number}` },
        html: { href: `${html}/pull/${p.number}` },
        issue: { href: `${api}/issues/${p.number}` },
        comments: { href: `${api}/issues/${p.number}/comments` },
      },
      author_association: association(repo, user.login),
      auto_merge: null,
      draft: p.draft ?? false,
    };
  }

  route(
    "GET",
    `${API}/repos/:owner/:repo/commits/:commit_sha/pulls`,
    `${DOCS}/commits/commits#list-pull-requests-associated-with-a-commit`,
    async (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "contents", level: "read" });
      const ref = decodeURIComponent(ctx.params.commit_sha!);
      const sha = await resolveCommit(repo.path, ref, git.env);
      if (!sha) throw new HttpFailure(422, `No commit found for SHA: ${ref}`);
      const list = (pulls.get(`${lc(fullName(repo))}\0${sha}`) ?? []).map((p) =>
        pullJson(repo, p, sha),
      );
      const { page, headers } = paginate(ctx, list);
      json(ctx, 200, page, actor, headers);
    },
  );
}
