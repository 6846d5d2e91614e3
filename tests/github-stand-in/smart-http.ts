// git smart-HTTP for the GitHub stand-in (read only): info/refs and git-upload-pack over Basic
// auth with an installation token, as `git clone` / `git fetch` use them.
import { serveHttpBackend } from "./git";
import type { Core } from "./core";
import { type Ctx, LEVEL, HttpFailure } from "./model";

export function registerSmartHttp(core: Core): void {
  const { git, installations, installationTokens, repoOf, fullName, tokenRepos, classify, route } =
    core;

  // git smart-HTTP (read only).
  const gitHandler = (service: "info" | "upload") => async (ctx: Ctx) => {
    const name = ctx.params.repo!.replace(/\.git$/, "");
    const repo = repoOf(ctx.params.owner!, name);
    const challenge = { "www-authenticate": 'Basic realm="GitHub"' };
    const c = classify(ctx.req);
    const wantsPush = ctx.url.searchParams.get("service") === "git-receive-pack";
    if (wantsPush) {
      ctx.record.unexpected = true;
      ctx.record.note = "push attempted";
    }
    const token =
      c.kind === "basic" && c.credential ? installationTokens.get(c.credential) : undefined;
    const inst = token && installations.get(token.installationId);
    const valid =
      token && inst && !token.revoked && token.expiresAt > Date.now() && !inst.suspendedAt;
    if (!valid) {
      ctx.req.resume();
      throw new HttpFailure(
        401,
        "Invalid username or token. Password authentication is not supported for Git operations.",
        {},
        challenge,
      );
    }
    ctx.record.installationId = inst.id;
    if (!repo || !tokenRepos(token, inst).some((r) => r.id === repo.id)) {
      ctx.req.resume();
      throw new HttpFailure(404, "Repository not found.");
    }
    if ((LEVEL[token.permissions.contents ?? "none"] ?? 0) < LEVEL.read!) {
      ctx.req.resume();
      throw new HttpFailure(
        403,
        `Permission to ${fullName(repo)}.git denied to ${core.app.slug}[bot].`,
      );
    }
    if (wantsPush) {
      ctx.req.resume();
      throw new HttpFailure(
        403,
        `Permission to ${fullName(repo)}.git denied to ${core.app.slug}[bot].`,
      );
    }
    if (service === "info" && ctx.url.searchParams.get("service") !== "git-upload-pack") {
      ctx.req.resume();
      throw new HttpFailure(403, "Please upgrade your git client (smart HTTP only).");
    }
    await serveHttpBackend(ctx.req, ctx.res, {
      repoPath: repo.path,
      pathInfo: service === "info" ? "/info/refs" : "/git-upload-pack",
      query: ctx.url.search.replace(/^\?/, ""),
      env: git.env,
      remoteUser: "x-access-token",
    });
  };
  route(
    "GET",
    "/:owner/:repo/info/refs",
    "https://docs.github.com/get-started/git-basics",
    gitHandler("info"),
    true,
  );
  route(
    "POST",
    "/:owner/:repo/git-upload-pack",
    "https://docs.github.com/get-started/git-basics",
    gitHandler("upload"),
    true,
  );
}
