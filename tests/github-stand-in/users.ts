// Users and installations for the GitHub stand-in: the signed-in user, the installations a user
// token reaches, and an installation's repositories as that user sees them.
import { userShape } from "./shapes";
import type { Core } from "./core";
import { DOCS, lc, HttpFailure } from "./model";

export function registerUsers(core: Core): void {
  const {
    repos,
    installations,
    accountData,
    installationRepos,
    role,
    installationData,
    repoData,
    rolePermissions,
    userAccessToInstallation,
    requireUser,
    json,
    paginate,
    route,
    API,
  } = core;

  route("GET", `${API}/user`, `${DOCS}/users/users#get-the-authenticated-user`, (ctx) => {
    const { token, user } = requireUser(ctx);
    const base = userShape(accountData(user), core.urls);
    json(
      ctx,
      200,
      {
        ...base,
        name: user.name,
        company: null,
        blog: "",
        location: null,
        email: user.emails[0] ?? null,
        hireable: null,
        bio: null,
        twitter_username: null,
        notification_email: user.emails[0] ?? null,
        public_repos: [...repos.values()].filter(
          (r) => lc(r.owner) === lc(user.login) && !r.private,
        ).length,
        public_gists: 0,
        followers: 0,
        following: 0,
        created_at: user.createdAt,
        updated_at: user.createdAt,
      },
      { kind: "oauth", token, user },
      { "x-oauth-scopes": token.scopes.join(", "), "x-accepted-oauth-scopes": "" },
    );
  });

  route(
    "GET",
    `${API}/user/installations`,
    `${DOCS}/apps/installations#list-app-installations-accessible-to-the-user-access-token`,
    (ctx) => {
      const actor = requireUser(ctx);
      if (actor.token.clientId !== core.app.clientId) {
        throw new HttpFailure(
          403,
          "You must authenticate with an access token authorized to a GitHub App in order to list installations",
        );
      }
      const list = [...installations.values()].filter((i) =>
        userAccessToInstallation(actor.user.login, i),
      );
      const { page, headers } = paginate(ctx, list);
      json(
        ctx,
        200,
        { total_count: list.length, installations: page.map(installationData) },
        { kind: "oauth", ...actor },
        headers,
      );
    },
  );

  route(
    "GET",
    `${API}/user/installations/:installation_id/repositories`,
    `${DOCS}/apps/installations#list-repositories-accessible-to-the-user-access-token`,
    (ctx) => {
      const actor = requireUser(ctx);
      if (actor.token.clientId !== core.app.clientId) {
        throw new HttpFailure(
          403,
          "You must authenticate with an access token authorized to a GitHub App in order to list installations",
        );
      }
      const inst = installations.get(Number(ctx.params.installation_id));
      if (!inst || !userAccessToInstallation(actor.user.login, inst))
        throw new HttpFailure(404, "Not Found");
      const list = installationRepos(inst).filter((r) => role(r, actor.user.login) !== "none");
      const { page, headers } = paginate(ctx, list);
      json(
        ctx,
        200,
        {
          total_count: list.length,
          repository_selection: inst.repositories === null ? "all" : "selected",
          repositories: page.map((r) => ({
            ...repoData(r),
            permissions: rolePermissions(role(r, actor.user.login)),
          })),
        },
        { kind: "oauth", ...actor },
        headers,
      );
    },
  );
}
