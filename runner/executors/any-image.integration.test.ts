// Any image bisects, and a run has room to build: against real engines (host 1 over its unix
// socket, a host over TLS). The checkout never depends on the image: one image has Debian's git
// without `safe.directory` (which refuses a repository owned by another uid), the other has no git
// at all. The work directory is on disk: a 2 GiB build fits under a 256 MiB memory limit, and a
// command that fills its disk is stopped, reported as a skip ("disk full"), and leaves nothing.
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyRun } from "../engine/verdict";
import { runBisection } from "../bisection/index";
import { listCommitGraph } from "../git/graph";
import { ensureRunnerImage } from "../image";
import { ensureGitTestImage, NO_GIT_IMAGE } from "../images/test-images";
import { DockerExecutor } from "./docker-executor";
import { removeLabelled } from "./removal";
import { runOnce } from "./run-once";
import {
  dockerRequired,
  enginesUnderTest,
  makeRepo,
  type SpecOverrides,
  specFor,
  type TestRepo,
} from "./test-support";
import { WORKSPACE_LABEL } from "../labels";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const engines = await enginesUnderTest();
const host1 = engines[0]?.docker;

for (const engine of engines) {
  if (engine.unavailable) {
    if (dockerRequired)
      describe(`any image on ${engine.name}`, () => {
        it("has a reachable Docker engine (required in CI)", () => {
          throw new Error(`Docker engine required in CI: ${engine.unavailable}`);
        });
      });
    else
      describe.skip(`any image on ${engine.name} (skipped: ${engine.unavailable})`, () => {
        it("needs a Docker engine", () => {});
      });
    continue;
  }
  describe(`any image on ${engine.name}`, () => suite(engine.docker!, engine.docker === host1));
}

function suite(docker: Docker, isHost1: boolean): void {
  const testLabel = { "bisect-test": randomUUID() };
  let executor: DockerExecutor;
  let repo: TestRepo;
  let gitImage: string;
  const spec = (overrides: SpecOverrides = {}) =>
    specFor(repo, { ...overrides, labels: { ...testLabel, ...overrides.labels } });

  beforeAll(async () => {
    const source = !isHost1 && host1 ? host1 : undefined;
    if (source) await ensureRunnerImage(source);
    const networkMode = isHost1 ? undefined : "host";
    await ensureRunnerImage(docker, { source, networkMode });
    gitImage = await ensureGitTestImage(docker, { source, networkMode });
    executor = new DockerExecutor(docker, { name: isHost1 ? "host1" : "tls-host" });
    repo = makeRepo(8, 5);
  }, 900_000);

  afterAll(async () => {
    await executor?.close();
    await removeLabelled(docker, testLabel).catch(() => {});
    if (repo) rmSync(repo.dir, { recursive: true, force: true });
  });

  for (const [kind, image] of [
    ["with git but no safe.directory", () => gitImage],
    ["without git", () => NO_GIT_IMAGE],
  ] as const) {
    it(`bisects correctly in an image ${kind}`, async () => {
      const graph = await listCommitGraph(repo.dir, repo.shas[0]!, repo.shas[7]!);
      const result = await runBisection({
        graph,
        parallel: 2,
        executor,
        specFor: (sha) => spec({ sha, image: image(), command: "sh check.sh" }),
      });
      expect(result.outcome).toBe("found");
      expect(result.culprit).toBe(repo.shas[5]);
    });
  }

  it("gives an image's git a usable checkout, writable by the run's uid", async () => {
    const r = await runOnce(
      executor,
      spec({
        sha: repo.shas[3]!,
        image: gitImage,
        command:
          "git rev-parse HEAD; git status --porcelain; id -u; echo new > version.txt && cat version.txt; touch /tmp/t && echo tmp-ok",
      }),
    );
    expect(r.log).toBe(`${repo.shas[3]}\n1000\nnew\ntmp-ok\n`);
    expect(r.exitCode).toBe(0);
  });

  it("gives each run a pristine checkout, whatever the run before it left in its directory", async () => {
    const own = new DockerExecutor(docker, { name: "reuse" });
    try {
      const first = await runOnce(
        own,
        spec({
          sha: repo.shas[6]!,
          image: gitImage,
          command:
            "echo changed > version.txt; rm check.sh; mkdir -p build/deep && echo o > build/deep/o && chmod 000 build; " +
            "echo junk > /tmp/junk; echo home > /work/.profile-junk; " +
            "mkdir -p /work/ro/x /tmp/ro/x && chmod 000 /work/ro && chmod 500 /tmp/ro; " +
            "printf '#!/bin/sh\\necho HOOKED >&2\\n' > .git/hooks/post-checkout && chmod +x .git/hooks/post-checkout; " +
            "git config core.fsmonitor 'echo pwned >&2'; chmod 000 /work",
        }),
      );
      expect(first.exitCode).toBe(0);
      for (const i of [2, 6]) {
        const next = await runOnce(
          own,
          spec({
            sha: repo.shas[i]!,
            image: gitImage,
            command:
              "git status --porcelain; git config core.fsmonitor; ls -A; cat version.txt; ls -A /tmp /work",
          }),
        );
        expect(next.log).toBe(`.git\ncheck.sh\nversion.txt\n${i}\n/tmp:\n\n/work:\nsrc\ntmp\n`);
      }
    } finally {
      await own.close();
    }
  });

  it("builds 2 GiB of files on disk under a 256 MiB memory limit", async () => {
    const r = await runOnce(
      executor,
      spec({
        image: NO_GIT_IMAGE,
        command:
          "mkdir -p build && for i in 1 2 3 4; do dd if=/dev/zero of=build/part$i bs=1M count=384 2>/dev/null || exit 1; done; " +
          "dd if=/dev/zero of=/tmp/scratch bs=1M count=512 2>/dev/null || exit 1; stat -c '%n %s' build/* /tmp/scratch",
        limits: { workBytes: 3 * GiB, memoryBytes: 256 * MiB },
        timeoutMs: 300_000,
      }),
    );
    expect(r).toMatchObject({ exitCode: 0, oomKilled: false, diskFull: false });
    const sizes = [...r.log.matchAll(/^(\S+) (\d+)$/gm)].map((m) => Number(m[2]));
    expect(sizes).toHaveLength(5);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(2 * GiB);
  }, 320_000);

  it("stops a command that fills its disk, reports a skip, and removes what it wrote", async () => {
    const own = new DockerExecutor(docker, { name: "disk-filler" });
    try {
      const r = await runOnce(
        own,
        spec({
          image: NO_GIT_IMAGE,
          command: "cat /dev/zero > /work/a & cat /dev/zero > /tmp/b & wait; exit 1",
          limits: { workBytes: 256 * MiB },
          timeoutMs: 120_000,
        }),
      );
      expect(r.diskFull).toBe(true);
      expect(r.timedOut).toBe(false);
      expect(classifyRun(r)).toEqual({ verdict: "skip", reason: "disk full" });
    } finally {
      await own.close();
    }
    // Its checkout container and work volume are gone with the executor.
    const label = { label: [`${WORKSPACE_LABEL}=${own.poolId}`] };
    expect(await docker.listContainers({ all: true, filters: JSON.stringify(label) })).toEqual([]);
    expect((await docker.listVolumes({ filters: JSON.stringify(label) })).Volumes ?? []).toEqual(
      [],
    );
  }, 150_000);
}
