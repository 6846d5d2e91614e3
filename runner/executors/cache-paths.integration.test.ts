// bisect.yml's `cache:` paths on a real engine: a build directory made by one step's setup is
// there for the next step's setup (which then does not build again), older than the files that
// differ from the commit it was built at (than all of the commit's files, where the image has no
// git); what the commit has is never overwritten; what the test or a failed setup leaves never
// reaches the cache; a run with no setup cannot write into the cache at all.
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureRunnerImage } from "../image";
import { NO_GIT_IMAGE } from "../images/test-images";
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

const [host1] = await enginesUnderTest();
const docker = host1?.docker;
const testLabel = { "bisect-test": randomUUID() };

// A build that takes long when build/ is empty, and is reused when it is not.
const BUILD = [
  'if [ -f build/stamp ]; then echo "REUSED $(cat build/stamp)";',
  'else echo BUILDING; mkdir -p build/deep; sleep 2; echo "built-at-$(cat version.txt)" >build/stamp; echo obj >build/deep/a.o; fi',
].join(" ");

describe.skipIf(!docker && !dockerRequired)("extra cache paths", () => {
  let repo: TestRepo;
  const volume = `bisect-cache-test-paths-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    if (!docker) throw new Error(`Docker engine required in CI: ${host1?.unavailable}`);
    await ensureRunnerImage(docker);
    repo = makeRepo(4);
  }, 900_000);

  afterAll(async () => {
    if (docker) {
      await removeLabelled(docker, testLabel);
      await docker
        .getVolume(volume)
        .remove()
        .catch(() => {});
    }
    if (repo) rmSync(repo.dir, { recursive: true, force: true });
  });

  // Each step has its own executor and a fresh checkout, as on the farm.
  const step = async (sha: number, overrides: SpecOverrides) => {
    const executor = new DockerExecutor(docker!, { name: "cache-paths" });
    try {
      return await runOnce(
        executor,
        specFor(repo, {
          sha: repo.shas[sha],
          cacheVolume: volume,
          labels: testLabel,
          ...overrides,
        }),
      );
    } finally {
      await executor.close();
    }
  };

  it("restores a path the last setup saved, so the next step's setup does not build again", async () => {
    const first = await step(0, {
      setup: BUILD,
      cachePaths: ["build"],
      command: "cat build/stamp",
    });
    expect(first.exitCode).toBe(0);
    expect(first.log).toContain("BUILDING");
    expect(first.log).toContain("bisect-runner: saved build to the cache");

    // Another commit, another checkout: the build is there before the setup runs.
    const second = await step(1, {
      setup: BUILD,
      cachePaths: ["build"],
      command:
        "cat version.txt build/deep/a.o; [ build/stamp -ot version.txt ] && echo OUTPUT-OLDER",
    });
    expect(second.exitCode).toBe(0);
    expect(second.log).toContain("bisect-runner: restored build from the cache");
    expect(second.log).toContain("REUSED built-at-0");
    expect(second.log).not.toContain("BUILDING");
    expect(second.log).toContain("1\nobj");
    // Restored outputs are older than the commit's files: a build tool rebuilds what they feed.
    expect(second.log).toContain("OUTPUT-OLDER");
  });

  it("rebuilds exactly what the commits' differences feed, going forward and back", async () => {
    // check.sh is the same in every commit, version.txt differs in each: make remakes mk/v only.
    const setup = [
      "printf 'mk/a: check.sh\\n\\tmkdir -p mk; cp check.sh mk/a; echo MADE-A\\n' >/tmp/mf",
      "printf 'mk/v: version.txt\\n\\tmkdir -p mk; cp version.txt mk/v; echo MADE-V\\n' >>/tmp/mf",
      "make -s -f /tmp/mf mk/a mk/v",
    ].join("\n");
    const build = (sha: number) =>
      step(sha, { setup, cachePaths: ["mk"], command: "echo v=$(cat mk/v)" });
    const first = await build(0);
    expect(first.log).toContain("MADE-A");
    expect(first.log).toContain("MADE-V");
    for (const sha of [2, 1]) {
      const r = await build(sha);
      expect(r.log).toContain("bisect-runner: restored mk from the cache");
      expect(r.log).toContain("MADE-V");
      expect(r.log).not.toContain("MADE-A");
      expect(r.log).toContain(`v=${sha}`);
    }
  });

  it("rebuilds whatever the commit's files feed where the image has no git to tell what changed", async () => {
    const probe = (sha: number) =>
      step(sha, {
        image: NO_GIT_IMAGE,
        setup: "[ -e nogit/o ] || { mkdir -p nogit && echo out >nogit/o; }",
        cachePaths: ["nogit"],
        command: "[ nogit/o -ot check.sh ] && echo OUTPUT-OLDER-THAN-UNCHANGED",
      });
    await probe(0);
    const r = await probe(1);
    expect(r.log).toContain("bisect-runner: restored nogit from the cache");
    expect(r.log).toContain("OUTPUT-OLDER-THAN-UNCHANGED");
  });

  it("leaves a restored virtualenv's Python files their dates, so their bytecode stays valid", async () => {
    // Python compiles a module again when its .py is dated otherwise than its .pyc records.
    const venv = (sha: number, image?: string) =>
      step(sha, {
        ...(image ? { image } : {}),
        setup: [
          "if [ ! -d venv ]; then mkdir -p venv/lib/__pycache__ venv/bin;",
          "echo X=1 >venv/lib/m.py; echo code >venv/lib/__pycache__/m.cpython-311.pyc; echo tool >venv/bin/tool;",
          "touch -d @1000000000 venv/lib/m.py venv/lib/__pycache__/m.cpython-311.pyc venv/bin/tool; fi",
        ].join(" "),
        cachePaths: ["venv"],
        command:
          'for f in venv/lib/m.py venv/lib/__pycache__/m.cpython-311.pyc venv/bin/tool; do echo "$f $(date -r $f +%s)"; done',
      });
    for (const image of [undefined, NO_GIT_IMAGE]) {
      await venv(0, image);
      const r = await venv(1, image);
      expect(r.log).toContain("bisect-runner: restored venv from the cache");
      expect(r.log).toContain("venv/lib/m.py 1000000000");
      expect(r.log).toContain("venv/lib/__pycache__/m.cpython-311.pyc 1000000000");
      // Anything else is re-dated as for any output (now with git, 2000-01-01 without).
      expect(r.log).toMatch(/^venv\/bin\/tool (?!1000000000)\d+$/m);
    }
  });

  it("never restores over what the commit itself has", async () => {
    const first = await step(0, { setup: "true", cachePaths: ["version.txt"], command: "true" });
    expect(first.log).toContain("bisect-runner: saved version.txt to the cache");
    const second = await step(1, {
      setup: "true",
      cachePaths: ["version.txt"],
      command: "cat version.txt",
    });
    expect(second.log).toContain("version.txt is in the commit: not restored from the cache");
    expect(second.log).toMatch(/^1$/m);
  });

  it("never keeps what the test changed, in one container or in two", async () => {
    const tamper =
      "echo tampered >build/stamp; if echo x >/cache/paths/from-test 2>/dev/null; then echo TEST-WROTE-CACHE; else echo TEST-DENIED; fi";
    // Setup and test in one container (both offline).
    const together = await step(2, { setup: BUILD, cachePaths: ["build"], command: tamper });
    expect(together.exitCode).toBe(0);
    expect(together.log).toContain("REUSED built-at-0");
    // Setup online, test in a container of its own with the cache read-only.
    const apart = await step(2, {
      setup: BUILD,
      setupNetwork: true,
      cachePaths: ["build"],
      command: tamper,
    });
    expect(apart.exitCode).toBe(0);
    expect(apart.log).toContain("REUSED built-at-0");
    expect(apart.log).toContain("TEST-DENIED");
    const after = await step(3, { setup: BUILD, cachePaths: ["build"], command: "true" });
    expect(after.log).toContain("REUSED built-at-0");
    expect(after.log).not.toContain("tampered");
  });

  it("keeps one whole save when two steps save at once", async () => {
    // Same second, and likely the same pid in both containers: each save is its own version.
    const save = (n: number) =>
      step(n, {
        setup: `mkdir -p pair && for i in 1 2 3 4 5 6 7 8; do echo ${n} >pair/f$i; done`,
        cachePaths: ["pair"],
        command: "true",
      });
    const both = await Promise.all([save(1), save(2)]);
    for (const r of both) expect(r.log).toContain("bisect-runner: saved pair to the cache");
    const next = await step(3, {
      setup: "cat pair/f*",
      cachePaths: ["pair"],
      command: "true",
    });
    expect(next.log).toContain("bisect-runner: restored pair from the cache");
    // All eight files from one of the two saves, never a mix.
    expect(next.log).toMatch(/^(1\n){8}|^(2\n){8}/m);
  });

  it("saves nothing from a setup that failed", async () => {
    const failed = await step(0, {
      setup: "mkdir -p out && echo partial >out/f && exit 3",
      cachePaths: ["out"],
      command: "true",
    });
    expect(failed.exitCode).toBe(125);
    expect(failed.log).not.toContain("saved out");
    const next = await step(1, {
      setup: "cat out/f 2>/dev/null || echo NOTHING-RESTORED",
      cachePaths: ["out"],
      command: "true",
    });
    expect(next.log).toContain("NOTHING-RESTORED");
    expect(next.log).not.toContain("partial");
  });

  it("gives a run without a setup (all test) a read-only cache", async () => {
    const r = await step(0, {
      cachePaths: ["build"],
      command:
        "ls /cache >/dev/null && if touch /cache/from-test 2>/dev/null; then echo WROTE; else echo DENIED; fi; [ -e build ] && echo HAS-BUILD || echo NO-BUILD",
    });
    expect(r.exitCode).toBe(0);
    expect(r.log).toContain("DENIED");
    // Restoring is the setup's part: without one, the checkout is as the commit has it.
    expect(r.log).toContain("NO-BUILD");
  });
});
