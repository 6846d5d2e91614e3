// Short replies to `/bisect` comments. Pure, like the status comment renderer.
import { formatDuration, LIMITS } from "./command";
import { code, fence, text } from "./markdown";
import { CONFIG_KEYS, CONFIG_PATH } from "./repo-config";
import {
  FLAKY_CONFIRM_RUNS,
  FLAKY_RUNS,
  FLAKY_THRESHOLD,
  FOUND_CONFIDENCE,
} from "../../runner/engine";

const mention = (login: string) => `@${login.replace(/[^A-Za-z0-9-]/g, "")}`;

export function helpReply(): string {
  return [
    "**Bisect Bot** finds the commit that broke something (or fixed it): it runs your test command on the commits between two revisions, each run in a fresh container, and answers here with the first bad (or first fixed) commit.",
    "",
    fence(
      [
        "/bisect <good> <bad> [options] -- <test command>",
        "/bisect verify [N]       re-run the named commit and its parent to check the answer",
        "/bisect cancel [N]       stop bisection N (default: the latest on this issue)",
        "/bisect retry [N]        run bisection N again",
        "/bisect status           list the bisections on this issue",
        "/bisect help             this message",
      ].join("\n"),
    ),
    "",
    "- `<good>` and `<bad>` are commits, tags or branches: the test passes on the good one and fails on the bad one.",
    "- A run that exits 0 is good; exit 1–127 (except 125) is bad; exit 125 means the commit cannot be tested (skipped). A crash (exit code 128 or more, or a signal) and a run that hits the time limit are skipped unless you say otherwise. Infrastructure failures (out of memory, a full disk, a lost run) never count as bad. The command can also go in a code block under the `/bisect` line, or be the repository's default.",
    `- \`--crash bad|skip\`: whether a crash counts as bad (default skip). \`--timeout-is bad|skip\`: whether a run that hits the time limit counts as bad, for hangs (default skip). \`--bad-if-output REGEX\`: the output decides instead of the exit code (bad when a line matches; put the expression in backticks when it holds spaces). \`--find fix\`: look for the first fixed commit instead (the test fails on the old revision and passes on the new one).`,
    `- \`--runs N\` (${LIMITS.runs.min}–${LIMITS.runs.max}) runs the test N times per commit and \`--fail-threshold M\` (1–N, default 1) counts a commit as bad when M or more runs fail; \`--flaky\` is the preset for flaky tests (${FLAKY_RUNS} runs, bad when ${FLAKY_THRESHOLD} fail, up to ${FLAKY_CONFIRM_RUNS} runs of the commits the answer rests on when they disagree). An answer whose confidence is below ${Math.round(FOUND_CONFIDENCE * 100)}% is reported as likely, never as found.`,
    `- \`--parallel K\` tests K commits at a time (${LIMITS.parallel.min}–${LIMITS.parallel.max}); \`--timeout 10m\` limits one run (1s–24h); \`--first-parent\` follows only the first parent of merges.`,
    "",
    "For example:",
    "",
    fence(
      '/bisect v1.4.0 main --crash bad --bad-if-output `panicked at` -- npm test -- -t "parses dates"',
    ),
    "",
    `Defaults for the repository go in \`${CONFIG_PATH}\` (read at the bad revision; \`image\` and \`network\` on the default branch): ${CONFIG_KEYS.map((k) => `\`${k}\``).join(", ")}. Options in the comment override the file.`,
    "Only people with write access to the repository can start, verify, cancel or retry a bisection.",
  ].join("\n");
}

export function parseErrorReply(login: string, message: string, example: string): string {
  return `${mention(login)} I could not start that: ${message}\n\nFor example:\n\n${fence(example)}\n\nComment \`/bisect help\` for every option.`;
}

/** The one answer to commenters without write access: a fixed text that echoes nothing of theirs. */
export function notTrustedReply(): string {
  return "Sorry, only people with write access to this repository can use `/bisect` (it runs the repository's code on our machines). A maintainer can run it for you.";
}

export function quotaReply(
  login: string,
  quota: { used: number; limit: number; tier: string; resetsAt: Date },
): string {
  const month = quota.resetsAt.toLocaleString("en-GB", {
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  });
  const resets = quota.resetsAt.toLocaleString("en-GB", {
    day: "numeric",
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  });
  return (
    `Sorry ${mention(login)}, this installation has used ${quota.used} of its ${quota.limit} bisections this month (${text(quota.tier)} plan), so I cannot start another one now. ` +
    `The quota resets on ${resets} at 00:00 UTC (the start of ${month}). A larger plan raises the limit.`
  );
}

export function configErrorReply(login: string, ref: string, problems: string[]): string {
  return `${mention(login)} I could not start that: \`${CONFIG_PATH}\` at ${code(ref)} has ${problems.length === 1 ? "a problem" : `${problems.length} problems`}:\n\n${problems
    .slice(0, 20)
    .map((p) => `- ${p}`)
    .join("\n")}\n\nFix the file (or bisect from a revision where it is valid) and comment again.`;
}

export function unknownRevisionReply(login: string, which: "good" | "bad", ref: string): string {
  return `${mention(login)} I could not start that: the ${which} revision ${code(ref)} is not a commit, tag or branch of this repository. Check the spelling, or give the commit SHA.`;
}

export function missingCommandReply(login: string): string {
  return `${mention(login)} I could not start that: there is no test command. Put it after \`--\` on the \`/bisect\` line, in a code block under it, or set a default \`command:\` in \`${CONFIG_PATH}\`.\n\nFor example:\n\n${fence("/bisect v1.4.0 main -- npm test")}`;
}

export function cancelReply(
  login: string,
  jobId: number,
  result: "cancelled" | "already-ended",
  status?: string,
): string {
  return result === "cancelled"
    ? `${mention(login)} cancelled bisection ${jobId}.`
    : `${mention(login)} bisection ${jobId} had already ${status === "cancelled" ? "been cancelled" : status === "failed" ? "failed" : "finished"}; nothing to cancel.`;
}

export function noJobReply(login: string, jobId?: number): string {
  return jobId
    ? `${mention(login)} there is no bisection ${jobId} in this repository.`
    : `${mention(login)} there is no bisection on this issue yet. Start one with \`/bisect <good> <bad> -- <command>\`.`;
}

export function unavailableReply(login: string, why: string): string {
  return `Sorry ${mention(login)}, I cannot run bisections here right now: ${why}`;
}

export function timeoutCapNote(requested: number, max: number, tier: string): string {
  return `the ${text(tier)} plan allows at most ${formatDuration(max)} per run, so ${formatDuration(requested)} was lowered to ${formatDuration(max)}`;
}

export function stillActiveReply(login: string, jobId: number, status: string): string {
  return `${mention(login)} bisection ${jobId} is still ${status}; cancel it first (\`/bisect cancel ${jobId}\`) or wait for its result.`;
}

export function cannotVerifyReply(login: string, jobId: number, why: string): string {
  return `${mention(login)} bisection ${jobId} cannot be verified: ${why}.`;
}
