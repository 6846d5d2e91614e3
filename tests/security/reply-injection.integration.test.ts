// Reply injection: a comment's own words must never come back as live Markdown. Untrusted
// commenters get one fixed text, at most once per issue per hour; a maintainer's malformed
// command is quoted in code spans that its backticks cannot close.
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogEntry } from "../../db/models";
import { notTrustedReply } from "../../jobs/github/replies";
import { useTestDatabase } from "../helpers/database";
import { useInstalledApp } from "../github/installed";
import { REPO, userComment, type CommentOptions } from "../github/support";

const db = useTestDatabase();
const app = useInstalledApp(db);
let issues = 500;
const knex = () => db.current.knex;

const INJECTION =
  "/bisect cancel 1 `x` @octocat see [login here](https://evil.example/phish) &commat;octocat &#64;octocat `";

async function comment(body: string, options: CommentOptions & { issue: number }) {
  await app.deliver("issue_comment", userComment(app.f, body, options));
  return app.f.standIn
    .comments(REPO.owner, REPO.name, options.issue)
    .filter((c) => c.user === "bisect-bot[bot]")
    .map((c) => c.body);
}

/**
 * The Markdown outside code spans (CommonMark: a run of n backticks opens a span that only a run
 * of exactly n closes), i.e. the text GitHub would turn into links and mentions.
 */
function outsideCodeSpans(markdown: string): string {
  let out = "";
  let i = 0;
  while (i < markdown.length) {
    const open = /^`+/.exec(markdown.slice(i));
    if (!open) {
      out += markdown[i++];
      continue;
    }
    const ticks = open[0];
    const rest = markdown.slice(i + ticks.length);
    const close = new RegExp(`(?<!\`)${ticks}(?!\`)`).exec(rest);
    if (!close) {
      out += ticks;
      i += ticks.length;
      continue;
    }
    i += ticks.length + close.index + ticks.length;
  }
  return out;
}

afterEach(() => {
  app.f.standIn.clearRequests();
});

const MALLORY = { user: { login: "mallory", id: 9666 }, association: "NONE" } as const;

describe("an untrusted commenter", () => {
  it("gets only the fixed text, whatever they wrote, and it echoes nothing of theirs", async () => {
    const issue = ++issues;
    const replies = await comment(INJECTION, { ...MALLORY, issue });
    expect(replies).toEqual([notTrustedReply()]);
    expect(replies[0]).not.toMatch(/octocat|evil|@/);
  });

  it("is answered at most once per issue per hour, and every attempt is audited", async () => {
    const issue = ++issues;
    await comment("/bisect v1.4.0 main -- ./test.sh", { ...MALLORY, issue });
    await comment("/bisect help", { ...MALLORY, issue });
    const replies = await comment("/bisect nonsense `", { ...MALLORY, issue });
    expect(replies).toEqual([notTrustedReply()]);
    const refused = await AuditLogEntry.query(knex())
      .where({ action: "command.refused", actor: "mallory" })
      .whereRaw("(details->>'issue')::int = ?", [issue]);
    expect(refused).toHaveLength(3);
    // Another issue gets its own answer.
    expect(await comment("/bisect help", { ...MALLORY, issue: ++issues })).toHaveLength(1);
  });
});

describe("a maintainer's malformed command", () => {
  it("is quoted so that no link or mention comes alive", async () => {
    const replies = await comment(INJECTION, { issue: ++issues });
    expect(replies).toHaveLength(1);
    const live = outsideCodeSpans(replies[0]!);
    expect(live).toMatch(/^@alice I could not start that/);
    expect(live.replace(/^@alice/, "")).not.toMatch(/@\w|\]\(|&commat;|&#64;/);
    expect(replies[0]).toContain("evil.example"); // quoted, not dropped
  });
});
