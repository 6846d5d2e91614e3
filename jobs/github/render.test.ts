import { execFileSync } from "node:child_process";
import { parseCliArgs } from "../../runner/cli/args";
import { describe, expect, it } from "vitest";
import { parseCommand } from "./command";
import { cellCode, code, fence, shellQuote, tail, text } from "./markdown";
import {
  estimateRounds,
  MAX_BODY,
  renderStatusComment,
  renderStatusList,
  reproduceCommand,
  statusMarker,
  type CommentJob,
  type StatusCommentInput,
  type CommentStep,
} from "./render";
import {
  configErrorReply,
  helpReply,
  notTrustedReply,
  parseErrorReply,
  quotaReply,
} from "./replies";

const GOOD = "1".repeat(40);
const BAD = "2".repeat(40);
const CULPRIT = "abcdef0123456789abcdef0123456789abcdef01";
const OTHER = "fedcba9876543210fedcba9876543210fedcba98";
const START = new Date("2026-11-02T10:00:00Z");

function job(over: Partial<CommentJob> = {}): CommentJob {
  return {
    id: 12,
    status: "finished",
    outcome: "found",
    goodRef: "v1.4.0",
    badRef: "main",
    goodSha: GOOD,
    badSha: BAD,
    command: 'npm test -- -t "parses dates"',
    setupCommand: null,
    options: { runs: 1, parallel: 2, timeoutSeconds: 600 },
    commitCount: 10,
    culpritSha: CULPRIT,
    candidates: [CULPRIT],
    confidence: 1,
    explanation: null,
    error: null,
    rounds: 3,
    createdAt: START,
    startedAt: START,
    finishedAt: new Date(START.getTime() + 125_000),
    requesterLogin: "alice",
    retryOfJobId: null,
    ...over,
  };
}

function step(sha: string, over: Partial<CommentStep> = {}): CommentStep {
  return {
    sha,
    round: 1,
    attempt: 1,
    status: "done",
    verdict: "good",
    reason: null,
    exitCode: 0,
    durationMs: 4200,
    logExcerpt: null,
    ...over,
  };
}

function input(over: Partial<StatusCommentInput> = {}): StatusCommentInput {
  return {
    job: job(),
    steps: [
      step(GOOD, { round: 0 }),
      step(BAD, { round: 0, verdict: "bad", exitCode: 1 }),
      step(OTHER, { round: 1 }),
      step(CULPRIT, {
        round: 2,
        verdict: "bad",
        exitCode: 1,
        logExcerpt: "FAIL parses dates\nexpected 2026",
      }),
    ],
    repo: { owner: "acme", name: "widgets" },
    webUrl: "https://ghe.example.com",
    publicUrl: "https://bisect.example.com",
    now: new Date(START.getTime() + 200_000),
    culprit: {
      sha: CULPRIT,
      title: "Parse dates with the [new] parser @bob",
      authorName: "Carol",
      authorLogin: "carol",
      date: "2026-10-30T08:00:00Z",
      pull: {
        number: 42,
        title: "New date parser",
        url: "https://ghe.example.com/acme/widgets/pull/42",
      },
    },
    quota: { tier: "free", used: 3, limit: 50 },
    ...over,
  };
}

describe("renderStatusComment: a found culprit", () => {
  const body = renderStatusComment(input());

  it("names the culprit with links to the commit, its author and its pull request", () => {
    expect(body).toContain(
      "🎯 [Bisection 12](https://bisect.example.com/dashboard/jobs/12) found the first bad commit",
    );
    expect(body).toContain(
      `[\`abcdef0\` Parse dates with the \\[new\\] parser @\u200bbob](https://ghe.example.com/acme/widgets/commit/${CULPRIT})`,
    );
    expect(body).toContain("by [carol](https://ghe.example.com/carol) on 2026-10-30");
    expect(body).toContain(
      "from pull request [#42 New date parser](https://ghe.example.com/acme/widgets/pull/42)",
    );
  });

  it("lists every tested commit with verdict, time and round", () => {
    expect(body).toContain("| Round | Commit | Result | Time | Notes |");
    expect(body).toContain(
      `| 2 | [\`abcdef0\`](https://ghe.example.com/acme/widgets/commit/${CULPRIT}) 🎯 | ❌ bad | 4s | exit 1 |`,
    );
    expect(body).toContain(
      `| 1 | [\`fedcba9\`](https://ghe.example.com/acme/widgets/commit/${OTHER}) | ✅ good | 4s |  |`,
    );
    expect(body).toContain("Total time 2m 5s · 3 rounds · 4 test runs");
  });

  it("shows the culprit's output, how to reproduce it, the dashboard link and the marker", () => {
    expect(body).toMatch(
      /<summary>Output of the test on abcdef0 \(last lines\)<\/summary>\n\n```text\nFAIL parses dates\nexpected 2026\n```/,
    );
    expect(body).toContain(
      `npm run -s bisect -- --repo https://ghe.example.com/acme/widgets.git --good ${GOOD} --bad ${BAD} --parallel 2 --timeout 600 -- 'npm test -- -t "parses dates"'`,
    );
    expect(body).toContain(
      "[Logs and every step on the dashboard](https://bisect.example.com/dashboard/jobs/12)",
    );
    expect(body.endsWith(statusMarker(12))).toBe(true);
  });

  it("still links the culprit when its details could not be fetched", () => {
    const plain = renderStatusComment(input({ culprit: null }));
    expect(plain).toContain(
      `**First bad commit:** [\`abcdef0\`](https://ghe.example.com/acme/widgets/commit/${CULPRIT})`,
    );
  });

  it("mentions lower confidence", () => {
    expect(renderStatusComment(input({ job: job({ confidence: 0.8 }) }))).toMatch(
      /Confidence: 80% \(at least 90% is needed to call it found\) — some runs disagreed/,
    );
  });
});

describe("renderStatusComment: progress", () => {
  it("shows an image pull while the job waits for it, and no more once it has ended", () => {
    const imagePull = {
      image: "node:20-bookworm",
      host: "runner-2",
      doneBytes: 150 * 1024 * 1024,
      totalBytes: 400 * 1024 * 1024,
      startedAt: START.toISOString(),
    };
    const preparing = renderStatusComment(
      input({
        job: job({ status: "preparing", outcome: null, finishedAt: null, imagePull }),
        steps: [],
      }),
    );
    expect(preparing).toContain(
      "⏬ Pulling the image `node:20-bookworm` on runner host runner-2: 150 of 400 MB so far (38%). Steps on that host wait for it.",
    );
    expect(renderStatusComment(input({ job: job({ imagePull }) }))).not.toContain("Pulling");
  });

  it("queued: commits, steps, estimate and quota", () => {
    const body = renderStatusComment(
      input({
        job: job({
          status: "queued",
          outcome: null,
          startedAt: null,
          finishedAt: null,
          commitCount: 100,
          rounds: 0,
        }),
        steps: [],
        runSecondsEstimate: 30,
      }),
    );
    expect(body).toContain(
      "⏳ [Bisection 12](https://bisect.example.com/dashboard/jobs/12) is queued",
    );
    expect(body).toContain(
      "Queued — 100 commits, about 12 test runs in 5 rounds, estimated 3m. Quota: 3 of 50 bisections used this month (free plan).",
    );
    expect(body).not.toContain("Reproduce locally");
    expect(body).not.toContain("Tested commits");
  });

  it("queued before the range is known, unlimited plan, capped timeout", () => {
    const body = renderStatusComment(
      input({
        job: job({
          status: "queued",
          outcome: null,
          startedAt: null,
          finishedAt: null,
          commitCount: null,
          rounds: 0,
          options: { timeoutSeconds: 1800 },
        }),
        steps: [],
        quota: { tier: "enterprise", used: 7, limit: null },
        timeoutCap: { requestedSeconds: 7200, maxSeconds: 1800, tier: "free" },
      }),
    );
    expect(body).toContain("the commits between the two revisions are counted when it starts");
    expect(body).toContain("Quota: 7 bisections this month (enterprise plan, no monthly limit).");
    expect(body).not.toContain("slot");
    const waiting = renderStatusComment(
      input({
        job: job({ status: "queued", outcome: null, startedAt: null, finishedAt: null, rounds: 0 }),
        steps: [],
        quota: { tier: "free", used: 2, limit: 50, active: 1, maxConcurrent: 1 },
      }),
    );
    expect(waiting).toContain(
      "It starts when a slot frees up: the free plan runs 1 bisection at a time and 1 is running.",
    );
    expect(body).toContain("30m per run (capped from 2h by the free plan)");
  });

  it("running: round, tested commits and what is in flight", () => {
    const steps = [
      step(GOOD, { round: 0 }),
      step(BAD, { round: 0, verdict: "bad" }),
      step(OTHER, { round: 1, status: "running", verdict: null, durationMs: null, exitCode: null }),
    ];
    const body = renderStatusComment(
      input({
        job: job({
          status: "running",
          outcome: null,
          finishedAt: null,
          rounds: 1,
          culpritSha: null,
        }),
        steps,
      }),
    );
    expect(body).toContain(
      "🔎 [Bisection 12](https://bisect.example.com/dashboard/jobs/12) is running (round 1)",
    );
    expect(body).toMatch(
      /Running — 10 commits in range, 2 commits tested so far, about 2 more rounds \(~8s\), 1 run in progress\./,
    );
    expect(body).toContain("⏳ running");
    expect(body).toContain("Running for 3m 20s");
  });
});

describe("renderStatusComment: outcomes without a single culprit explain what happened and what to try", () => {
  it.each([
    ["ambiguous", /narrowed it down to 2 commits[\s\S]*could not be told apart[\s\S]*What to try/],
    [
      "good-is-bad",
      /good revision already fails[\s\S]*already fails on the good revision `v1\.4\.0`[\s\S]*What to try/,
    ],
    ["bad-is-good", /bad revision passes[\s\S]*did not reproduce[\s\S]*--flaky/],
    ["flaky", /different results on the same commit[\s\S]*What to try:\*\* add `--flaky`/],
    ["timeout", /ran out of time[\s\S]*--timeout/],
    ["error", /could not finish[\s\S]*disk full[\s\S]*\/bisect retry/],
  ] as const)("%s", (outcome, pattern) => {
    const body = renderStatusComment(
      input({
        job: job({
          outcome,
          culpritSha: null,
          candidates: [CULPRIT, OTHER],
          error: outcome === "error" ? "disk full" : null,
        }),
      }),
    );
    expect(body).toMatch(pattern);
    expect(body).toContain("Reproduce locally");
  });

  it("cancelled", () => {
    const body = renderStatusComment(
      input({
        job: job({
          status: "cancelled",
          outcome: null,
          culpritSha: null,
          error: "cancelled by alice",
        }),
      }),
    );
    expect(body).toContain(
      "🛑 [Bisection 12](https://bisect.example.com/dashboard/jobs/12) was cancelled",
    );
    expect(body).toContain("The bisection was stopped: cancelled by alice.");
  });

  it("failed with an error and a log, secrets scrubbed", () => {
    const token = `ghs_${"x".repeat(36)}`;
    const steps = [
      step(GOOD, {
        verdict: "error",
        exitCode: 128,
        reason: `clone failed for https://x-access-token:${token}@github.com/a/b`,
        logExcerpt: `fatal: Authorization: Bearer ${token}`,
      }),
    ];
    const body = renderStatusComment(
      input({
        job: job({
          status: "failed",
          outcome: "error",
          culpritSha: null,
          error: `fetch with ${token} failed`,
        }),
        steps,
      }),
    );
    expect(body).not.toContain(token);
    expect(body).toContain(
      "❌ [Bisection 12](https://bisect.example.com/dashboard/jobs/12) failed",
    );
    expect(body).toContain("[redacted");
  });
});

describe("renderStatusComment: size", () => {
  it("truncates the table and logs of a huge job to fit one comment, keeping the head and the end", () => {
    const steps: CommentStep[] = [];
    for (let i = 0; i < 3000; i++) {
      steps.push(
        step(i.toString(16).padStart(40, "0"), {
          round: Math.floor(i / 16),
          verdict: i % 2 ? "bad" : "good",
          reason: "x".repeat(60),
          logExcerpt: "log line\n".repeat(500),
        }),
      );
    }
    const body = renderStatusComment(input({ steps, job: job({ command: "y".repeat(9000) }) }));
    expect(body.length).toBeLessThanOrEqual(MAX_BODY);
    expect(body).toMatch(/\| … \| \d+ more runs \| \| \| see the dashboard \|/);
    expect(body).toContain("First bad commit");
    expect(body).toContain("dashboard/jobs/12");
    expect(body.endsWith(statusMarker(12))).toBe(true);
  });

  it("cuts even a pathological body", () => {
    const body = renderStatusComment(
      input({
        job: job({ command: "z\n".repeat(40_000), outcome: "error", error: "e".repeat(70_000) }),
      }),
    );
    expect(body.length).toBeLessThanOrEqual(MAX_BODY);
    expect(body).toContain("cut to fit a GitHub comment");
  });
});

describe("renderStatusComment: run environment", () => {
  it("shows env as plain text and what zero configuration chose, or why it fell back", () => {
    const body = renderStatusComment(
      input({
        job: job({
          setupCommand: "npm ci",
          options: {
            image: "node:20-bookworm",
            env: { NODE_ENV: "test", TZ: "UTC" },
            zeroConfig: {
              ecosystem: "Node (npm)",
              file: "package-lock.json",
              image: "node:20-bookworm",
              setup: "npm ci",
            },
          },
        }),
      }),
    );
    expect(body).toContain("env `NODE_ENV=test` `TZ=UTC`");
    expect(body).toContain(
      "No image or setup in `.github/bisect.yml`: this looks like a Node (npm) project (`package-lock.json`), so the test runs in `node:20-bookworm` after the setup `npm ci`. To choose otherwise, set `image:` (on the default branch) and `setup:` in `.github/bisect.yml`.",
    );
    const refused = renderStatusComment(
      input({
        job: job({
          options: {
            zeroConfig: { ecosystem: "Go", file: "go.mod", refusedImage: "golang:1-bookworm" },
          },
        }),
      }),
    );
    expect(refused).toContain(
      "this runner does not allow `golang:1-bookworm`, so the test runs in the runner image without a setup",
    );
  });

  it("shows bisect.yml's cache setting", () => {
    const render = (cache: false | string[]) =>
      renderStatusComment(input({ job: job({ setupCommand: "make", options: { cache } }) }));
    expect(render(["build", ".venv"])).toContain("cached between steps `build`, `.venv`");
    expect(render(false)).toContain("no dependency cache");
  });
});

describe("reproduceCommand", () => {
  it("reruns exactly the same bisection with the CLI", () => {
    const command = reproduceCommand({
      job: job({
        options: { runs: 3, parallel: 4, timeoutSeconds: 90, firstParent: true, image: "node:20" },
        command: "it's && fine",
      }),
      repo: { owner: "acme", name: "widgets" },
      webUrl: "https://github.com",
    });
    expect(command).toBe(
      `npm run -s bisect -- --repo https://github.com/acme/widgets.git --good ${GOOD} --bad ${BAD} --runs 3 --parallel 4 --timeout 90 --first-parent --image node:20 -- 'it'\\''s && fine'`,
    );
  });

  it("replays setup, env, the pinned image, network and the predicate: the CLI reads back the job", () => {
    const pinned = `node:20-bookworm@sha256:${"a".repeat(64)}`;
    const command = reproduceCommand({
      job: job({
        command: "npm test",
        setupCommand: 'npm ci\nexport PATH="$PWD/node_modules/.bin:$PATH"',
        options: {
          image: "node:20-bookworm",
          imagePinned: pinned,
          network: true,
          env: { NODE_ENV: "test", GREETING: "it's here" },
          predicate: {
            runs: 1,
            failThreshold: 1,
            flaky: false,
            crash: "bad",
            timeout: "skip",
            find: "fix",
          },
        },
      }),
      repo: { owner: "acme", name: "widgets" },
      webUrl: "https://github.com",
    });
    expect(command).toContain(`--image ${pinned}`);
    // The words a shell passes to `npm run bisect --`, read by the CLI's own parser.
    const words = execFileSync(
      "sh",
      ["-c", `eval "set -- $1"; shift 5; printf '%s\\0' "$@"`, "sh", command],
      { encoding: "utf8" },
    )
      .split("\0")
      .slice(0, -1);
    const parsed = parseCliArgs(words);
    expect(parsed).toMatchObject({
      kind: "options",
      options: {
        image: pinned,
        // The farm's schedule of endpoint checks, which the command line's default at
        // --parallel 1 is not.
        endpoints: "alongside",
        setup: 'npm ci\nexport PATH="$PWD/node_modules/.bin:$PATH"',
        env: { NODE_ENV: "test", GREETING: "it's here" },
        network: "all",
        predicate: { crash: "bad", find: "fix" },
        command: "npm test",
      },
    });
  });

  it("replays the cache setting as --cache", () => {
    const replay = (cache: false | string[]) =>
      reproduceCommand({
        job: job({ command: "make check", setupCommand: "make", options: { cache } }),
        repo: { owner: "acme", name: "widgets" },
        webUrl: "https://github.com",
      });
    expect(replay(["build", ".venv"])).toContain(
      "--setup make --cache build,.venv -- 'make check'",
    );
    expect(replay(false)).toContain("--cache off -- 'make check'");
  });

  it("replays network for the setup only as --network setup", () => {
    const command = reproduceCommand({
      job: job({ command: "npm test", setupCommand: "npm ci", options: { setupNetwork: true } }),
      repo: { owner: "acme", name: "widgets" },
      webUrl: "https://github.com",
    });
    expect(command).toContain("--setup 'npm ci' --network setup -- 'npm test'");
  });

  it("round-trips the command a comment gave", () => {
    const parsed = parseCommand('/bisect v1 main -- npm test -- -t "a b"');
    expect(parsed.kind).toBe("bisect");
    const command = reproduceCommand({
      job: job({
        command: (parsed as { command: string }).command,
        goodSha: null,
        badSha: null,
        goodRef: "v1",
        badRef: "main",
      }),
      repo: { owner: "o", name: "r" },
      webUrl: "https://github.com",
    });
    expect(command).toMatch(/--good v1 --bad main .* -- 'npm test -- -t "a b"'$/);
  });
});

describe("helpers and replies", () => {
  it("escape what came from people", () => {
    expect(text("a *b* [c](d) <img> @x | y")).toBe("a \\*b\\* \\[c\\](d) \\<img\\> @\u200bx \\| y");
    expect(code("a`b")).toBe("``a`b``");
    expect(code("`x`")).toBe("`` `x` ``");
    expect(cellCode("a|b")).toBe("`a\\|b`");
    expect(fence("```js\nx\n```")).toBe("````\n```js\nx\n```\n````");
    expect(shellQuote("safe-word")).toBe("safe-word");
    expect(tail("a\nb\nc\nd", 4)).toMatch(/earlier characters left out\]\nc\nd$/);
    expect(estimateRounds(1)).toBe(0);
    expect(estimateRounds(1000, 1)).toBe(10);
    expect(estimateRounds(1000, 3)).toBe(5);
  });

  it("replies say what is wrong and what to do", () => {
    expect(parseErrorReply("alice", "Missing the bad revision.", "/bisect v1 main -- x")).toMatch(
      /^@alice I could not start that: Missing the bad revision\.\n\nFor example:\n\n```\n\/bisect v1 main -- x\n```/,
    );
    expect(notTrustedReply()).toMatch(/^Sorry, only people with write access/);
    expect(
      quotaReply("alice", {
        used: 50,
        limit: 50,
        tier: "free",
        resetsAt: new Date("2026-12-01T00:00:00Z"),
      }),
    ).toMatch(
      /used 50 of its 50 bisections this month \(free plan\)[\s\S]*resets on 1 December 2026 at 00:00 UTC/,
    );
    expect(configErrorReply("alice", "main", ["`runs` must be a whole number"])).toMatch(
      /`\.github\/bisect\.yml` at `main` has a problem:\n\n- `runs`/,
    );
    expect(helpReply()).toContain("/bisect cancel [N]");
  });

  it("lists the jobs of an issue", () => {
    const list = renderStatusList(
      [job({ status: "running", outcome: null, culpritSha: null }), job({ id: 13 })],
      {
        publicUrl: "https://b.example",
        webUrl: "https://github.com",
        repo: { owner: "o", name: "r" },
      },
    );
    expect(list).toContain(
      "| [bisection 12](https://b.example/dashboard/jobs/12) | `v1.4.0` → `main` | running |  | 2026-11-02 10:00 UTC |",
    );
    expect(list).toContain("finished (found) | [`abcdef0`](https://github.com/o/r/commit/");
    expect(
      renderStatusList([], { publicUrl: "", webUrl: "", repo: { owner: "o", name: "r" } }),
    ).toMatch(/no bisection on this issue yet/);
  });
});

describe("renderStatusComment: predicates, likely answers and hints", () => {
  const predicate = (over: Record<string, unknown> = {}) => ({
    crash: "skip" as const,
    timeout: "skip" as const,
    find: "regression" as const,
    runs: 1,
    failThreshold: 1,
    flaky: false,
    ...over,
  });

  it.each(["queued", "preparing", "running", "finished", "failed", "cancelled"] as const)(
    "%s: never writes the job as #N (GitHub would link another issue), links the dashboard",
    (status) => {
      const body = renderStatusComment(
        input({
          job: job({ status, retryOfJobId: 7, outcome: status === "finished" ? "found" : null }),
        }),
      );
      expect(body).not.toMatch(/#12\b|#7\b/);
      expect(body).toContain("[Bisection 12](https://bisect.example.com/dashboard/jobs/12)");
      expect(body).toContain(
        "re-run of [bisection 7](https://bisect.example.com/dashboard/jobs/7)",
      );
    },
  );

  it("says each note of a run once", () => {
    const body = renderStatusComment(
      input({
        steps: [
          step(BAD, { verdict: "bad", exitCode: 1, reason: "exit 1" }),
          step(OTHER, { verdict: "bad", exitCode: 1, reason: "not yet fixed: exit 1", attempt: 2 }),
          step(GOOD, { verdict: "skip", exitCode: 139, reason: "killed by SIGSEGV" }),
        ],
      }),
    );
    expect(body).not.toContain("exit 1, exit 1");
    expect(body).toContain("| ❌ bad | 4s | exit 1 |");
    expect(body).toContain("run 2, not yet fixed: exit 1 |");
    expect(body).toContain("exit 139, killed by SIGSEGV |");
  });

  it("links the range on GitHub and states the predicate in words", () => {
    const body = renderStatusComment(
      input({
        job: job({
          options: { predicate: predicate({ crash: "bad", badIfOutput: "panicked at" }) },
        }),
      }),
    );
    expect(body).toContain(
      `([compare](https://ghe.example.com/acme/widgets/compare/${GOOD}...${BAD}))`,
    );
    expect(body).toContain("A crash (exit code ≥ 128 or a signal) counts as a failure (bad).");
    expect(body).toContain("a run whose output matches /panicked at/ counts as a failure");
    expect(body).toContain("never count as a failure");
    expect(
      reproduceCommand(
        input({
          job: job({
            options: { predicate: predicate({ crash: "bad", badIfOutput: "panicked at" }) },
          }),
        }),
      ),
    ).toContain("--crash bad --bad-if-output 'panicked at'");
  });

  it("hunting a fix says fixed / not yet fixed everywhere", () => {
    const body = renderStatusComment(
      input({
        job: job({ options: { predicate: predicate({ find: "fix" }) } }),
        steps: [
          step(GOOD, { verdict: "good", exitCode: 1, reason: "not yet fixed: exit 1" }),
          step(CULPRIT, { verdict: "bad", reason: "fixed: passes" }),
        ],
      }),
    );
    expect(body).toContain("found the first fixed commit");
    expect(body).toContain("**First fixed commit:**");
    expect(body).toContain("Not yet fixed `v1.4.0`");
    expect(body).toContain("→ fixed `main`");
    expect(body).toContain("| ❌ not yet fixed |");
    expect(body).toContain("| 🔧 fixed |");
    expect(body).not.toMatch(/first bad commit|❌ bad/);
    expect(body).toContain("--find fix");
  });

  it("a likely answer is never called found: it gives its numbers and the exact next commands", () => {
    const parent = OTHER;
    const body = renderStatusComment(
      input({
        job: job({
          outcome: "likely",
          confidence: 0.6,
          options: {
            runs: 3,
            failThreshold: 2,
            predicate: predicate({ runs: 3, failThreshold: 2 }),
          },
        }),
        culpritParent: parent,
        steps: [
          ...[1, 2, 3].map((attempt) => step(CULPRIT, { verdict: "bad", exitCode: 1, attempt })),
          step(parent, { verdict: "bad", exitCode: 1 }),
          step(parent, { attempt: 2 }),
          step(parent, { attempt: 3 }),
        ],
      }),
    );
    expect(body).toContain("likely first bad commit (not sure)");
    expect(body).not.toContain("found the first bad commit");
    expect(body).toContain("confidence 60%, 90% needed");
    expect(body).toContain("abcdef0: 3 of 3 runs bad; its parent fedcba9: 1 of 3 runs bad");
    expect(body).toContain(
      `/bisect verify 12\n/bisect ${GOOD} ${BAD} --flaky -- npm test -- -t "parses dates"`,
    );
    const next = parseCommand(`/bisect ${GOOD} ${BAD} --flaky -- npm test`);
    expect(next).toMatchObject({ kind: "bisect", flaky: true });
  });

  it("says what to do if the answer looks wrong, once", () => {
    const body = renderStatusComment(input());
    expect(body.match(/Think this is wrong\?/g)).toHaveLength(1);
    expect(body).toContain(
      "Comment `/bisect verify 12` to re-run the commit and its parent 5 times each",
    );
    expect(
      renderStatusComment(input({ job: job({ outcome: "ambiguous", culpritSha: null }) })),
    ).not.toContain("Think this is wrong");
  });

  it("shows a verification under way and its measurement", () => {
    const target = { jobId: 12, culprit: CULPRIT, parent: OTHER, runs: 5 };
    const running = renderStatusComment(
      input({
        verification: {
          job: job({ id: 13, status: "running", outcome: null, options: { verify: target } }),
          steps: [step(CULPRIT, { verdict: "bad" })],
        },
      }),
    );
    expect(running).toContain(
      "**Verifying** in [bisection 13](https://bisect.example.com/dashboard/jobs/13)",
    );
    expect(running).toContain("1 of 10 runs done");
    const done = renderStatusComment(
      input({
        verification: {
          job: job({
            id: 13,
            outcome: "likely",
            explanation:
              "The commit abcdef0 was bad in 5 of 5 runs; its parent fedcba9 was bad in 2 of 5 runs. Confidence 60%: likely the first bad commit, but not sure.",
            options: { verify: target },
          }),
          steps: [],
        },
      }),
    );
    expect(done).toContain("🤔 **Verified: likely, not sure** by [bisection 13]");
    expect(done).toContain("its parent fedcba9 was bad in 2 of 5 runs");
  });

  it.each<[number, RegExp, RegExp | null]>([
    [
      127,
      /Exit code 127\*\* means _command not found_[\s\S]*`image:` in `\.github\/bisect\.yml`/,
      /older good revision/,
    ],
    [126, /Exit code 126\*\* means the command was found but could not be executed/, null],
    [139, /Exit code 139\*\* is a crash \(SIGSEGV[\s\S]*add `--crash bad`/, null],
    [134, /Exit code 134\*\* is a crash \(SIGABRT\)[\s\S]*add `--crash bad`/, null],
  ])("explains exit code %i", (exitCode, hint, never) => {
    const body = renderStatusComment(
      input({
        job: job({ outcome: "good-is-bad", culpritSha: null }),
        steps: [step(GOOD, { verdict: exitCode >= 128 ? "skip" : "bad", exitCode })],
      }),
    );
    expect(body).toMatch(hint);
    if (never) expect(body).not.toMatch(never);
  });
});
