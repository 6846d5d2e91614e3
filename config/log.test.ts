import { describe, expect, it } from "vitest";
import { createLogger, redact } from "./log";

describe("logs", () => {
  it("never carries a secret: named fields are replaced, token shapes scrubbed anywhere", () => {
    const lines: string[] = [];
    const log = createLogger("test", "debug", (line) => lines.push(line));
    const token = "ghs_" + "a".repeat(36);
    log.info(`cloning https://x-access-token:${token}@github.com/acme/widgets.git`, {
      headers: { authorization: "Bearer abc.def.ghi", "user-agent": "octokit" },
      webhookSecret: "s3cret-value",
      nested: [{ note: `token ${token}` }],
      error: new Error(`request failed for ${token}`),
    });
    const text = lines.join("\n");
    expect(text).not.toContain(token);
    expect(text).not.toContain("abc.def.ghi");
    expect(text).not.toContain("s3cret-value");
    const entry = JSON.parse(lines[0]!);
    expect(entry).toMatchObject({
      level: "info",
      component: "test",
      headers: { authorization: "[redacted]", "user-agent": "octokit" },
      webhookSecret: "[redacted]",
    });
  });

  it("drops lines below the level", () => {
    const lines: string[] = [];
    const log = createLogger("test", "warn", (line) => lines.push(line));
    log.info("quiet");
    log.warn("loud");
    expect(lines.map((l) => JSON.parse(l).message)).toEqual(["loud"]);
  });

  it("leaves ordinary values alone", () => {
    expect(redact({ jobId: 4, sha: "a".repeat(40), ok: true })).toEqual({
      jobId: 4,
      sha: "a".repeat(40),
      ok: true,
    });
  });
});
