// The start page's example answer: a finished bisection rendered by the same code that writes the
// real status comment (jobs/github/render.ts), then turned into HTML as GitHub would show it. The
// input is fixed sample data, so the HTML holds nothing from users.
import { createHash } from "node:crypto";
import { marked } from "marked";
import { renderStatusComment, type StatusCommentInput } from "../jobs/github/render";

const GOOD = "5f2c1e0a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e";
const BAD = "c0ffee1234567890abcdef1234567890abcdef12";
const CULPRIT = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
const STARTED = new Date("2026-11-02T10:00:00Z");

const sha = (n: number) => createHash("sha1").update(`sample commit ${n}`).digest("hex");

export function sampleReplyInput(): StatusCommentInput {
  const step = (commit: string, round: number, verdict: "good" | "bad", durationMs: number) => ({
    sha: commit,
    round,
    attempt: 1,
    status: "done" as const,
    verdict,
    reason: null,
    exitCode: verdict === "good" ? 0 : 1,
    durationMs,
    logExcerpt:
      commit === CULPRIT
        ? "FAIL  tests/dates.test.ts > parses dates\nexpected 2026-03-01, got 2026-02-28"
        : null,
  });
  return {
    job: {
      id: 128,
      status: "finished",
      outcome: "found",
      goodRef: "v1.4.0",
      badRef: "main",
      goodSha: GOOD,
      badSha: BAD,
      command: 'npm test -- -t "parses dates"',
      setupCommand: null,
      options: { runs: 1, parallel: 3, timeoutSeconds: 600 },
      commitCount: 212,
      culpritSha: CULPRIT,
      candidates: [CULPRIT],
      confidence: 1,
      explanation: null,
      error: null,
      rounds: 4,
      createdAt: STARTED,
      startedAt: STARTED,
      finishedAt: new Date(STARTED.getTime() + 130_000),
      requesterLogin: "maintainer",
      retryOfJobId: null,
    },
    steps: [
      step(GOOD, 0, "good", 9_100),
      step(BAD, 0, "bad", 9_800),
      step(sha(1), 1, "good", 10_200),
      step(sha(2), 1, "bad", 9_900),
      step(sha(3), 1, "bad", 10_400),
      step(sha(4), 2, "good", 9_700),
      step(sha(5), 2, "good", 10_100),
      step(sha(6), 2, "bad", 9_600),
      step(sha(7), 3, "good", 9_900),
      step(CULPRIT, 3, "bad", 10_300),
    ],
    repo: { owner: "acme", name: "widgets" },
    webUrl: "https://github.com",
    publicUrl: "https://bisect.example.com",
    now: new Date(STARTED.getTime() + 140_000),
    culprit: {
      sha: CULPRIT,
      title: "Parse dates in local time",
      authorName: "Someone",
      authorLogin: "someone",
      date: "2026-10-30T08:00:00Z",
      pull: {
        number: 42,
        title: "Local time everywhere",
        url: "https://github.com/acme/widgets/pull/42",
      },
    },
    quota: { tier: "free", used: 3, limit: 50 },
  };
}

let cached: string | undefined;

/** The example comment as HTML (GitHub-flavoured Markdown: tables, details). */
export function sampleReplyHtml(): string {
  return (cached ??= marked.parse(renderStatusComment(sampleReplyInput()), {
    async: false,
    gfm: true,
  }));
}
