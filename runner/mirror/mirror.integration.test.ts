// The mirror cache against a real engine: cold and warm refreshes, refs, and the credential
// reaching the fetch container only — never a step container's environment, mounts or logs.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, type StandIn } from "../../tests/github-stand-in/server";
import { DockerExecutor } from "../executors/docker-executor";
import {
  dockerRequired,
  enginesUnderTest,
  makeRepo,
  specFor,
  type TestRepo,
} from "../executors/test-support";
import { ensureRunnerImage } from "../image";
import { mirrorVolumeName, refreshMirror, removeMirror, UnknownRefError } from "./mirror";

const engines = await enginesUnderTest();
const host1 = engines[0]!;
if (!host1.docker && dockerRequired)
  throw new Error(`Docker is required in CI: ${host1.unavailable}`);
const suite = host1.docker ? describe : describe.skip;

function commit(repo: TestRepo, message: string): string {
  writeFileSync(path.join(repo.dir, "extra.txt"), `${message}\n`);
  const git = (...args: string[]) =>
    execFileSync(
      "git",
      ["-C", repo.dir, "-c", "user.name=T", "-c", "user.email=t@example.invalid", ...args],
      { encoding: "utf8" },
    ).trim();
  git("add", "extra.txt");
  git("commit", "-q", "-m", message);
  return git("rev-parse", "HEAD");
}

suite("mirror cache", () => {
  const docker = host1.docker as Docker;
  const volumes: string[] = [];
  let image: string;
  const volume = () => {
    const name = mirrorVolumeName(`test:${randomBytes(6).toString("hex")}`);
    volumes.push(name);
    return name;
  };

  beforeAll(async () => {
    image = (await ensureRunnerImage(docker)).tag;
  }, 600_000);
  afterAll(async () => {
    for (const v of volumes) await removeMirror(docker, v);
  });

  it("mirrors a repository, lists bad ^good, and refreshes with new commits", async () => {
    const repo = makeRepo(6, 3);
    const vol = volume();
    const cold = await refreshMirror(docker, {
      volume: vol,
      source: { kind: "host-path", path: repo.dir },
      image,
      network: "none",
      good: repo.shas[0],
      bad: "main",
    });
    expect(cold.graph?.good).toBe(repo.shas[0]);
    expect(cold.graph?.bad).toBe(repo.shas[5]);
    expect(Object.keys(cold.graph!.commits).sort()).toEqual(repo.shas.slice(1).sort());
    expect(cold.graph!.commits[repo.shas[3]!]!.parents).toEqual([repo.shas[2]]);
    expect(cold.sizeBytes).toBeGreaterThan(0);

    const newer = commit(repo, "one more");
    const warm = await refreshMirror(docker, {
      volume: vol,
      source: { kind: "host-path", path: repo.dir },
      image,
      network: "none",
      good: repo.shas[4],
      bad: "main",
    });
    expect(warm.graph?.bad).toBe(newer);
    expect(Object.keys(warm.graph!.commits).sort()).toEqual([repo.shas[5], newer].sort());

    await expect(
      refreshMirror(docker, {
        volume: vol,
        source: { kind: "host-path", path: repo.dir },
        image,
        network: "none",
        good: "v9.9",
        bad: "main",
      }),
    ).rejects.toBeInstanceOf(UnknownRefError);
    const leftovers = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`bisect-bot.mirror=${vol}`] }),
    });
    expect(leftovers).toEqual([]);
  }, 120_000);

  describe("with a credential", () => {
    let standIn: StandIn;
    beforeAll(async () => {
      standIn = await startGitHubStandIn();
    });
    afterAll(async () => {
      await standIn.close();
    });

    it("gives the token to the fetch container only", async () => {
      const repo = makeRepo(4, 2);
      standIn.addRepository({ owner: "acme", name: "secret-widgets", path: repo.dir });
      standIn.addInstallation({
        id: 77,
        account: { login: "acme", type: "Organization" },
        repositories: ["acme/secret-widgets"],
      });
      const token = standIn.issueInstallationToken(77, { permissions: { contents: "read" } });
      const vol = volume();
      const refreshed = await refreshMirror(docker, {
        volume: vol,
        source: {
          kind: "url",
          url: `${standIn.urls.web}/acme/secret-widgets.git`,
          username: "x-access-token",
          password: token,
        },
        image,
        network: "host",
        good: repo.shas[0],
        bad: "main",
      });
      expect(Object.keys(refreshed.graph!.commits)).toHaveLength(3);
      expect(standIn.requests({ path: /git-upload-pack/ }).some((r) => r.auth === "basic")).toBe(
        true,
      );
      // The credential goes with the first request: git never asks anonymously first.
      const gitRequests = standIn.requests({ path: /secret-widgets\.git\// });
      expect(gitRequests.length).toBeGreaterThan(0);
      expect(gitRequests.map((r) => `${r.path.split("?")[0]} ${r.auth} ${r.status}`)).toEqual(
        gitRequests.map((r) => `${r.path.split("?")[0]} basic 200`),
      );

      // A wrong token is refused, and the error does not echo it.
      const wrong = `ghs_${randomBytes(18).toString("hex")}`;
      const refused = await refreshMirror(docker, {
        volume: volume(),
        source: {
          kind: "url",
          url: `${standIn.urls.web}/acme/secret-widgets.git`,
          password: wrong,
        },
        image,
        network: "host",
      }).catch((e: Error) => e);
      expect(refused).toBeInstanceOf(Error);
      expect(String((refused as Error).message)).not.toContain(wrong);
      expect(String((refused as Error).message)).not.toContain(
        Buffer.from(`x-access-token:${wrong}`).toString("base64"),
      );

      // A step container on the same mirror: no token in its environment, mounts, or output.
      const executor = new DockerExecutor(docker, { image });
      const spec = specFor(repo, {
        repo: { kind: "volume", name: vol },
        sha: repo.shas[3]!,
        labels: { job: "mirror-test" },
        command:
          "env; cat /proc/self/mountinfo; git -C /mirror config --list; grep -r . /mirror/config; git log -1 --format=%H",
      });
      const handle = await executor.prepare(spec);
      try {
        const inspected = await docker.getContainer(handle.id).inspect();
        expect(JSON.stringify(inspected.Config.Env)).not.toContain(token);
        expect(JSON.stringify(inspected.Mounts)).not.toContain(token);
        expect(
          inspected.Mounts.every(
            (m) => m.RW === false || m.Destination.startsWith("/work") || m.Destination === "/tmp",
          ),
        ).toBe(true);
        await executor.start(handle);
        const result = await executor.wait(handle);
        expect(result.exitCode).toBe(0);
        expect(result.log).toContain(repo.shas[3]);
        expect(result.log).not.toContain(token);
        expect(result.log).not.toContain("BISECT_GIT_PASSWORD");
      } finally {
        await executor.destroy(handle);
        await executor.close();
      }
    }, 120_000);
  });
});
