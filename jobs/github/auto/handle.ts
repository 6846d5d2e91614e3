// A configured check turned red (or green) on the default branch. Red: find the check's last
// green commit from GitHub's own record, then join the open bisection of that breakage, report
// the culprit directly when it is the green commit's child, or admit a new automatic job. Green:
// a bisection of the same check that the green commit comes after is cancelled ("fixed
// meanwhile"). Nobody typed anything, so nothing is posted until there is an answer.
import { networkSwitches } from "../../../runner/settings/network";
import type { Octokit } from "@octokit/rest";
import { AutoBisection, BisectJob, type Installation, type JobOptions } from "../../../db/models";
import { normalizePredicate } from "../../../runner/engine";
import { admitJob } from "../../bisection/admission";
import { cancelJob } from "../../bisection/control";
import { storedPredicate } from "../../farm/predicate";
import type { WorkerContext } from "../../worker-context";
import { githubApp } from "../app-client";
import { ensureInstallation, upsertRepositories, type Handled } from "../installations";
import type { RepoConfig } from "../repo-config";
import { cacheOption } from "../../../runner/settings/cache-paths";
import type { AutoCheck } from "../../../runner/settings/auto-config";
import { defaultBranchConfig } from "./config";
import { colourOf, type CheckRunEvent } from "./events";
import { enqueueAutoReport } from "./report-task";
import { findLastGreen, isDescendant, type Repo } from "./walk";

/** Why an installation cannot bisect automatically, or null when it can. */
export function automaticUnavailable(
  installation: Pick<Installation, "permissions">,
): string | null {
  const checks = installation.permissions?.checks;
  if (checks !== "read" && checks !== "write")
    return "the installation has not granted the `checks: read` permission (accept it in the app's installation settings on GitHub)";
  return null;
}

/** The job's settings: the check's own, over the repository's defaults. */
export function autoJobSpec(
  cfg: RepoConfig,
  check: AutoCheck,
): { command: string; setupCommand: string | null; options: JobOptions } {
  const predicate = normalizePredicate({
    ...(cfg.predicate ?? {}),
    ...(check.predicate ?? {}),
    find: "regression",
  });
  const image = check.image ?? cfg.image;
  return {
    command: check.command,
    setupCommand: check.setup ?? cfg.setup ?? null,
    options: {
      runs: predicate.runs,
      failThreshold: predicate.failThreshold,
      predicate: storedPredicate(predicate),
      parallel: 1,
      firstParent: true,
      ...networkSwitches(cfg.network ?? "none"),
      ...(image ? { image } : {}),
      ...(cfg.pathspec ? { pathspec: cfg.pathspec } : {}),
      ...(cfg.env && Object.keys(cfg.env).length > 0 ? { env: cfg.env } : {}),
      ...cacheOption(cfg.cache),
    },
  };
}

export async function handleCheckRun(
  ctx: WorkerContext,
  event: CheckRunEvent,
  deliveryId: string,
): Promise<Handled> {
  const { check_run: run, repository } = event;
  const colour = colourOf(run.conclusion);
  const branch = run.check_suite?.head_branch;
  if (event.action !== "completed" || !colour || !branch || branch !== repository.default_branch)
    return { status: "ignored", note: "not a red or green result on the default branch" };

  const installation = await ensureInstallation(ctx.knex, event.installation.id, repository.owner);
  if (installation.deletedAt || installation.suspendedAt)
    return { status: "ignored", note: `installation ${installation.id} is not active` };
  const unavailable = automaticUnavailable(installation);
  if (unavailable) return { status: "ignored", note: `no automatic bisection: ${unavailable}` };
  await upsertRepositories(ctx.knex, installation.id, [
    {
      id: repository.id,
      owner: repository.owner.login,
      name: repository.name,
      private: repository.private,
      defaultBranch: repository.default_branch ?? null,
    },
  ]);
  const repo: Repo & { id: number } = {
    id: repository.id,
    owner: repository.owner.login,
    name: repository.name,
  };
  const gh = githubApp(ctx).client(
    { installationId: installation.id, repositoryId: repo.id, granted: installation.permissions },
    "checks",
  );

  const config = await defaultBranchConfig(gh, repo);
  if (!config.ok)
    return { status: "ignored", note: `bisect.yml is invalid: ${config.problems.join("; ")}` };
  const auto = config.config.auto;
  const check = auto?.checks.find((c) => c.name === run.name);
  if (!auto || !check)
    return {
      status: "ignored",
      note: `check ${JSON.stringify(run.name)} is not configured for automatic bisection`,
    };

  // A pull request from a fork's branch named like the default branch reports that branch name
  // too: only a commit the default branch contains may start or end a bisection.
  if (!(await isDescendant(gh, repo, run.head_sha, repository.default_branch!)))
    return { status: "ignored", note: `${run.head_sha.slice(0, 7)} is not on the default branch` };
  if (colour === "green") return fixedMeanwhile(ctx, gh, repo, run.name, run.head_sha);

  const walk = await findLastGreen(gh, repo, run.name, run.head_sha);
  if (walk.kind === "none")
    return { status: "ignored", note: `no last green for ${run.name}: ${walk.reason}` };

  const { knex } = ctx;
  return knex.transaction(async (trx) => {
    // One row per breakage: a later red run with the same last green joins it.
    const inserted = await trx("auto_bisections")
      .insert({
        installationId: installation.id,
        repositoryId: repo.id,
        checkName: run.name,
        greenSha: walk.green,
        redSha: walk.firstRed,
        command: check.command,
        checkRunUrl: run.html_url ?? null,
        notify: auto.notify,
        state: walk.direct ? "direct" : "bisecting",
        culpritSha: walk.direct ? walk.firstRed : null,
      })
      .onConflict(["repositoryId", "checkName", "greenSha"])
      .ignore()
      .returning("id");
    if (inserted.length === 0) {
      const [row] = await trx("auto_bisections")
        .where({ repositoryId: repo.id, checkName: run.name, greenSha: walk.green })
        .increment("joinedRuns", 1)
        .returning(["id", "bisectJobId"]);
      return {
        status: "processed",
        note: `red ${run.name} at ${run.head_sha.slice(0, 7)} joined automatic bisection ${row?.id}${row?.bisectJobId ? ` (job ${row.bisectJobId})` : ""}`,
      };
    }
    const autoId = Number((inserted[0] as { id: number }).id);
    if (walk.direct) {
      await enqueueAutoReport(trx, { autoId });
      return {
        status: "processed",
        note: `${run.name} was green at the parent of ${walk.firstRed.slice(0, 7)}: reported directly`,
      };
    }
    const spec = autoJobSpec(config.config, check);
    const admission = await admitJob(
      trx,
      {
        ...spec,
        goodRef: walk.green,
        badRef: walk.firstRed,
        authority: {
          kind: "automatic",
          login: `check:${run.name}`.slice(0, 200),
          repositoryId: repo.id,
        },
        source: "auto",
        installationId: installation.id,
        repositoryId: repo.id,
        deliveryId,
        requestedTimeoutSeconds: config.config.timeout,
        audit: { repository: `${repo.owner}/${repo.name}`, check: run.name },
      },
      { defaultTimeoutSeconds: ctx.config.RUNNER_STEP_TIMEOUT_SECONDS },
    );
    if (admission.admitted) {
      await AutoBisection.query(trx).findById(autoId).patch({ bisectJobId: admission.job.id });
      return {
        status: "processed",
        note: `automatic bisection ${autoId}: job ${admission.job.id} queued`,
      };
    }
    const reason =
      admission.reason === "quota"
        ? `the ${admission.tier} plan's monthly limit of ${admission.limit} ${admission.automatic ? "automatic bisections" : "bisections"} is reached (it resets on ${admission.resetsAt.toISOString().slice(0, 10)})`
        : admission.reason === "inactive"
          ? admission.message
          : "another job is still running";
    await AutoBisection.query(trx).findById(autoId).patch({ state: "refused", reportNote: reason });
    return { status: "processed", note: `automatic bisection ${autoId} not started: ${reason}` };
  });
}

/** A green run of the check: bisections of it whose red commit the green one comes after end. */
async function fixedMeanwhile(
  ctx: WorkerContext,
  gh: Octokit,
  repo: Repo & { id: number },
  checkName: string,
  greenSha: string,
): Promise<Handled> {
  const open = await AutoBisection.query(ctx.knex)
    .where({ repositoryId: repo.id, checkName, state: "bisecting" })
    .whereNotNull("bisectJobId");
  const cancelled: number[] = [];
  for (const row of open) {
    const job = await BisectJob.query(ctx.knex).findById(row.bisectJobId!);
    if (!job || job.isFinal) continue;
    if (!(await isDescendant(gh, repo, row.redSha, greenSha))) continue;
    const reason = `fixed meanwhile: ${checkName} passed again at ${greenSha.slice(0, 7)} before the bisection ended`;
    await ctx.knex.transaction(async (trx) => {
      await AutoBisection.query(trx)
        .findById(row.id)
        .patch({ state: "fixed", fixedBySha: greenSha });
    });
    if (await cancelJob(ctx.knex, job.id, { login: "system" }, reason)) cancelled.push(job.id);
    await enqueueAutoReport(ctx.knex, { autoId: row.id });
  }
  return {
    status: "processed",
    note: cancelled.length
      ? `${checkName} is green at ${greenSha.slice(0, 7)}: job ${cancelled.join(", ")} cancelled (fixed meanwhile)`
      : `${checkName} is green at ${greenSha.slice(0, 7)}: nothing to cancel`,
  };
}
