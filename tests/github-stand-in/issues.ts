// Issues and comments for the GitHub stand-in: issue comments (list, create, read, edit, delete)
// and reactions to comments and issues.
import { isoSeconds, nodeId, REACTION_CONTENTS, userShape } from "./shapes";
import type { Core } from "./core";
import {
  type RepoState,
  type CommentState,
  type Actor,
  type Ctx,
  DOCS,
  ROLE_RANK,
  MAX_COMMENT,
  lc,
  HttpFailure,
} from "./model";

export function registerIssues(core: Core): void {
  const {
    comments,
    reactions,
    account,
    newCommentId,
    accountData,
    fullName,
    role,
    actorFor,
    requireRepo,
    json,
    paginate,
    bodyObject,
    validationFailed,
    commentAuthor,
    association,
    commentJson,
    route,
    API,
  } = core;

  function checkBody(body: unknown): string {
    if (typeof body !== "string") throw validationFailed("IssueComment", "body", "missing_field");
    if ([...body].length > MAX_COMMENT) {
      throw validationFailed(
        "IssueComment",
        "body",
        "custom",
        `body is too long (maximum is ${MAX_COMMENT} characters)`,
      );
    }
    return body;
  }

  function findComment(repo: RepoState, id: string | undefined): CommentState {
    const c = comments.get(Number(id));
    if (!c || c.deleted || lc(`${c.owner}/${c.repo}`) !== lc(fullName(repo)))
      throw new HttpFailure(404, "Not Found");
    return c;
  }

  function react(ctx: Ctx, actor: Actor, target: string): void {
    const content = bodyObject(ctx).content;
    if (
      typeof content !== "string" ||
      !(REACTION_CONTENTS as readonly string[]).includes(content)
    ) {
      throw validationFailed("Reaction", "content", "invalid");
    }
    const { login } = commentAuthor(actor);
    const existing = reactions.find(
      (r) => r.target === target && r.content === content && lc(r.user) === lc(login),
    );
    const reaction = existing ?? {
      id: core.nextReactionId++,
      target,
      content,
      user: login,
      createdAt: isoSeconds(),
    };
    if (!existing) reactions.push(reaction);
    json(
      ctx,
      existing ? 200 : 201,
      {
        id: reaction.id,
        node_id: nodeId("Reaction", reaction.id),
        user: userShape(accountData(account(login, "User")), core.urls),
        content: reaction.content,
        created_at: reaction.createdAt,
      },
      actor,
    );
  }

  route(
    "GET",
    `${API}/repos/:owner/:repo/issues/:issue_number/comments`,
    `${DOCS}/issues/comments#list-issue-comments`,
    (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "issues", level: "read" });
      const issue = Number(ctx.params.issue_number);
      const since = ctx.url.searchParams.get("since");
      const list = [...comments.values()]
        .filter(
          (c) =>
            !c.deleted && c.issue === issue && lc(`${c.owner}/${c.repo}`) === lc(fullName(repo)),
        )
        .filter((c) => !since || Date.parse(c.updatedAt) >= Date.parse(since))
        .sort((a, b) => a.id - b.id);
      const { page, headers } = paginate(ctx, list);
      json(ctx, 200, page.map(commentJson), actor, headers);
    },
  );

  route(
    "POST",
    `${API}/repos/:owner/:repo/issues/:issue_number/comments`,
    `${DOCS}/issues/comments#create-an-issue-comment`,
    (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "issues", level: "write" });
      const issue = Number(ctx.params.issue_number);
      if (!Number.isInteger(issue) || issue < 1) throw new HttpFailure(404, "Not Found");
      const body = checkBody(bodyObject(ctx).body);
      const author = commentAuthor(actor);
      const now = isoSeconds();
      const c: CommentState = {
        id: newCommentId(),
        owner: repo.owner,
        repo: repo.name,
        issue,
        body,
        author: author.login,
        viaApp: author.viaApp,
        authorAssociation: association(repo, author.login),
        createdAt: now,
        updatedAt: now,
        history: [],
        deleted: false,
      };
      comments.set(c.id, c);
      const shaped = commentJson(c);
      json(ctx, 201, shaped, actor, { location: shaped.url });
    },
  );

  route(
    "GET",
    `${API}/repos/:owner/:repo/issues/comments/:comment_id`,
    `${DOCS}/issues/comments#get-an-issue-comment`,
    (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "issues", level: "read" });
      json(ctx, 200, commentJson(findComment(repo, ctx.params.comment_id)), actor);
    },
  );

  route(
    "PATCH",
    `${API}/repos/:owner/:repo/issues/comments/:comment_id`,
    `${DOCS}/issues/comments#update-an-issue-comment`,
    (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "issues", level: "write" });
      const c = findComment(repo, ctx.params.comment_id);
      const body = checkBody(bodyObject(ctx).body);
      if (
        actor.kind === "oauth" &&
        lc(c.author) !== lc(actor.user.login) &&
        ROLE_RANK[role(repo, actor.user.login)] < ROLE_RANK.write
      ) {
        throw new HttpFailure(403, "Must have admin rights to Repository.");
      }
      c.history.push(c.body);
      c.body = body;
      c.updatedAt = isoSeconds();
      json(ctx, 200, commentJson(c), actor);
    },
  );

  route(
    "DELETE",
    `${API}/repos/:owner/:repo/issues/comments/:comment_id`,
    `${DOCS}/issues/comments#delete-an-issue-comment`,
    (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "issues", level: "write" });
      findComment(repo, ctx.params.comment_id).deleted = true;
      json(ctx, 204, undefined, actor);
    },
  );

  route(
    "POST",
    `${API}/repos/:owner/:repo/issues/comments/:comment_id/reactions`,
    `${DOCS}/reactions/reactions#create-reaction-for-an-issue-comment`,
    (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "issues", level: "write" });
      const c = findComment(repo, ctx.params.comment_id);
      react(ctx, actor, `comment:${c.id}`);
    },
  );

  route(
    "POST",
    `${API}/repos/:owner/:repo/issues/:issue_number/reactions`,
    `${DOCS}/reactions/reactions#create-reaction-for-an-issue`,
    (ctx) => {
      const actor = actorFor(ctx);
      const repo = requireRepo(ctx, actor, { permission: "issues", level: "write" });
      react(ctx, actor, `issue:${lc(fullName(repo))}#${Number(ctx.params.issue_number)}`);
    },
  );
}
