// A repository with real content for the mirror measurements, written in one `git fast-import`
// stream: each commit rewrites one of 64 files with 4 KB of fresh data.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/** A repository with real content: each commit rewrites one of 64 files with 4 KB of fresh data. */
export function makeContentRepo(dir: string, count: number): void {
  execFileSync("git", ["init", "-q", "-b", "main", dir]);
  appendCommits(dir, 0, count);
}

export function appendCommits(dir: string, from: number, count: number): void {
  const lines: string[] = [];
  for (let i = from; i < from + count; i++) {
    const data = randomBytes(3072).toString("base64");
    lines.push(
      "commit refs/heads/main",
      `committer Bench <bench@example.invalid> ${1_700_000_000 + i} +0000`,
      `data ${`commit ${i}`.length}`,
      `commit ${i}`,
      ...(i === from && from > 0 ? ["from refs/heads/main^0"] : []),
      `M 644 inline files/${i % 64}.txt`,
      `data ${Buffer.byteLength(data)}`,
      data,
    );
  }
  execFileSync("git", ["-C", dir, "fast-import", "--quiet"], {
    input: lines.join("\n") + "\n",
    maxBuffer: 1 << 30,
  });
}
