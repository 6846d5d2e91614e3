// Posting an automatic bisection's answer where bisect.yml's `notify` says: a comment on the
// culprit's pull request mentioning its author, a commit comment on the culprit, a new issue
// labelled `regression`, or nowhere but the dashboard. Posted once (reported_at), only when
// there is an answer: a bisection fixed meanwhile or cancelled posts nothing, since nobody was
// told it started.
import type { Octokit } from "@octokit/rest";
import { AutoBisection, BisectJob, Installation, Repository } from "../../../db/models";
import type { WorkerContext } from "../../worker-context";
import { githubApp, httpStatus } from "../app-client";
import { renderStatusComment } from "../render";
import { commitDetails, renderInput } from "../status-comment";
import {
  AUTO_MARKER,
  issueTitle,
  renderAutoHeader,
  renderDirectBody,
  type AutoView,
} from "./render";

export const REGRESSION_LABEL = "regression";
/** Outcomes that name a commit (or a few): the ones posted on GitHub. */
const ANSWERS = ["found", "likely", "ambiguous"];

async function recordReport(
  ctx: WorkerContext,
  id: number,
  report: { url?: string | null; note?: string | null },
): Promise<void> {
  await AutoBisection.query(ctx.knex)
    .findById(id)
    .whereNull("reportedAt")
    .patch({
      reportedAt: new Date(),
      reportUrl: report.url ?? null,
      reportNote: report.note ?? null,
    });
}

export async function reportAutomatic(
  ctx: WorkerContext,
  target: { autoId: number } | { jobId: number },
): Promise<string> {
  const auto =
    "autoId" in target
      ? await AutoBisection.query(ctx.knex).findById(target.autoId)
      : await AutoBisection.query(ctx.knex).findOne({ bisectJobId: target.jobId });
  if (!auto) return "no automatic bisection";
  if (auto.reportedAt) return `automatic bisection ${auto.id} was already reported`;
  const job = auto.bisectJobId ? await BisectJob.query(ctx.knex).findById(auto.bisectJobId) : null;
  if (auto.state === "bisecting" && job && !job.isFinal) return `job ${job.id} is still going`;
  if (auto.state === "refused") return `automatic bisection ${auto.id} was not started`;
  if (auto.state === "fixed" || job?.status === "cancelled") {
    const note =
      auto.state === "fixed"
        ? `fixed meanwhile: the check passed again at ${auto.fixedBySha?.slice(0, 7)} before the bisection ended`
        : `cancelled: ${job?.error ?? "by a person"}`;
    await recordReport(ctx, auto.id, { note });
    if (auto.state === "bisecting")
      await AutoBisection.query(ctx.knex).findById(auto.id).patch({ state: "reported" });
    return note;
  }

  // Only an answer that names commits is posted: "the command passes at the red commit" or an
  // error is for the maintainers' dashboard, not for a culprit's author.
  if (job && !(job.status === "finished" && ANSWERS.includes(job.outcome ?? ""))) {
    const note = `no culprit to report (${job.outcome ?? job.status}${job.error ? `: ${job.error}` : ""})`;
    await recordReport(ctx, auto.id, { note: note.slice(0, 500) });
    await AutoBisection.query(ctx.knex).findById(auto.id).patch({ state: "reported" });
    return note;
  }
  const repo = await Repository.query(ctx.knex).findById(auto.repositoryId);
  const installation = await Installation.query(ctx.knex).findById(auto.installationId);
  if (
    !repo ||
    repo.removedAt ||
    !installation ||
    installation.deletedAt ||
    installation.suspendedAt
  ) {
    await recordReport(ctx, auto.id, {
      note: "the repository or installation is no longer active",
    });
    return "inactive";
  }
  const app = githubApp(ctx);
  const scope = {
    installationId: installation.id,
    repositoryId: repo.id,
    granted: installation.permissions,
  };
  const gh = app.client(scope);
  const culpritSha = auto.culpritSha ?? job?.culpritSha ?? null;
  const culprit = culpritSha ? await commitDetails(ctx.statusComments, gh, repo, culpritSha) : null;
  const certain =
    auto.state === "direct" || (job?.status === "finished" && job.outcome === "found");
  const view: AutoView = {
    auto,
    repo: { owner: repo.owner, name: repo.name },
    defaultBranch: repo.defaultBranch ?? "the default branch",
    webUrl: app.config.webUrl,
    culprit,
    certain,
  };
  let body: string;
  if (job) {
    const input = await renderInput(ctx, app, gh, { job, repo, installation }, {});
    body = `${renderAutoHeader(view)}\n\n${renderStatusComment(input)}`;
  } else {
    body = `${renderAutoHeader(view)}\n\n${renderDirectBody(view, auto.command)}`;
  }
  body += `\n${AUTO_MARKER(auto.id)}`;

  const where = await post(ctx, gh, view, auto, body, culpritSha);
  await recordReport(ctx, auto.id, where);
  await AutoBisection.query(ctx.knex).findById(auto.id).patch({ state: "reported" });
  return where.url ? `posted at ${where.url}` : `on the dashboard only: ${where.note}`;
}

async function post(
  ctx: WorkerContext,
  gh: Octokit,
  view: AutoView,
  auto: AutoBisection,
  body: string,
  culpritSha: string | null,
): Promise<{ url?: string; note?: string }> {
  const { owner, name } = view.repo;
  switch (auto.notify) {
    case "none":
      return { note: "notify: none" };
    case "issue": {
      const { data } = await gh.rest.issues.create({
        owner,
        repo: name,
        title: issueTitle(view),
        body,
        labels: [REGRESSION_LABEL],
      });
      return { url: data.html_url };
    }
    case "pull-request": {
      const pull = view.culprit?.pull;
      if (!culpritSha || !pull)
        return {
          note: culpritSha ? "no pull request brought the culprit in" : "no single culprit",
        };
      // Posted by an earlier attempt that could not record it: keep that one.
      const marker = AUTO_MARKER(auto.id);
      const bot = githubApp(ctx).botLogin;
      for (let page = 1; page <= 5; page++) {
        const { data: seen } = await gh.rest.issues.listComments({
          owner,
          repo: name,
          issue_number: pull.number,
          per_page: 100,
          page,
        });
        const mine = seen.find((c) => c.user?.login === bot && c.body?.includes(marker));
        if (mine) return { url: mine.html_url };
        if (seen.length < 100) break;
      }
      const { data } = await gh.rest.issues.createComment({
        owner,
        repo: name,
        issue_number: pull.number,
        body,
      });
      return { url: data.html_url };
    }
    case "commit": {
      if (!culpritSha) return { note: "no single culprit" };
      const installation = await Installation.query(ctx.knex).findById(auto.installationId);
      const writer = githubApp(ctx).client(
        {
          installationId: auto.installationId,
          repositoryId: auto.repositoryId,
          granted: installation?.permissions,
        },
        "commitComment",
      );
      try {
        const { data } = await writer.rest.repos.createCommitComment({
          owner,
          repo: name,
          commit_sha: culpritSha,
          body,
        });
        return { url: data.html_url };
      } catch (error) {
        if (httpStatus(error) === 403)
          return {
            note: "a commit comment needs the `contents: write` permission, which this installation has not granted",
          };
        throw error;
      }
    }
  }
}
