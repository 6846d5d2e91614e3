// Asking a remote for its refs without a container: what counts, and what a source cannot make
// git do on the worker.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { mirroredRefs, refsDigest, remoteRefsDigest } from "./remote-refs";

const A = "a".repeat(40);
const B = "b".repeat(40);

describe("the remote's refs", () => {
  it("counts the branches and tags a mirror fetches, in any order", () => {
    const listed = `${A}\trefs/heads/main\n${B}\trefs/tags/v1\n${A}\trefs/pull/1/head\n`;
    expect(mirroredRefs(listed)).toEqual([`${A}\trefs/heads/main`, `${B}\trefs/tags/v1`]);
    expect(refsDigest(listed)).toBe(refsDigest(`${B}\trefs/tags/v1\n${A}\trefs/heads/main\n`));
    expect(refsDigest(listed)).not.toBe(refsDigest(`${B}\trefs/heads/main\n${B}\trefs/tags/v1\n`));
  });

  it("is not known for a repository on the engine's machine", async () => {
    expect(await remoteRefsDigest({ kind: "host-path", path: "/srv/repo" })).toBeNull();
  });

  it("never runs a command or reads a local repository named by the source", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "remote-refs-"));
    try {
      const marker = path.join(dir, "ran");
      expect(
        await remoteRefsDigest({ kind: "url", url: `ext::sh -c touch% ${marker}` }),
      ).toBeNull();
      expect(existsSync(marker)).toBe(false);
      execFileSync("git", ["init", "-q", "--bare", path.join(dir, "r.git")]);
      expect(await remoteRefsDigest({ kind: "url", url: `file://${dir}/r.git` })).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
