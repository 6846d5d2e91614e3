// Repositories and contents for the GitHub stand-in: a repository, a collaborator's permission,
// a commit and the contents API, read from the repositories on disk.
import { commitInfo, readPath, resolveCommit, type PathContent, type TreeEntry } from "./git";
import { isoSeconds, nodeId, userShape } from "./shapes";
import type { Core } from "./core";
import { type RepoState, DOCS, lc, HttpFailure } from "./model";

export function registerRepositories(core: Core): void {
  const {
    accounts,
    accountData,
    role,
    repoData,
    rolePermissions,
    actorFor,
    requireRepo,
    json,
    route,
    API,
  } = core;

  route("GET", `${API}/repos/:owner/:repo`, `${DOCS}/repos/repos#get-a-repository`, (ctx) => {
    const actor = actorFor(ctx);
    const repo = requireRepo(ctx, actor, { permission: "metadata", level: "read" });
    const data: Record<string, unknown> = repoData(repo);
    if (actor.kind === "oauth") data.permissions = rolePermissions(role(repo, actor.user.login));
    json(ctx, 200, data, actor);
  });

  route(
    "GET",
    `${API}/repos/:owner/:repo/collaborators/:username/permission`,
    `${DOCS}/collaborators/collaborators#get-repository-permissions-for-a-user`,
    (ctx) => {
      const actor = actorFor(ctx);
      if (actor.kind === "none") throw new HttpFailure(401, "Requires authentication");
      const repo = requireRepo(ctx, actor, { permission: "metadata", level: "read" });
      const user = accounts.get(lc(ctx.params.username!));
      if (!user || user.type === "Organization") throw new HttpFailure(404, "Not Found");
      const rl = role(repo, user.login);
      const permission = rl === "maintain" ? "write" : rl === "triage" ? "read" : rl;
      json(
        ctx,
        200,
        {
          permission,
          role_name: rl,
          user: {
            ...userShape(accountData(user), core.urls),
            permissions: rolePermissions(rl),
            role_name: rl,
          },
        },
        actor,
      );
    },
  );
}

export function registerContents(core: Core): void {
  const {
    git,
    accountData,
    fullName,
    actorFor,
    requireRepo,
    rateHeaders,
    send,
    apiHeaders,
    json,
    commitAuthorAccount,
    route,
    API,
  } = core;

  async function commitJson(repo: RepoState, sha: string) {
    const info = await commitInfo(repo.path, sha, git.env);
    if (!info) return null;
    const api = `${core.urls.api}/repos/${fullName(repo)}`;
    const html = `${core.urls.web}/${fullName(repo)}`;
    const author = commitAuthorAccount(info.authorEmail);
    const committer = commitAuthorAccount(info.committerEmail);
    const utc = (d: string) => isoSeconds(Date.parse(d));
    return {
      sha: info.sha,
      node_id: nodeId("Commit", repo.id),
      commit: {
        author: { name: info.authorName, email: info.authorEmail, date: utc(info.authorDate) },
        committer: {
          name: info.committerName,
          email: info.committerEmail,
          date: utc(info.committerDate),
        },
        message: info.message,
        tree: { sha: info.tree, url: `${api}/git/trees/${info.tree}` },
        url: `${api}/git/commits/${info.sha}`,
        comment_count: 0,
        verification: {
          verified: false,
          reason: "unsigned",
          signature: null,
          payload: null,
          verified_at: null,
        },
      },
      url: `${api}/commits/${info.sha}`,
      html_url: `${html}/commit/${info.sha}`,
      comments_url: `${api}/commits/${info.sha}/comments`,
      author: author ? userShape(accountData(author), core.urls) : null,
      committer: committer ? userShape(accountData(committer), core.urls) : null,
      parents: info.parents.map((p) => ({
        sha: p,
        url: `${api}/commits/${p}`,
        html_url: `${html}/commit/${p}`,
      })),
    };
  }

  function contentEntryJson(repo: RepoState, ref: string, e: TreeEntry) {
    const api = `${core.urls.api}/repos/${fullName(repo)}`;
    const html = `${core.urls.web}/${fullName(repo)}`;
    const type =
      e.type === "tree"
        ? "dir"
        : e.type === "commit"
          ? "submodule"
          : e.mode === "120000"
            ? "symlink"
            : "file";
    const encPath = e.path.split("/").map(encodeURIComponent).join("/");
    const self = `${api}/contents/${encPath}?ref=${encodeURIComponent(ref)}`;
    const gitUrl = `${api}/git/${e.type === "tree" ? "trees" : "blobs"}/${e.sha}`;
    const htmlUrl = `${html}/${e.type === "tree" ? "tree" : "blob"}/${ref}/${encPath}`;
    return {
      name: e.path.split("/").pop()!,
      path: e.path,
      sha: e.sha,
      size: e.size ?? 0,
      url: self,
      html_url: htmlUrl,
      git_url: gitUrl,
      download_url:
        type === "file" ? `${core.urls.web}/raw/${fullName(repo)}/${ref}/${encPath}` : null,
      type,
      _links: { self, git: gitUrl, html: htmlUrl },
    };
  }

  route(
    "GET",
    `${API}/repos/:owner/:repo/commits/:ref+`,
    `${DOCS}/commits/commits#get-a-commit`,
    async (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "contents", level: "read" });
      const ref = decodeURIComponent(ctx.params.ref!);
      const sha = await resolveCommit(repo.path, ref, git.env);
      if (!sha) throw new HttpFailure(422, `No commit found for SHA: ${ref}`);
      if (/vnd\.github(?:\.v3)?\.sha/.test(ctx.req.headers.accept ?? "")) {
        send(ctx, 200, sha, {
          ...apiHeaders(),
          ...rateHeaders(ctx, actor),
          "content-type": "application/vnd.github.sha; charset=utf-8",
        });
        return;
      }
      const data = await commitJson(repo, sha);
      if (!data) throw new HttpFailure(422, `No commit found for SHA: ${ref}`);
      json(ctx, 200, data, actor);
    },
  );

  route(
    "GET",
    `${API}/repos/:owner/:repo/contents/:path*`,
    `${DOCS}/repos/contents#get-repository-content`,
    async (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "contents", level: "read" });
      const ref = ctx.url.searchParams.get("ref") || repo.defaultBranch;
      const path = decodeURIComponent(ctx.params.path ?? "");
      const sha = await resolveCommit(repo.path, ref, git.env);
      if (!sha) throw new HttpFailure(404, `No commit found for the ref ${ref}`);
      const found: PathContent | null = await readPath(repo.path, sha, path, git.env);
      if (!found) throw new HttpFailure(404, "Not Found");
      const accept = ctx.req.headers.accept ?? "";
      if (found.kind === "dir") {
        json(
          ctx,
          200,
          found.entries.map((e) => contentEntryJson(repo, ref, e)),
          actor,
        );
        return;
      }
      if (found.kind === "file" && /vnd\.github(?:\.v3)?\.raw/.test(accept)) {
        send(ctx, 200, found.content, {
          ...apiHeaders(),
          ...rateHeaders(ctx, actor),
          "content-type": "application/vnd.github.raw; charset=utf-8",
        });
        return;
      }
      const base = contentEntryJson(repo, ref, found.entry);
      if (found.kind === "file") {
        const b64 = found.content.toString("base64").replace(/(.{60})/g, "$1\n");
        json(
          ctx,
          200,
          { ...base, content: b64.endsWith("\n") ? b64 : `${b64}\n`, encoding: "base64" },
          actor,
        );
      } else if (found.kind === "symlink") {
        json(ctx, 200, { ...base, target: found.target }, actor);
      } else {
        json(ctx, 200, { ...base, submodule_git_url: "" }, actor);
      }
    },
  );
}
