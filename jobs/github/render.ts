// The status comment of a bisection, rendered from its rows. Pure: everything it shows is passed
// in (job, steps, culprit details fetched from GitHub, quota, the time "now"), so it is
// unit-tested without a database or GitHub. The body always stays under MAX_BODY characters.
import type { BisectJob, BisectStep } from "../../db/models";
import {
  describePredicate,
  FOUND_CONFIDENCE,
  termsOf,
  type Predicate,
  type Terms,
} from "../../runner/engine";
import { predicateOfJob } from "../farm/predicate";
import { measure, VERIFY_MIN_RUNS } from "../farm/verify";
import { formatDuration } from "./command";
import { cellCode, code, fence, shellQuote, tail, text } from "./markdown";
import { scrubSecrets } from "../../config/scrub";
import { networkPolicyOf } from "../../runner/settings/network";

/** GitHub allows 65,536 characters; keep a margin for edits and multi-byte surprises. */
export const MAX_BODY = 60_000;

export type CommentJob = Pick<
  BisectJob,
  | "id"
  | "status"
  | "outcome"
  | "goodRef"
  | "badRef"
  | "goodSha"
  | "badSha"
  | "command"
  | "setupCommand"
  | "options"
  | "commitCount"
  | "culpritSha"
  | "candidates"
  | "confidence"
  | "explanation"
  | "error"
  | "rounds"
  | "createdAt"
  | "startedAt"
  | "finishedAt"
  | "requesterLogin"
  | "retryOfJobId"
> &
  Partial<Pick<BisectJob, "imagePull">>;

export type CommentStep = Pick<
  BisectStep,
  | "sha"
  | "round"
  | "attempt"
  | "status"
  | "verdict"
  | "reason"
  | "exitCode"
  | "durationMs"
  | "logExcerpt"
>;

export interface CommitDetails {
  sha: string;
  title: string;
  authorName: string | null;
  authorLogin: string | null;
  /** ISO date of the authored time. */
  date: string | null;
  pull: { number: number; title: string; url: string } | null;
}

export interface QuotaView {
  tier: string;
  used: number;
  /** null: unlimited. */
  limit: number | null;
  /** Bisections of the installation running now, and how many the plan runs at once. */
  active?: number;
  maxConcurrent?: number;
}

export interface StatusCommentInput {
  job: CommentJob;
  steps: CommentStep[];
  repo: { owner: string; name: string };
  /** GitHub's web URL (github.com or a GitHub Enterprise Server). */
  webUrl: string;
  /** Where the dashboard is reached. */
  publicUrl: string;
  now: Date;
  culprit?: CommitDetails | null;
  quota?: QuotaView | null;
  /** Typical seconds of one run in this repository, for estimates. */
  runSecondsEstimate?: number | null;
  /** The plan capped the requested per-run timeout. */
  timeoutCap?: { requestedSeconds: number; maxSeconds: number; tier: string } | null;
  /** The plan lowered the requested --parallel (shown in the first render). */
  parallelCap?: { requested: number; max: number; tier: string } | null;
  /** The first parent of the culprit (the commit the answer compares it with). */
  culpritParent?: string | null;
  /** The latest `/bisect verify` of this job, with its runs. */
  verification?: { job: CommentJob; steps: CommentStep[] } | null;
}

/** Marks the comment as this job's status comment (found again after a lost response). */
export function statusMarker(jobId: number): string {
  return `<!-- bisect-bot:status job=${jobId} -->`;
}

const short = (sha: string) => sha.slice(0, 7);

interface Budget {
  /** Characters of each log excerpt (0: none). */
  logChars: number;
  /** Table rows shown (the first half and the last half of the steps when fewer than all). */
  rows: number;
}

export function renderStatusComment(input: StatusCommentInput): string {
  const budgets: Budget[] = [
    { logChars: 4000, rows: Infinity },
    { logChars: 1500, rows: Infinity },
    { logChars: 0, rows: Infinity },
  ];
  for (let rows = 400; rows >= 10; rows = Math.floor(rows / 2)) budgets.push({ logChars: 0, rows });
  for (const budget of budgets) {
    const body = render(input, budget);
    if (body.length <= MAX_BODY) return body;
  }
  const body = render(input, { logChars: 0, rows: 4 });
  if (body.length <= MAX_BODY) return body;
  const note = `\n\n_…cut to fit a GitHub comment. Everything is on the [dashboard](${dashboardUrl(input)})._\n${statusMarker(input.job.id)}`;
  return body.slice(0, MAX_BODY - note.length) + note;
}

export function dashboardUrl(input: Pick<StatusCommentInput, "publicUrl" | "job">): string {
  return `${input.publicUrl}/dashboard/jobs/${input.job.id}`;
}

function commitUrl(input: StatusCommentInput, sha: string): string {
  return `${input.webUrl}/${input.repo.owner}/${input.repo.name}/commit/${sha}`;
}

function commitLink(input: StatusCommentInput, sha: string): string {
  return `[\`${short(sha)}\`](${commitUrl(input, sha)})`;
}

/** GitHub's page of the commits between the two revisions. */
export function compareUrl(input: Pick<StatusCommentInput, "job" | "repo" | "webUrl">): string {
  const { job } = input;
  const good = encodeURIComponent(job.goodSha ?? job.goodRef);
  const bad = encodeURIComponent(job.badSha ?? job.badRef);
  return `${input.webUrl}/${input.repo.owner}/${input.repo.name}/compare/${good}...${bad}`;
}

/** The job's predicate; a stored one that no longer validates shows as the defaults. */
function predicateOf(job: CommentJob): Predicate {
  try {
    return predicateOfJob(job);
  } catch {
    return predicateOfJob({ options: {} });
  }
}

const termsOfJob = (job: CommentJob): Terms => termsOf(predicateOf(job).find);
const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * "Bisection 12" linked to the dashboard. Never "#12": GitHub would link it to issue or pull
 * request 12 and cross-reference it there.
 */
function jobName(
  input: Pick<StatusCommentInput, "publicUrl">,
  id: number,
  word = "Bisection",
): string {
  return `[${word} ${id}](${input.publicUrl}/dashboard/jobs/${id})`;
}

const CONFIG_FILE = ".github/bisect.yml";

function render(input: StatusCommentInput, budget: Budget): string {
  const { job } = input;
  const parts: string[] = [`### ${headline(input)}`, "", requestLine(input)];
  const options = optionsLine(input);
  if (options) parts.push(options);
  const zero = zeroConfigLine(input);
  if (zero) parts.push(zero);
  parts.push(predicateBlock(input));
  parts.push("");

  switch (job.status) {
    case "queued":
      parts.push(queuedText(input));
      break;
    case "preparing":
      parts.push(
        "Fetching the repository, listing the commits between the two revisions and checking that the good one passes and the bad one fails…",
      );
      break;
    case "running":
      parts.push(runningText(input));
      break;
    default:
      parts.push(...resultText(input, budget));
  }

  const pull = pullLine(input);
  if (pull) parts.push("", pull);
  const table = stepsTable(input, budget.rows);
  if (table) parts.push("", table);
  const totals = totalsLine(input);
  if (totals) parts.push("", totals);
  if (job.status === "finished" || job.status === "failed") parts.push("", reproduceBlock(input));
  const wrong = wrongLine(input);
  if (wrong) parts.push("", wrong);
  parts.push(
    "",
    `[Logs and every step on the dashboard](${dashboardUrl(input)})`,
    statusMarker(job.id),
  );
  return parts.join("\n");
}

function headline(input: StatusCommentInput): string {
  const { job } = input;
  const name = jobName(input, job.id);
  const t = termsOfJob(job);
  switch (job.status) {
    case "queued":
      return `⏳ ${name} is queued`;
    case "preparing":
      return `🔧 ${name} is starting`;
    case "running":
      return `🔎 ${name} is running${job.rounds > 0 ? ` (round ${job.rounds})` : ""}`;
    case "cancelled":
      return `🛑 ${name} was cancelled`;
    case "failed":
      return job.outcome === "timeout" ? `⏱️ ${name} ran out of time` : `❌ ${name} failed`;
    case "finished":
      break;
  }
  switch (job.outcome) {
    case "found":
      return `🎯 ${name} found the ${t.first}`;
    case "likely":
      return `🤔 ${name}: likely ${t.first} (not sure)`;
    case "ambiguous":
      return `🤷 ${name} narrowed it down to ${job.candidates?.length ?? "several"} commits`;
    case "good-is-bad":
      return t.bad === "bad"
        ? `⚠️ ${name}: the good revision already fails`
        : `⚠️ ${name}: the old revision is already fixed`;
    case "bad-is-good":
      return t.bad === "bad"
        ? `⚠️ ${name}: the bad revision passes`
        : `⚠️ ${name}: the new revision is not fixed`;
    case "flaky":
      return `🎲 ${name}: the test gives different results on the same commit`;
    case "timeout":
      return `⏱️ ${name} ran out of time`;
    case "error":
      return `❌ ${name} could not finish`;
    default:
      return `✅ ${name} finished`;
  }
}

function requestLine(input: StatusCommentInput): string {
  const { job } = input;
  const ref = (name: string, sha: string | null) =>
    sha && !sha.startsWith(name)
      ? `${code(name)} (${commitLink(input, sha)})`
      : sha
        ? commitLink(input, sha)
        : code(name);
  const command = job.command.includes("\n") ? "the script below" : code(job.command);
  const by = job.requesterLogin ? ` · asked by ${text(job.requesterLogin)}` : "";
  const retry = job.retryOfJobId
    ? ` · re-run of ${jobName(input, job.retryOfJobId, "bisection")}`
    : "";
  const t = termsOfJob(job);
  const [goodWord, badWord] = t.bad === "bad" ? ["Good", "bad"] : ["Not yet fixed", "fixed"];
  const line = `${goodWord} ${ref(job.goodRef, job.goodSha)} → ${badWord} ${ref(job.badRef, job.badSha)} ([compare](${compareUrl(input)})) · test ${command}${by}${retry}`;
  return job.command.includes("\n") ? `${line}\n\n${fence(job.command, "sh")}` : line;
}

function optionsLine(input: StatusCommentInput): string | null {
  const o = input.job.options ?? {};
  const bits: string[] = [];
  const p = predicateOf(input.job);
  if (p.flaky) bits.push("flaky-test preset");
  else if (p.runs > 1)
    bits.push(`${p.runs} runs per commit, bad when ${p.failThreshold} or more fail`);
  const pcap = input.parallelCap;
  if ((o.parallel && o.parallel > 1) || pcap)
    bits.push(
      `${o.parallel ?? 1} commit${(o.parallel ?? 1) === 1 ? "" : "s"} at a time${pcap ? ` (lowered from ${pcap.requested} by the ${text(pcap.tier)} plan)` : ""}`,
    );
  if (o.timeoutSeconds) {
    const cap = input.timeoutCap;
    bits.push(
      `${formatDuration(o.timeoutSeconds)} per run${cap ? ` (capped from ${formatDuration(cap.requestedSeconds)} by the ${text(cap.tier)} plan)` : ""}`,
    );
  }
  if (o.firstParent) bits.push("first-parent history");
  if (o.network) bits.push("network allowed");
  else if (o.setupNetwork && input.job.setupCommand) bits.push("network for the setup only");
  if (o.image) bits.push(`image ${code(o.image)}`);
  if (input.job.setupCommand)
    bits.push(
      `setup ${code(input.job.setupCommand.split("\n")[0]! + (input.job.setupCommand.includes("\n") ? " …" : ""))}`,
    );
  // Not secrets (bisect.yml's `env:`): shown as they are.
  const env = Object.entries(o.env ?? {});
  if (env.length)
    bits.push(
      `env ${env
        .slice(0, 10)
        .map(([k, v]) => code(`${k}=${v.length > 60 ? `${v.slice(0, 60)}…` : v}`))
        .join(" ")}${env.length > 10 ? ` (+${env.length - 10} more)` : ""}`,
    );
  if (o.cache === false) bits.push("no dependency cache");
  else if (o.cache?.length)
    bits.push(
      `cached between steps ${o.cache.slice(0, 5).map(code).join(", ")}${o.cache.length > 5 ? " …" : ""}`,
    );
  const pathspec = (o as { pathspec?: string[] }).pathspec;
  if (pathspec?.length)
    bits.push(
      `only commits touching ${pathspec.slice(0, 5).map(code).join(", ")}${pathspec.length > 5 ? " …" : ""}`,
    );
  return bits.length ? `<sub>${bits.join(" · ")}</sub>` : null;
}

/** An image pull the job is waiting for, while it lasts. */
function pullLine(input: StatusCommentInput): string | null {
  const { job } = input;
  const pull = job.imagePull;
  if (!pull || job.status === "finished" || job.status === "failed" || job.status === "cancelled")
    return null;
  const mb = (bytes: number) => Math.round(bytes / (1024 * 1024));
  const amount =
    pull.totalBytes > 0
      ? `${mb(pull.doneBytes)} of ${mb(pull.totalBytes)} MB so far (${Math.min(100, Math.round((pull.doneBytes / pull.totalBytes) * 100))}%)`
      : "starting";
  return `⏬ Pulling the image ${code(pull.image)} on runner host ${text(pull.host)}: ${amount}. Steps on that host wait for it.`;
}

/** What zero configuration chose, and how to choose otherwise. */
function zeroConfigLine(input: StatusCommentInput): string | null {
  const z = input.job.options?.zeroConfig;
  if (!z) return null;
  const override = `To choose otherwise, set \`image:\` (on the default branch) and \`setup:\` in \`${CONFIG_FILE}\`.`;
  if (z.refusedImage)
    return `No image or setup in \`${CONFIG_FILE}\`: this looks like a ${text(z.ecosystem)} project (${code(z.file)}), but this runner does not allow ${code(z.refusedImage)}, so the test runs in the runner image without a setup. ${override}`;
  const online =
    z.network === "setup"
      ? " (the setup may download through the runner's egress filter; the test runs offline)"
      : "";
  return `No image or setup in \`${CONFIG_FILE}\`: this looks like a ${text(z.ecosystem)} project (${code(z.file)}), so the test runs in ${z.image ? code(z.image) : "the runner image"} after the setup ${code(z.setup?.split("\n").join("; ") ?? "")}${online}. ${override}`;
}

/** The predicate in words: what makes a run count as good, bad or untestable. */
function predicateBlock(input: StatusCommentInput): string {
  const lines = describePredicate(predicateOf(input.job));
  return `<details><summary>What counts as ${termsOfJob(input.job).bad}</summary>\n\n${lines.map((l) => `- ${text(l)}`).join("\n")}\n\n</details>`;
}

/** What to do when the answer looks wrong: one line, on answers that name a commit. */
function wrongLine(input: StatusCommentInput): string | null {
  const { job } = input;
  if (job.status !== "finished" || (job.outcome !== "found" && job.outcome !== "likely"))
    return null;
  const runs = Math.max(VERIFY_MIN_RUNS, predicateOf(job).runs);
  return `Think this is wrong? Comment \`/bisect verify ${job.id}\` to re-run the commit and its parent ${runs} times each; this comment then shows what they measured.`;
}

/** Hints for exit codes that say more about the setup than about the commit. */
function exitHints(input: StatusCommentInput): string[] {
  const codes = new Set(
    input.steps.filter((s) => s.status === "done").map((s) => s.exitCode ?? -1),
  );
  const p = predicateOf(input.job);
  const hints: string[] = [];
  if (codes.has(127))
    hints.push(
      "**Exit code 127** means _command not found_: the image the test runs in lacks the command, or a program it calls. Choose an image that has it with `image:` in `.github/bisect.yml` on the default branch (for example `image: node:20-bookworm`), or install it with `setup:`; an older revision will not help.",
    );
  if (codes.has(126))
    hints.push(
      "**Exit code 126** means the command was found but could not be executed: a script without the executable bit (`chmod +x` it in the repository, or run it as `sh script.sh`) or a program built for another platform.",
    );
  const crash =
    p.crash === "skip"
      ? " By default a crash counts as untestable; if the crash is the regression, add `--crash bad` (or `crash: bad` in `.github/bisect.yml`)."
      : "";
  if (codes.has(139))
    hints.push(
      `**Exit code 139** is a crash (SIGSEGV, a segmentation fault): the program read or wrote memory it does not own. The output above usually names where; a debug build or \`ulimit -c\` helps.${crash}`,
    );
  if (codes.has(134))
    hints.push(
      `**Exit code 134** is a crash (SIGABRT): the program called \`abort()\`, usually a failed assertion or a panic in native code; the last lines of the output say which.${crash}`,
    );
  return hints;
}

/** Rounds a bisection of n commits needs when k commits are tested at a time. */
export function estimateRounds(commits: number, parallel = 1): number {
  if (commits <= 1) return 0;
  return Math.ceil(Math.log(commits + 1) / Math.log(parallel + 1));
}

function queuedText(input: StatusCommentInput): string {
  const { job } = input;
  const o = job.options ?? {};
  const parallel = o.parallel ?? 1;
  const runs = o.runs ?? 1;
  const bits: string[] = [];
  if (job.commitCount !== null && job.commitCount !== undefined) {
    const rounds = estimateRounds(job.commitCount, parallel);
    const steps = rounds * parallel * runs + 2 * runs;
    bits.push(
      `${job.commitCount} commit${job.commitCount === 1 ? "" : "s"}, about ${steps} test runs in ${rounds} round${rounds === 1 ? "" : "s"}`,
    );
    if (input.runSecondsEstimate)
      bits.push(`estimated ${formatDuration((rounds + 1) * input.runSecondsEstimate)}`);
  } else {
    bits.push("the commits between the two revisions are counted when it starts");
    if (input.runSecondsEstimate)
      bits.push(
        `one run takes about ${formatDuration(input.runSecondsEstimate)} here, and a bisection needs about log₂(commits) rounds`,
      );
  }
  const quota = quotaText(input.quota);
  const q = input.quota;
  const waiting =
    q?.maxConcurrent !== undefined && q.active !== undefined && q.active >= q.maxConcurrent
      ? ` It starts when a slot frees up: the ${text(q.tier)} plan runs ${q.maxConcurrent} bisection${q.maxConcurrent === 1 ? "" : "s"} at a time and ${q.active} ${q.active === 1 ? "is" : "are"} running.`
      : "";
  return `Queued — ${bits.join(", ")}.${quota ? ` ${quota}` : ""}${waiting}`;
}

function quotaText(quota: QuotaView | null | undefined): string | null {
  if (!quota) return null;
  return quota.limit === null
    ? `Quota: ${quota.used} bisection${quota.used === 1 ? "" : "s"} this month (${text(quota.tier)} plan, no monthly limit).`
    : `Quota: ${quota.used} of ${quota.limit} bisections used this month (${text(quota.tier)} plan).`;
}

function runningText(input: StatusCommentInput): string {
  const { job, steps } = input;
  const done = steps.filter((s) => s.status === "done");
  const inFlight = steps.filter((s) => s.status === "running" || s.status === "queued");
  const tested = new Set(done.map((s) => s.sha)).size;
  const bits = [`${tested} commit${tested === 1 ? "" : "s"} tested so far`];
  if (job.commitCount) {
    bits.unshift(`${job.commitCount} commits in range`);
    const left = Math.max(
      0,
      estimateRounds(job.commitCount, job.options?.parallel ?? 1) - job.rounds,
    );
    const avg = averageRunSeconds(steps) ?? input.runSecondsEstimate;
    if (left > 0)
      bits.push(
        `about ${left} more round${left === 1 ? "" : "s"}${avg ? ` (~${formatDuration(left * avg)})` : ""}`,
      );
  }
  if (inFlight.length)
    bits.push(`${inFlight.length} run${inFlight.length === 1 ? "" : "s"} in progress`);
  return `Running — ${bits.join(", ")}.`;
}

function averageRunSeconds(steps: CommentStep[]): number | null {
  const timed = steps.filter((s) => s.status === "done" && s.durationMs !== null);
  if (!timed.length) return null;
  return timed.reduce((sum, s) => sum + s.durationMs!, 0) / timed.length / 1000;
}

function resultText(input: StatusCommentInput, budget: Budget): string[] {
  const { job } = input;
  const out: string[] = [];
  const explanation = job.explanation ? text(scrubSecrets(job.explanation)) : null;
  const t = termsOfJob(job);
  const p = predicateOf(job);
  const runsHint = p.flaky
    ? "make the test deterministic; `--flaky` is already on"
    : "add `--flaky` (every commit runs 5 times and counts as failing when 3 or more runs fail; the commits the answer rests on run up to 15 times when their runs disagree)";

  if (job.status === "cancelled") {
    out.push(
      `The bisection was stopped${job.error ? `: ${text(scrubSecrets(job.error))}` : ""}. Results gathered until then are below. Comment \`/bisect retry\` to run it again.`,
    );
    return out;
  }
  switch (job.outcome) {
    case "found":
    case "likely": {
      if (!job.culpritSha) break;
      out.push(culpritText(input, job.culpritSha));
      if (job.outcome === "likely") out.push("", likelyText(input, job.culpritSha));
      else if (job.confidence !== null && job.confidence < 0.999)
        out.push(
          "",
          `Confidence: ${Math.round(job.confidence * 100)}% (at least ${Math.round(FOUND_CONFIDENCE * 100)}% is needed to call it found) — some runs disagreed.`,
        );
      if (explanation) out.push("", explanation);
      const verified = verificationText(input);
      if (verified) out.push("", verified);
      const log = culpritLog(input);
      if (log && budget.logChars > 0)
        out.push(
          "",
          details(
            `Output of the test on ${short(job.culpritSha)} (last lines)`,
            log,
            budget.logChars,
          ),
        );
      return out;
    }
    case "ambiguous": {
      const candidates = job.candidates ?? [];
      out.push(
        `The ${t.first} is one of these ${candidates.length}; they could not be told apart because the commits between them were skipped (the setup failed, the test exited with 125, or the commit could not be built):`,
        "",
        ...candidates
          .slice(0, 50)
          .map(
            (sha) =>
              `- ${commitLink(input, sha)}${sha === job.culpritSha ? " (the likeliest)" : ""}`,
          ),
      );
      if (candidates.length > 50)
        out.push(`- … and ${candidates.length - 50} more (see the dashboard)`);
      out.push(
        "",
        explanation ?? "",
        "**What to try:** make the skipped commits testable (a setup command that builds older commits too, in `.github/bisect.yml`), or narrow the test so it does not depend on the broken part.",
      );
      break;
    }
    case "good-is-bad": {
      const setupProblem = [...input.steps].some((s) => s.exitCode === 127 || s.exitCode === 126);
      out.push(
        t.bad === "bad"
          ? `The test already fails on the good revision ${code(job.goodRef)}, so there is no change from good to bad to find.`
          : `The test already passes on the old revision ${code(job.goodRef)}, so it is already fixed there and there is no fix to find.`,
        "",
        explanation ?? "",
        setupProblem
          ? "**What to try:** the command could not run at all (see the exit code below); fix how it runs rather than the revisions."
          : t.bad === "bad"
            ? "**What to try:** check that the command passes on the good revision when you run it yourself (a missing dependency or a test that needs network access fails everywhere); if it does, pick an older good revision."
            : "**What to try:** pick an older revision where the test still fails.",
      );
      break;
    }
    case "bad-is-good":
      out.push(
        t.bad === "bad"
          ? `The test passes on the bad revision ${code(job.badRef)}, so the failure did not reproduce here.`
          : `The test still fails on the new revision ${code(job.badRef)}, so it is not fixed there.`,
        "",
        explanation ?? "",
        `**What to try:** check what the command does on ${code(job.badRef)} in a clean checkout; if it only fails sometimes, ${runsHint}; if it needs network access, allow it with \`network: true\` in \`.github/bisect.yml\`.`,
      );
      break;
    case "flaky":
      out.push(
        "The same commit passed on one run and failed on another, so the results cannot point at one commit.",
        "",
        explanation ?? "",
        `**What to try:** ${runsHint}, or make the test deterministic (fixed seeds, no timing or network dependence).`,
      );
      break;
    case "timeout":
      out.push(
        "A run took longer than its time limit, or the bisection used up its time budget.",
        "",
        explanation ?? "",
        `**What to try:** raise the limit with \`--timeout\` (up to your plan's maximum), run a narrower test, or test several commits at once with \`--parallel\`.`,
      );
      break;
    default:
      out.push(
        `Something went wrong that is not about your code${job.error ? `: ${text(scrubSecrets(job.error))}` : "."}`,
        "",
        explanation ?? "",
        "**What to try:** comment `/bisect retry`. If it fails the same way, the dashboard has the logs of every step.",
      );
  }
  const hints = exitHints(input);
  if (hints.length) out.push("", ...hints);
  const log = failureLog(input);
  if (log && budget.logChars > 0)
    out.push("", details("Output of the last failing run (last lines)", log, budget.logChars));
  return out.filter((line, i, all) => !(line === "" && all[i - 1] === ""));
}

/** Why a result is only "likely": the numbers it rests on, and the exact command that makes it sure. */
function likelyText(input: StatusCommentInput, sha: string): string {
  const { job } = input;
  const t = termsOfJob(job);
  const runs = (x: string) => {
    const counted = input.steps.filter(
      (s) => s.sha === x && s.status === "done" && (s.verdict === "good" || s.verdict === "bad"),
    );
    const bad = counted.filter((s) => s.verdict === "bad").length;
    return `${bad} of ${counted.length} runs ${t.bad}`;
  };
  const parent = input.culpritParent;
  const rests = `${short(sha)}: ${runs(sha)}${parent ? `; its parent ${short(parent)}: ${runs(parent)}` : ""}`;
  const confidence = job.confidence !== null ? Math.round(job.confidence * 100) : null;
  const p = predicateOf(job);
  const next = [`/bisect verify ${job.id}`];
  if (!p.flaky) {
    const flags = reproduceFlags(job, { flaky: true });
    next.push(
      `/bisect ${job.goodSha ?? job.goodRef} ${job.badSha ?? job.badRef} ${flags.join(" ")}${job.command.includes("\n") ? "" : ` -- ${job.command}`}`,
    );
  }
  return [
    `**Likely, not sure:** one commit explains the runs, but they disagree too much to call it found (confidence ${confidence ?? "?"}%, ${Math.round(FOUND_CONFIDENCE * 100)}% needed). It rests on ${text(rests)}.`,
    "",
    `To make it sure, comment ${p.flaky ? "" : "one of"}:`,
    "",
    fence(next.join("\n")),
  ].join("\n");
}

/** What `/bisect verify` measured (or that it is under way). */
function verificationText(input: StatusCommentInput): string | null {
  const v = input.verification;
  if (!v || !v.job.options.verify) return null;
  const target = v.job.options.verify;
  const name = jobName(input, v.job.id, "bisection");
  const asked = v.job.requesterLogin ? ` (asked by ${text(v.job.requesterLogin)})` : "";
  if (!["finished", "failed", "cancelled"].includes(v.job.status)) {
    const done = v.steps.filter((s) => s.status === "done").length;
    return `**Verifying** in ${name}${asked}: re-running ${short(target.culprit)} and its parent ${short(target.parent)} ${target.runs} times each — ${done} of ${2 * target.runs} runs done.`;
  }
  if (v.job.status === "cancelled") return `**Verification** ${name} was cancelled.`;
  const m = measure(v.steps, target);
  const head =
    v.job.outcome === "found"
      ? "✅ **Verified**"
      : v.job.outcome === "likely"
        ? "🤔 **Verified: likely, not sure**"
        : "⚠️ **Not confirmed**";
  return `${head} by ${name}${asked}: ${text(v.job.explanation ?? "")} (${m.culprit.bad + m.culprit.good} and ${m.parent.bad + m.parent.good} counted runs).`;
}

function culpritText(input: StatusCommentInput, sha: string): string {
  const c = input.culprit && input.culprit.sha === sha ? input.culprit : null;
  const label = capitalize(termsOfJob(input.job).first);
  const lines = [
    `**${input.job.outcome === "likely" ? `Likely ${termsOfJob(input.job).first}` : label}:** [\`${short(sha)}\` ${c ? text(c.title) : ""}](${commitUrl(input, sha)})`.replace(
      " ]",
      "]",
    ),
  ];
  if (c) {
    const who = c.authorLogin
      ? `[${text(c.authorLogin)}](${input.webUrl}/${c.authorLogin})`
      : c.authorName
        ? text(c.authorName)
        : null;
    const when = c.date ? c.date.slice(0, 10) : null;
    if (who || when)
      lines.push(`by ${[who, when ? `on ${when}` : null].filter(Boolean).join(" ")}`);
    if (c.pull)
      lines.push(`from pull request [#${c.pull.number} ${text(c.pull.title)}](${c.pull.url})`);
  }
  return lines.join("  \n");
}

function culpritLog(input: StatusCommentInput): string | null {
  const step = [...input.steps]
    .reverse()
    .find((s) => s.sha === input.job.culpritSha && s.verdict === "bad" && s.logExcerpt);
  return step?.logExcerpt ?? null;
}

function failureLog(input: StatusCommentInput): string | null {
  const step = [...input.steps]
    .reverse()
    .find((s) => (s.verdict === "error" || s.verdict === "bad") && s.logExcerpt);
  return step?.logExcerpt ?? null;
}

function details(summary: string, log: string, max: number): string {
  return `<details><summary>${summary}</summary>\n\n${fence(tail(scrubSecrets(log), max), "text")}\n\n</details>`;
}

const VERDICT: Record<string, string> = {
  good: "✅ good",
  bad: "❌ bad",
  skip: "⏭️ skipped",
  error: "⚠️ error",
};
const STATUS: Record<string, string> = {
  queued: "🕒 waiting",
  running: "⏳ running",
  cancelled: "🚫 cancelled",
};

/** The notes of one run, each said once ("exit 1" from the code and from the reason is one note). */
export function stepNotes(s: Pick<CommentStep, "attempt" | "exitCode" | "reason">): string[] {
  const notes: string[] = [];
  if (s.attempt > 1) notes.push(`run ${s.attempt}`);
  const reason = s.reason ? scrubSecrets(s.reason).replace(/\s+/g, " ").trim() : "";
  const exit = s.exitCode !== null && s.exitCode !== 0 ? `exit ${s.exitCode}` : null;
  if (exit && !new RegExp(`\\b${exit}\\b`).test(reason)) notes.push(exit);
  if (reason) notes.push(text(reason.length > 80 ? `${reason.slice(0, 79)}…` : reason));
  return [...new Set(notes)];
}

function stepRow(input: StatusCommentInput, s: CommentStep): string {
  const words = termsOfJob(input.job);
  const verdict =
    s.status === "done" && s.verdict
      ? s.verdict === "bad" && words.bad !== "bad"
        ? `🔧 ${words.bad}`
        : s.verdict === "good" && words.good !== "good"
          ? `❌ ${words.good}`
          : VERDICT[s.verdict]
      : (STATUS[s.status] ?? s.status);
  const duration = s.durationMs !== null ? formatDuration(s.durationMs / 1000) : "";
  const notes = stepNotes(s);
  const culprit = s.sha === input.job.culpritSha ? " 🎯" : "";
  return `| ${s.round} | ${commitLink(input, s.sha)}${culprit} | ${verdict} | ${duration} | ${notes.join(", ")} |`;
}

function stepsTable(input: StatusCommentInput, maxRows: number): string | null {
  const steps = input.steps;
  if (!steps.length) return null;
  const header = "| Round | Commit | Result | Time | Notes |\n| ---: | --- | --- | ---: | --- |";
  let rows: string[];
  if (steps.length <= maxRows) rows = steps.map((s) => stepRow(input, s));
  else {
    const head = Math.ceil(maxRows / 2);
    const tailCount = maxRows - head;
    rows = [
      ...steps.slice(0, head).map((s) => stepRow(input, s)),
      `| … | ${steps.length - maxRows} more runs | | | see the dashboard |`,
      ...steps.slice(steps.length - tailCount).map((s) => stepRow(input, s)),
    ];
  }
  const tested = new Set(steps.map((s) => s.sha)).size;
  return `<details${input.job.status === "running" || steps.length <= 30 ? " open" : ""}><summary>Tested commits (${tested})</summary>\n\n${header}\n${rows.join("\n")}\n\n</details>`;
}

function totalsLine(input: StatusCommentInput): string | null {
  const { job, steps } = input;
  if (!job.startedAt) return null;
  const end = job.finishedAt ?? input.now;
  const seconds = Math.max(0, (end.getTime() - job.startedAt.getTime()) / 1000);
  const runs = steps.filter((s) => s.status === "done").length;
  const label = job.finishedAt ? "Total time" : "Running for";
  return `${label} ${formatDuration(seconds)} · ${job.rounds} round${job.rounds === 1 ? "" : "s"} · ${runs} test run${runs === 1 ? "" : "s"}`;
}

/** The command line that repeats this bisection on one's own machine. */
export function reproduceCommand(
  input: Pick<StatusCommentInput, "job" | "repo" | "webUrl">,
): string {
  const { job } = input;
  const o = job.options ?? {};
  const args = [
    "npm",
    "run",
    "-s",
    "bisect",
    "--",
    "--repo",
    `${input.webUrl}/${input.repo.owner}/${input.repo.name}.git`,
  ];
  args.push("--good", job.goodSha ?? job.goodRef, "--bad", job.badSha ?? job.badRef);
  args.push(...reproduceFlags(job));
  if (o.parallel && o.parallel > 1) args.push("--parallel", String(o.parallel));
  // The farm tests the endpoints alongside the first probes; the command line's default at
  // --parallel 1 waits until the answer rests on them.
  else args.push("--endpoints", "alongside");
  if (o.timeoutSeconds) args.push("--timeout", String(o.timeoutSeconds));
  if (o.firstParent) args.push("--first-parent");
  // The digest the job ran on, when it was pinned: the same bytes, not whatever the tag is now.
  const image = o.imagePinned ?? o.image;
  if (image) args.push("--image", image);
  if (job.setupCommand) args.push("--setup", job.setupCommand);
  for (const [k, v] of Object.entries(o.env ?? {})) args.push("--env", `${k}=${v}`);
  if (o.network || o.setupNetwork) args.push("--network", networkPolicyOf(o));
  if (o.cache === false) args.push("--cache", "off");
  else if (o.cache?.length) args.push("--cache", o.cache.join(","));
  args.push("--", job.command);
  return args.map(shellQuote).join(" ");
}

/** The predicate as options (the same in a comment and on the command line). */
export function reproduceFlags(job: CommentJob, over: { flaky?: boolean } = {}): string[] {
  const p = predicateOf(job);
  const args: string[] = [];
  if (over.flaky ?? p.flaky) args.push("--flaky");
  else if (p.runs > 1) {
    args.push("--runs", String(p.runs));
    if (p.failThreshold > 1) args.push("--fail-threshold", String(p.failThreshold));
  }
  if (p.crash === "bad") args.push("--crash", "bad");
  if (p.timeout === "bad") args.push("--timeout-is", "bad");
  if (p.badIfOutput !== undefined)
    args.push("--bad-if-output", over.flaky !== undefined ? `\`${p.badIfOutput}\`` : p.badIfOutput);
  if (p.find === "fix") args.push("--find", "fix");
  return args;
}

function reproduceBlock(input: StatusCommentInput): string {
  return `<details><summary>Reproduce locally</summary>\n\nWith a checkout of Bisect Bot (\`npm ci\` once, Docker running):\n\n${fence(reproduceCommand(input), "sh")}\n\n</details>`;
}

/** A table of bisections for `/bisect status`. */
export function renderStatusList(
  jobs: Array<
    Pick<
      CommentJob,
      "id" | "status" | "outcome" | "goodRef" | "badRef" | "culpritSha" | "createdAt"
    >
  >,
  links: { publicUrl: string; webUrl: string; repo: { owner: string; name: string } },
): string {
  if (!jobs.length)
    return "There is no bisection on this issue yet. Start one with `/bisect <good> <bad> -- <command>` (see `/bisect help`).";
  const rows = jobs.map((j) => {
    const state = j.outcome ? `${j.status} (${j.outcome})` : j.status;
    const culprit = j.culpritSha
      ? `[\`${short(j.culpritSha)}\`](${links.webUrl}/${links.repo.owner}/${links.repo.name}/commit/${j.culpritSha})`
      : "";
    return `| [bisection ${j.id}](${links.publicUrl}/dashboard/jobs/${j.id}) | ${cellCode(j.goodRef)} → ${cellCode(j.badRef)} | ${state} | ${culprit} | ${j.createdAt.toISOString().slice(0, 16).replace("T", " ")} UTC |`;
  });
  return `Bisections on this issue:\n\n| Bisection | Range | State | Commit found | Started |\n| --- | --- | --- | --- | --- |\n${rows.join("\n")}`;
}
