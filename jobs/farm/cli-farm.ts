// `npm run bisect -- --farm …`: the job is recorded and queued on the farm like a comment's, its
// progress streamed from the rows, and the result printed in the same shape as a local run.
// Needs the product's database and a running worker (`npm start`).
import { cacheOption } from "../../runner/settings/cache-paths";
import path from "node:path";
import type { Knex } from "knex";
import { BisectJob, BisectStep } from "../../db/models";
import type { CliOptions } from "../../runner/cli/args";
import { formatSeconds, formatStep, short, type JsonResult } from "../../runner/cli/output";
import { cancelJob } from "../bisection/control";
import { admitJob } from "../bisection/admission";
import { liveWorkerCount } from "../heartbeat";
import { storedPredicate } from "./predicate";
import { normalizePredicate } from "../../runner/engine";

export interface FarmIo {
  stderr(text: string): void;
  signal?: AbortSignal;
  /** How often the rows are read, ms. */
  pollMs?: number;
  deadAfterMs?: number;
}

export async function runOnFarm(
  knex: Knex,
  options: CliOptions,
  io: FarmIo,
): Promise<{ json: JsonResult; jobId: number }> {
  const say = (line: string) => io.stderr(`${line}\n`);
  if ((await liveWorkerCount(knex, io.deadAfterMs ?? 45_000)) === 0) {
    say("warning: no worker is running; the job waits in the queue until one starts (npm start)");
  }
  const repoUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(options.repo)
    ? options.repo
    : path.resolve(options.repo);
  // Whoever reaches the product's database is an operator.
  const admission = await admitJob(
    knex,
    {
      authority: { kind: "operator", login: process.env.USER ?? "cli" },
      source: "cli",
      repoUrl,
      goodRef: options.good,
      badRef: options.bad,
      command: options.command,
      setupCommand: options.setup ?? null,
      options: {
        parallel: options.parallel,
        runs: options.runs,
        failThreshold: options.failThreshold,
        // The same predicate as a local run (defaults when no predicate option was given).
        predicate: storedPredicate(
          options.predicate ??
            normalizePredicate({ runs: options.runs, failThreshold: options.failThreshold }),
        ),
        timeoutSeconds: options.timeoutSeconds,
        firstParent: options.firstParent,
        ...(options.image ? { image: options.image } : {}),
        ...(Object.keys(options.env).length > 0 ? { env: options.env } : {}),
        ...(options.pathspec ? { pathspec: options.pathspec } : {}),
        ...cacheOption(options.cache),
      },
      requestedTimeoutSeconds: options.timeoutSeconds,
    },
    { defaultTimeoutSeconds: options.timeoutSeconds },
  );
  if (!admission.admitted) throw new Error(`the job was not admitted (${admission.reason})`);
  const { job } = admission;
  say(`queued as job ${job.id} on the farm`);
  const started = Date.now();
  const seen = new Set<number>();
  let announced = "";
  const onAbort = () => void cancelJob(knex, job.id, { login: "cli" }, "interrupted");
  io.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      const current = (await BisectJob.query(knex).findById(job.id))!;
      if (current.status !== announced && ["preparing", "running"].includes(current.status)) {
        announced = current.status;
        say(
          current.status === "running"
            ? `bisecting ${current.commitCount} commits between good ${short(current.goodSha!)} and bad ${short(current.badSha!)}`
            : "refreshing the repository mirror",
        );
      }
      const steps = await BisectStep.query(knex).where({ bisectJobId: job.id }).modify("inOrder");
      for (const s of steps) {
        if (s.status !== "done" || seen.has(s.id)) continue;
        seen.add(s.id);
        say(
          `  ${formatStep({ sha: s.sha, verdict: s.verdict!, exitCode: s.exitCode, durationMs: s.durationMs ?? 0, round: s.round, reason: s.reason ?? undefined, wallMs: 0, log: "" })}`,
        );
      }
      if (current.isFinal) {
        const json = toJsonResult(current, steps);
        say(
          `${json.outcome}${json.culprit ? `: the first bad commit is ${short(json.culprit)}` : ""}${json.explanation ? `\n    ${json.explanation}` : ""}`,
        );
        say(
          `    ${steps.filter((s) => s.status === "done").length} runs in ${current.rounds} rounds, ${formatSeconds(Date.now() - started)}`,
        );
        return { json, jobId: job.id };
      }
      await new Promise((r) => setTimeout(r, io.pollMs ?? 500));
    }
  } finally {
    io.signal?.removeEventListener("abort", onAbort);
  }
}

export function toJsonResult(job: BisectJob, steps: BisectStep[]): JsonResult {
  const done = steps.filter((s) => s.status === "done");
  const outcome =
    job.status === "cancelled" || job.outcome === "timeout" || !job.outcome ? "error" : job.outcome;
  const explanation =
    job.explanation ?? job.error ?? (job.status === "cancelled" ? "the job was cancelled" : "");
  return {
    outcome,
    culprit: job.culpritSha,
    candidates: job.candidates ?? [],
    rounds: job.rounds,
    steps: done.map((s) => ({
      sha: s.sha,
      verdict: s.verdict!,
      exitCode: s.exitCode,
      durationMs: s.durationMs ?? 0,
      round: s.round,
      ...(s.reason ? { reason: s.reason } : {}),
    })),
    confidence: job.confidence ?? 0,
    explanation,
    ...(job.goodSha && job.badSha
      ? { range: { good: job.goodSha, bad: job.badSha, commits: job.commitCount ?? 0 } }
      : {}),
    ...(job.status === "cancelled" ? { aborted: true } : {}),
    ...(job.error ? { error: job.error } : {}),
  };
}
