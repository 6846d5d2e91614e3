// Range and size caps: a range of more commits than allowed is refused after counting, before any
// graph is listed or stored; a mirror larger than allowed is refused. A real engine, a real
// repository of 150,000 commits.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerRequired, enginesUnderTest } from "../../runner/executors/test-support";
import { ensureRunnerImage } from "../../runner/image";
import {
  mirrorVolumeName,
  RangeRefusedError,
  refreshMirror,
  removeMirror,
} from "../../runner/mirror/mirror";

const engines = await enginesUnderTest();
const host1 = engines[0]!;
if (!host1.docker && dockerRequired)
  throw new Error(`Docker is required in CI: ${host1.unavailable}`);
const suite = host1.docker ? describe : describe.skip;

const COMMITS = 150_000;

/** A repository of `count` empty commits on main, written in one go by git fast-import. */
function bigRepository(count: number): { dir: string; first: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "bisect-big-"));
  chmodSync(dir, 0o755);
  execFileSync("git", ["init", "-q", "-b", "main", dir]);
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) {
    lines.push(
      "commit refs/heads/main",
      `mark :${i}`,
      `committer T <t@example.invalid> ${1_700_000_000 + i} +0000`,
      "data 0",
    );
    if (i > 1) lines.push(`from :${i - 1}`);
    lines.push("");
  }
  execFileSync("git", ["-C", dir, "fast-import", "--quiet"], {
    input: lines.join("\n"),
    maxBuffer: 1 << 30,
  });
  const first = execFileSync("git", ["-C", dir, "rev-list", "--max-parents=0", "main"], {
    encoding: "utf8",
  }).trim();
  return { dir, first };
}

suite("range and size caps", () => {
  const docker = host1.docker as Docker;
  let image: string;
  let repo: { dir: string; first: string };
  const volumes: string[] = [];
  const volume = () => {
    const name = mirrorVolumeName(`cap:${randomBytes(6).toString("hex")}`);
    volumes.push(name);
    return name;
  };

  beforeAll(async () => {
    image = (await ensureRunnerImage(docker)).tag;
    repo = bigRepository(COMMITS);
  }, 600_000);
  afterAll(async () => {
    for (const v of volumes) await removeMirror(docker, v);
    if (repo) rmSync(repo.dir, { recursive: true, force: true });
  });

  it(`refuses a ${COMMITS.toLocaleString("en-US")}-commit range with a plain reason, listing no graph`, async () => {
    const refresh = refreshMirror(docker, {
      volume: volume(),
      source: { kind: "host-path", path: repo.dir },
      image,
      network: "none",
      good: repo.first,
      bad: "main",
      maxCommits: 100_000,
    });
    await expect(refresh).rejects.toBeInstanceOf(RangeRefusedError);
    await expect(refresh).rejects.toThrow(/149,999 commits, more than the 100,000 allowed/);
  }, 300_000);

  it("refuses a repository whose mirror is larger than allowed", async () => {
    const refresh = refreshMirror(docker, {
      volume: volume(),
      source: { kind: "host-path", path: repo.dir },
      image,
      network: "none",
      maxMirrorBytes: 1024,
    });
    await expect(refresh).rejects.toThrow(/more than the 0 MiB allowed|MiB, more than/);
  }, 300_000);
});
