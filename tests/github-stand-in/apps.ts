// Apps and tokens for the GitHub stand-in: the authenticated app, its installations, installation
// access tokens, a repository's installation, the installation's repositories and the rate limit.
import { appShape, isoSeconds, type Permissions } from "./shapes";
import type { Core } from "./core";
import { DOCS, HttpFailure } from "./model";

export function registerApps(core: Core): void {
  const {
    installations,
    repoOf,
    installationRepos,
    tokenRepos,
    installationData,
    repoData,
    actorFor,
    requireJwt,
    json,
    paginate,
    bodyObject,
    issueInstallationToken,
    route,
    API,
  } = core;

  route("GET", `${API}/app`, `${DOCS}/apps/apps#get-the-authenticated-app`, (ctx) => {
    requireJwt(ctx);
    json(
      ctx,
      200,
      appShape(
        { ...core.app },
        core.app.permissions,
        core.app.events,
        core.urls,
        installations.size,
      ),
    );
  });

  route(
    "GET",
    `${API}/app/installations`,
    `${DOCS}/apps/apps#list-installations-for-the-authenticated-app`,
    (ctx) => {
      requireJwt(ctx);
      const all = [...installations.values()].map(installationData);
      const { page, headers } = paginate(ctx, all);
      json(ctx, 200, page, undefined, headers);
    },
  );

  route(
    "GET",
    `${API}/app/installations/:installation_id`,
    `${DOCS}/apps/apps#get-an-installation-for-the-authenticated-app`,
    (ctx) => {
      requireJwt(ctx);
      const inst = installations.get(Number(ctx.params.installation_id));
      if (!inst) throw new HttpFailure(404, "Not Found");
      json(ctx, 200, installationData(inst));
    },
  );

  route(
    "POST",
    `${API}/app/installations/:installation_id/access_tokens`,
    `${DOCS}/apps/apps#create-an-installation-access-token-for-an-app`,
    (ctx) => {
      requireJwt(ctx);
      const b = bodyObject(ctx);
      const repositories = Array.isArray(b.repositories) ? b.repositories.map(String) : undefined;
      const repositoryIds = Array.isArray(b.repository_ids)
        ? b.repository_ids.map(Number)
        : undefined;
      const permissions =
        b.permissions && typeof b.permissions === "object"
          ? (b.permissions as Permissions)
          : undefined;
      const id = Number(ctx.params.installation_id);
      const { record, repos: selected } = issueInstallationToken(id, {
        repositories,
        repositoryIds,
        permissions,
      });
      ctx.record.installationId = id;
      const inst = installations.get(id)!;
      const listed = selected ?? (inst.repositories === null ? null : installationRepos(inst));
      json(ctx, 201, {
        token: record.token,
        expires_at: isoSeconds(record.expiresAt),
        permissions: record.permissions,
        repository_selection: listed ? "selected" : "all",
        ...(listed ? { repositories: listed.map(repoData) } : {}),
      });
    },
  );

  route(
    "GET",
    `${API}/repos/:owner/:repo/installation`,
    `${DOCS}/apps/apps#get-a-repository-installation-for-the-authenticated-app`,
    (ctx) => {
      requireJwt(ctx);
      const repo = repoOf(ctx.params.owner!, ctx.params.repo!);
      const inst =
        repo &&
        [...installations.values()].find((i) => installationRepos(i).some((r) => r.id === repo.id));
      if (!inst) throw new HttpFailure(404, "Not Found");
      json(ctx, 200, installationData(inst));
    },
  );

  route(
    "GET",
    `${API}/installation/repositories`,
    `${DOCS}/apps/installations#list-repositories-accessible-to-the-app-installation`,
    (ctx) => {
      const actor = actorFor(ctx);
      if (actor.kind === "none") throw new HttpFailure(401, "Requires authentication");
      if (actor.kind !== "installation") {
        throw new HttpFailure(
          403,
          "You must authenticate with an installation access token in order to list repositories for an installation.",
        );
      }
      const list = tokenRepos(actor.token, actor.inst);
      const { page, headers } = paginate(ctx, list);
      json(
        ctx,
        200,
        {
          total_count: list.length,
          repository_selection:
            actor.token.repositoryIds || actor.inst.repositories ? "selected" : "all",
          repositories: page.map(repoData),
        },
        actor,
        headers,
      );
    },
  );

  route(
    "GET",
    `${API}/rate_limit`,
    `${DOCS}/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user`,
    (ctx) => {
      const actor = actorFor(ctx);
      const limit = actor.kind === "none" ? 60 : 5000;
      const reset = Math.floor(Date.now() / 1000) + 3600;
      const core = { limit, used: 0, remaining: limit, reset };
      json(
        ctx,
        200,
        { resources: { core, search: { limit: 30, used: 0, remaining: 30, reset } }, rate: core },
        actor,
      );
    },
  );
}
