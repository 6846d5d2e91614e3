// The status comment of a bisection, rendered from its rows. Pure: everything it shows is passed
// in (job, steps, culprit details fetched from GitHub, quota, the time "now"), so it is
// unit-tested without a database or GitHub. The body always stays under MAX_BODY characters.
import type { BisectJob, BisectStep } from "../../db/models";
import { formatDuration } from "./command";
import { cellCode, code, fence, shellQuote, tail, text } from "./markdown";
import { scrubSecrets } from "../../config/scrub";

/** GitHub allows 65,536 characters; keep a margin for edits and multi-byte surprises. */
export const MAX_BODY = 60_000;

export type JobView = Pick<
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
>;

export type StepView = Pick<
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
  job: JobView;
  steps: StepView[];
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

function render(input: StatusCommentInput, budget: Budget): string {
  const { job } = input;
  const parts: string[] = [`### ${headline(job)}`, "", requestLine(input)];
  const options = optionsLine(input);
  if (options) parts.push(options);
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

  const table = stepsTable(input, budget.rows);
  if (table) parts.push("", table);
  const totals = totalsLine(input);
  if (totals) parts.push("", totals);
  if (job.status === "finished" || job.status === "failed") parts.push("", reproduceBlock(input));
  parts.push(
    "",
    `[Logs and every step on the dashboard](${dashboardUrl(input)})`,
    statusMarker(job.id),
  );
  return parts.join("\n");
}

function headline(job: JobView): string {
  const name = `Bisection #${job.id}`;
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
      return `🎯 ${name} found the first bad commit`;
    case "ambiguous":
      return `🤷 ${name} narrowed it down to ${job.candidates?.length ?? "several"} commits`;
    case "good-is-bad":
      return `⚠️ ${name}: the good revision already fails`;
    case "bad-is-good":
      return `⚠️ ${name}: the bad revision passes`;
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
  const retry = job.retryOfJobId ? ` · re-run of #${job.retryOfJobId}` : "";
  const line = `Good ${ref(job.goodRef, job.goodSha)} → bad ${ref(job.badRef, job.badSha)} · test ${command}${by}${retry}`;
  return job.command.includes("\n") ? `${line}\n\n${fence(job.command, "sh")}` : line;
}

function optionsLine(input: StatusCommentInput): string | null {
  const o = input.job.options ?? {};
  const bits: string[] = [];
  if (o.runs && o.runs > 1) bits.push(`${o.runs} runs per commit`);
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
  if (o.image) bits.push(`image ${code(o.image)}`);
  if (input.job.setupCommand)
    bits.push(
      `setup ${code(input.job.setupCommand.split("\n")[0]! + (input.job.setupCommand.includes("\n") ? " …" : ""))}`,
    );
  const pathspec = (o as { pathspec?: string[] }).pathspec;
  if (pathspec?.length)
    bits.push(
      `only commits touching ${pathspec.slice(0, 5).map(code).join(", ")}${pathspec.length > 5 ? " …" : ""}`,
    );
  return bits.length ? `<sub>${bits.join(" · ")}</sub>` : null;
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

function averageRunSeconds(steps: StepView[]): number | null {
  const timed = steps.filter((s) => s.status === "done" && s.durationMs !== null);
  if (!timed.length) return null;
  return timed.reduce((sum, s) => sum + s.durationMs!, 0) / timed.length / 1000;
}

function resultText(input: StatusCommentInput, budget: Budget): string[] {
  const { job } = input;
  const out: string[] = [];
  const explanation = job.explanation ? text(scrubSecrets(job.explanation)) : null;
  const o = job.options ?? {};
  const runsHint = `add \`--runs ${Math.min(5, Math.max(3, (o.runs ?? 1) + 2))}\` so every commit is tested several times and only a consistent failure counts`;

  if (job.status === "cancelled") {
    out.push(
      `The bisection was stopped${job.error ? `: ${text(scrubSecrets(job.error))}` : ""}. Results gathered until then are below. Comment \`/bisect retry\` to run it again.`,
    );
    return out;
  }
  switch (job.outcome) {
    case "found": {
      if (!job.culpritSha) break;
      out.push(culpritText(input, job.culpritSha));
      if (job.confidence !== null && job.confidence < 0.999) {
        out.push(
          "",
          `Confidence: ${Math.round(job.confidence * 100)}% — some runs disagreed; ${runsHint} to be surer.`,
        );
      }
      if (explanation) out.push("", explanation);
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
        `The first bad commit is one of these ${candidates.length}; they could not be told apart because the commits between them were skipped (the setup failed, the test exited with 125, or the commit could not be built):`,
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
    case "good-is-bad":
      out.push(
        `The test already fails on the good revision ${code(job.goodRef)}, so there is no change from good to bad to find.`,
        "",
        explanation ?? "",
        "**What to try:** pick an older good revision where the test passes, or check that the command passes there when you run it yourself (a missing dependency or a test that needs network access fails everywhere).",
      );
      break;
    case "bad-is-good":
      out.push(
        `The test passes on the bad revision ${code(job.badRef)}, so the failure did not reproduce here.`,
        "",
        explanation ?? "",
        `**What to try:** check that the command fails on ${code(job.badRef)} in a clean checkout; if it only fails sometimes, ${runsHint}; if it needs network access, allow it with \`network: true\` in \`.github/bisect.yml\`.`,
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
  const log = failureLog(input);
  if (log && budget.logChars > 0)
    out.push("", details("Output of the last failing run (last lines)", log, budget.logChars));
  return out.filter((line, i, all) => !(line === "" && all[i - 1] === ""));
}

function culpritText(input: StatusCommentInput, sha: string): string {
  const c = input.culprit && input.culprit.sha === sha ? input.culprit : null;
  const lines = [
    `**First bad commit:** [\`${short(sha)}\` ${c ? text(c.title) : ""}](${commitUrl(input, sha)})`.replace(
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

function stepRow(input: StatusCommentInput, s: StepView): string {
  const verdict =
    s.status === "done" && s.verdict ? VERDICT[s.verdict] : (STATUS[s.status] ?? s.status);
  const duration = s.durationMs !== null ? formatDuration(s.durationMs / 1000) : "";
  const notes: string[] = [];
  if (s.attempt > 1) notes.push(`run ${s.attempt}`);
  if (s.exitCode !== null && s.exitCode !== 0) notes.push(`exit ${s.exitCode}`);
  if (s.reason) {
    const reason = scrubSecrets(s.reason).replace(/\s+/g, " ").trim();
    notes.push(text(reason.length > 80 ? `${reason.slice(0, 79)}…` : reason));
  }
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
  if (o.runs && o.runs > 1) args.push("--runs", String(o.runs));
  if (o.parallel && o.parallel > 1) args.push("--parallel", String(o.parallel));
  if (o.timeoutSeconds) args.push("--timeout", String(o.timeoutSeconds));
  if (o.firstParent) args.push("--first-parent");
  if (o.image) args.push("--image", o.image);
  args.push("--", job.command);
  return args.map(shellQuote).join(" ");
}

function reproduceBlock(input: StatusCommentInput): string {
  const setup = input.job.setupCommand
    ? `\n\nHere the repository's setup command (${code(input.job.setupCommand.split("\n")[0]!)}${input.job.setupCommand.includes("\n") ? " …" : ""}) ran before the test on every commit; run it first in the checkout if the test needs it.`
    : "";
  return `<details><summary>Reproduce locally</summary>\n\nWith a checkout of Bisect Bot (\`npm ci\` once, Docker running):\n\n${fence(reproduceCommand(input), "sh")}${setup}\n\n</details>`;
}

/** A table of bisections for `/bisect status`. */
export function renderStatusList(
  jobs: Array<
    Pick<JobView, "id" | "status" | "outcome" | "goodRef" | "badRef" | "culpritSha" | "createdAt">
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
    return `| [#${j.id}](${links.publicUrl}/dashboard/jobs/${j.id}) | ${cellCode(j.goodRef)} → ${cellCode(j.badRef)} | ${state} | ${culprit} | ${j.createdAt.toISOString().slice(0, 16).replace("T", " ")} UTC |`;
  });
  return `Bisections on this issue:\n\n| Job | Range | State | First bad commit | Started |\n| --- | --- | --- | --- | --- |\n${rows.join("\n")}`;
}
