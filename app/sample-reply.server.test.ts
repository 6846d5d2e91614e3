import { marked } from "marked";
import { describe, expect, it } from "vitest";
import { renderStatusComment, statusMarker } from "../jobs/github/render";
import { sampleReplyHtml, sampleReplyInput } from "./sample-reply.server";

describe("the start page's example answer", () => {
  it("is the real status comment for a found culprit, as HTML", () => {
    const html = sampleReplyHtml();
    const markdown = renderStatusComment(sampleReplyInput());
    expect(html).toBe(marked.parse(markdown, { async: false, gfm: true }));
    expect(html).toMatch(
      /<h3>🎯 <a href="[^"]+\/dashboard\/jobs\/128">Bisection 128<\/a> found the first bad commit<\/h3>/,
    );
    expect(html).toContain("<code>a1b2c3d</code> Parse dates in local time</a>");
    expect(html).toMatch(/<summary>Tested commits \(10\)<\/summary><table>/);
    expect(html).toContain(statusMarker(128));
    // Nothing but the renderer's own markup: no script, no inline event handler, no style.
    expect(html).not.toMatch(/<script|\son\w+=|style=/i);
  });
});
