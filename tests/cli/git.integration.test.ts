// runner/git against real repositories built with git fast-import.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  isAncestor,
  isGitUrl,
  listCommitGraph,
  parseRevListParents,
  prepareRepo,
  readCommitInfo,
  readCommitInfos,
  RefError,
  resolveRef,
} from "../../runner/git/index";
import {
  generateRepo,
  linearHistory,
  mergeHistory,
  type GeneratedRepo,
} from "../../scripts/bench/lib/repo-gen";

let linear: GeneratedRepo;
let merged: GeneratedRepo;
const history = mergeHistory(25, 3);

beforeAll(async () => {
  linear = await generateRepo(linearHistory(20), { culprit: 12, tags: { "v1.0": 2 } });
  execFileSync("git", ["tag", "-a", "-m", "annotated", "v2.0", linear.shas[5]!], {
    cwd: linear.dir,
  });
  execFileSync("git", ["branch", "feature/x", linear.shas[7]!], { cwd: linear.dir });
  merged = await generateRepo(history.commits, { culprit: history.side[2]! });
});

afterAll(async () => {
  await linear?.cleanup();
  await merged?.cleanup();
});

describe("resolveRef", () => {
  it("resolves full and short shas, tags (annotated ones peeled), branches, ancestry steps", async () => {
    expect(await resolveRef(linear.dir, linear.shas[4]!)).toBe(linear.shas[4]);
    expect(await resolveRef(linear.dir, linear.shas[4]!.slice(0, 10))).toBe(linear.shas[4]);
    expect(await resolveRef(linear.dir, "v1.0")).toBe(linear.shas[2]);
    expect(await resolveRef(linear.dir, "v2.0")).toBe(linear.shas[5]);
    expect(await resolveRef(linear.dir, "feature/x")).toBe(linear.shas[7]);
    expect(await resolveRef(linear.dir, "main")).toBe(linear.shas[19]);
    expect(await resolveRef(linear.dir, "main~3")).toBe(linear.shas[16]);
    expect(await resolveRef(linear.dir, "main^")).toBe(linear.shas[18]);
    expect(await resolveRef(linear.dir, "v2.0^^1~1")).toBe(linear.shas[2]);
  });

  it("rejects unknown and malformed refs with a RefError", async () => {
    await expect(resolveRef(linear.dir, "nope")).rejects.toThrow(RefError);
    await expect(resolveRef(linear.dir, "nope")).rejects.toThrow(/unknown revision "nope"/);
    await expect(resolveRef(linear.dir, "--all")).rejects.toThrow(/starts with '-'/);
    await expect(resolveRef(linear.dir, "main..v1.0")).rejects.toThrow(/contains '\.\.'/);
    await expect(resolveRef(linear.dir, "main^{tree}")).rejects.toThrow(
      /other than as ancestry steps/,
    );
    await expect(resolveRef(linear.dir, "main^!")).rejects.toThrow(RefError);
    await expect(resolveRef(linear.dir, ":/commit 5")).rejects.toThrow(RefError);
    await expect(resolveRef(linear.dir, "main@{1}")).rejects.toThrow(/contains '@\{'/);
    await expect(resolveRef(linear.dir, "~2")).rejects.toThrow(/no name before/);
    await expect(resolveRef(linear.dir, "")).rejects.toThrow(/is empty/);
  });

  it("refuses a tree or blob", async () => {
    const tree = execFileSync("git", ["rev-parse", `${linear.shas[3]}^{tree}`], {
      cwd: linear.dir,
      encoding: "utf8",
    }).trim();
    await expect(resolveRef(linear.dir, tree)).rejects.toThrow(RefError);
  });
});

describe("listCommitGraph", () => {
  it("lists a linear range with its parents", async () => {
    const graph = await listCommitGraph(linear.dir, linear.shas[2]!, linear.shas[19]!);
    expect(graph.good).toBe(linear.shas[2]);
    expect(graph.bad).toBe(linear.shas[19]);
    expect(Object.keys(graph.commits).sort()).toEqual(linear.shas.slice(3).sort());
    expect(graph.commits[linear.shas[3]!]).toEqual({ parents: [linear.shas[2]] });
    expect(graph.commits[linear.shas[19]!]).toEqual({ parents: [linear.shas[18]] });
  });

  it("lists merges with every parent in git's order", async () => {
    const last = history.commits.length - 1;
    const graph = await listCommitGraph(merged.dir, merged.shas[0]!, merged.shas[last]!);
    expect(Object.keys(graph.commits)).toHaveLength(last);
    history.commits.forEach((c, i) => {
      if (i === 0) return;
      expect(graph.commits[merged.shas[i]!]).toEqual({
        parents: c.parents.map((p) => merged.shas[p]),
      });
    });
    expect(history.commits.some((c) => c.parents.length === 2)).toBe(true);
  });

  it("can list only the first-parent chain", async () => {
    const last = history.commits.length - 1;
    const graph = await listCommitGraph(merged.dir, merged.shas[0]!, merged.shas[last]!, {
      firstParent: true,
    });
    expect(Object.keys(graph.commits).sort()).toEqual(
      history.mainLine
        .slice(1)
        .map((i) => merged.shas[i])
        .sort(),
    );
  });

  it("gives an empty range when bad is an ancestor of good", async () => {
    const graph = await listCommitGraph(linear.dir, linear.shas[9]!, linear.shas[4]!);
    expect(graph.commits).toEqual({});
    expect(await isAncestor(linear.dir, linear.shas[4]!, linear.shas[9]!)).toBe(true);
    expect(await isAncestor(linear.dir, linear.shas[9]!, linear.shas[4]!)).toBe(false);
  });

  it("parses rev-list output strictly", () => {
    const a = "a".repeat(40);
    const b = "b".repeat(40);
    expect(parseRevListParents(`${a} ${b}\n${b}\n`)).toEqual({
      [a]: { parents: [b] },
      [b]: { parents: [] },
    });
    expect(() => parseRevListParents("warning: something\n")).toThrow(
      /unexpected git rev-list output/,
    );
  });
});

describe("readCommitInfo", () => {
  it("reads subject, author and date", async () => {
    expect(await readCommitInfo(linear.dir, linear.shas[5]!)).toEqual({
      sha: linear.shas[5],
      subject: "commit 5",
      authorName: "Dev 5",
      authorEmail: "dev5@example.test",
      authorDate: new Date((1_700_000_000 + 5 * 60) * 1000)
        .toISOString()
        .replace(".000Z", "+00:00"),
    });
    const many = await readCommitInfos(linear.dir, [linear.shas[9]!, linear.shas[1]!]);
    expect(many.map((c) => c.subject)).toEqual(["commit 9", "commit 1"]);
  });
});

describe("prepareRepo", () => {
  it("uses a local path in place", async () => {
    const repo = await prepareRepo(linear.dir);
    expect(repo).toMatchObject({
      path: linear.dir,
      gitDir: join(linear.dir, ".git"),
      cloned: false,
    });
    await repo.cleanup();
    expect((await stat(linear.dir)).isDirectory()).toBe(true);
  });

  it("clones a URL as a readable mirror and removes it", async () => {
    const repo = await prepareRepo(`file://${linear.dir}`);
    try {
      expect(repo.cloned).toBe(true);
      expect(((await stat(repo.path)).mode & 0o777).toString(8)).toBe("755");
      expect(await resolveRef(repo.path, "v1.0")).toBe(linear.shas[2]);
      expect(await resolveRef(repo.path, "feature/x")).toBe(linear.shas[7]);
    } finally {
      await repo.cleanup();
    }
    await expect(stat(repo.path)).rejects.toThrow();
  });

  it("says what is wrong with a bad source", async () => {
    const empty = await mkdtemp(join(tmpdir(), "bisect-notgit-"));
    try {
      await expect(prepareRepo(empty)).rejects.toThrow(`not a git repository: ${empty}`);
    } finally {
      await rm(empty, { recursive: true });
    }
    await expect(prepareRepo("/nonexistent/repo")).rejects.toThrow(
      "repository not found: /nonexistent/repo is not a directory",
    );
    await expect(prepareRepo("ext::sh -c touch% /tmp/pwned")).rejects.toThrow(
      /unsupported transport 'ext::'/,
    );
    await expect(prepareRepo("file:///nonexistent/repo.git")).rejects.toThrow(/git clone failed/);
  });

  it("tells URLs from paths", () => {
    expect(isGitUrl("https://github.com/o/r.git")).toBe(true);
    expect(isGitUrl("git@github.com:o/r.git")).toBe(true);
    expect(isGitUrl("file:///srv/r.git")).toBe(true);
    expect(isGitUrl("/srv/r.git")).toBe(false);
    expect(isGitUrl("./r")).toBe(false);
    expect(isGitUrl("C:/x")).toBe(false);
  });
});
