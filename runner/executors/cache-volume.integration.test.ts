// A repository's dependency cache: what one job's setup leaves in it, the next job of the same
// repository finds (ccache's compilations and Go's build cache among it); another repository's runs
// never see it; the test of a run whose setup has a container of its own cannot change it.
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureRunnerImage } from "../image";
import { ensureStandInImage } from "../images/test-images";
import { DEFAULT_ECOSYSTEMS } from "../settings/ecosystems";
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

describe.skipIf(!docker && !dockerRequired)("repository caches", () => {
  let a: TestRepo;
  let b: TestRepo;
  const volumeA = `bisect-cache-test-a-${randomUUID().slice(0, 8)}`;
  const volumeB = `bisect-cache-test-b-${randomUUID().slice(0, 8)}`;
  const SETUP =
    'if [ -f /cache/marker ]; then echo "WARM $(cat /cache/marker)"; else echo COLD; echo "$REPO" > /cache/marker; fi';

  beforeAll(async () => {
    if (!docker) throw new Error(`Docker engine required in CI: ${host1?.unavailable}`);
    await ensureRunnerImage(docker);
    a = makeRepo(2);
    b = makeRepo(2);
  }, 900_000);

  afterAll(async () => {
    if (docker) {
      await removeLabelled(docker, testLabel);
      for (const v of [volumeA, volumeB])
        await docker
          .getVolume(v)
          .remove()
          .catch(() => {});
    }
    for (const r of [a, b]) if (r) rmSync(r.dir, { recursive: true, force: true });
  });

  // Each job has its own executor, as on the farm.
  const job = async (repo: TestRepo, overrides: SpecOverrides) => {
    const executor = new DockerExecutor(docker!, { name: "cache" });
    try {
      return await runOnce(executor, specFor(repo, { ...overrides, labels: testLabel }));
    } finally {
      await executor.close();
    }
  };

  it("is warm for the repository's next job and cold for another repository", async () => {
    const first = await job(a, {
      cacheVolume: volumeA,
      env: { REPO: "a" },
      setup: SETUP,
      command: 'echo "npm=$npm_config_cache"',
    });
    expect(first.exitCode).toBe(0);
    expect(first.log).toContain("COLD");
    expect(first.log).toContain("npm=/cache/npm");
    const second = await job(a, { cacheVolume: volumeA, env: { REPO: "a" }, setup: SETUP });
    expect(second.log).toContain("WARM a");
    const other = await job(b, { cacheVolume: volumeB, env: { REPO: "b" }, setup: SETUP });
    expect(other.log).toContain("COLD");
    expect(other.log).not.toContain("WARM");
  });

  it.each([
    ["an online setup", { setupNetwork: true }],
    ["an offline setup", {}],
  ])("is writable in the setup and read-only in the test, after %s", async (_, network) => {
    const r = await job(a, {
      cacheVolume: volumeA,
      ...network,
      setup: "echo setup > /cache/from-setup && echo SETUP-WROTE",
      command: [
        "cat /cache/from-setup",
        "if echo test > /cache/from-test 2>/dev/null; then echo TEST-WROTE; else echo TEST-DENIED; fi",
        // Go refuses to build with a read-only build cache: the test's is its own.
        'mkdir -p "$GOCACHE" && touch "$GOCACHE/probe" && echo "GOCACHE-WRITABLE $GOCACHE"',
        'echo "GOMODCACHE=$GOMODCACHE"',
      ].join("; "),
    });
    expect(r.exitCode).toBe(0);
    expect(r.log).toContain("SETUP-WROTE");
    expect(r.log).toContain("setup\n");
    expect(r.log).toContain("TEST-DENIED");
    expect(r.log).not.toContain("TEST-WROTE");
    expect(r.log).toContain("GOCACHE-WRITABLE /work/");
    expect(r.log).toContain("GOMODCACHE=/cache/go/mod");
  });

  it("gives a Go test what its setup compiled, so it compiles nothing, and keeps it from the shared cache", async () => {
    const image = await ensureStandInImage(docker!, "golang:1-bookworm");
    // A module with a test, written by the setup into the checkout, then the zero-configuration
    // Go setup (which compiles the tests) or a bare `go mod download`.
    const module = [
      "printf 'module example.com/twice\\n\\ngo 1.19\\n' > go.mod",
      "printf 'package twice\\n\\nfunc Twice(x int) int { return 2 * x }\\n' > twice.go",
      "printf 'package twice\\n\\nimport \"testing\"\\n\\nfunc TestTwice(t *testing.T) {\\n\\tif Twice(2) != 4 {\\n\\t\\tt.Fatal(Twice(2))\\n\\t}\\n}\\n' > twice_test.go",
    ].join("\n");
    const goSetup = DEFAULT_ECOSYSTEMS.find((r) => r.ecosystem === "Go")!.setup;
    const command = [
      "go test -x ./... > ../go.log 2>&1; r=$?",
      "echo \"compiles $(grep -c 'pkg/tool/.*/compile ' ../go.log)\"",
      "grep '^ok' ../go.log",
      'echo "GOCACHE=$GOCACHE"',
      "if touch /cache/go/build/probe 2>/dev/null; then echo SHARED-WRITTEN; else echo SHARED-READ-ONLY; fi",
      "exit $r",
    ].join("; ");
    const goRun = (volume: string, setup: string) =>
      job(a, {
        image,
        cacheVolume: volume,
        setup: `${module}\n${setup}`,
        command,
        timeoutMs: 600_000,
        limits: { memoryBytes: 1024 * 1024 * 1024, workBytes: 512 * 1024 * 1024 },
      });
    const warm = `bisect-cache-test-go-${randomUUID().slice(0, 8)}`;
    const bare = `bisect-cache-test-go-${randomUUID().slice(0, 8)}`;
    try {
      const r = await goRun(warm, goSetup);
      expect(r.log).toContain("ok  \texample.com/twice");
      expect(r.exitCode).toBe(0);
      expect(r.log).toContain("compiles 0");
      expect(r.log).toContain("GOCACHE=/work/.cache/go-build");
      expect(r.log).toContain("SHARED-READ-ONLY");
      // With a setup that compiles nothing, the test compiles the package itself.
      const cold = await goRun(bare, "go mod download");
      expect(cold.log).toContain("ok  \texample.com/twice");
      expect(cold.log).toMatch(/compiles [1-9]/);
    } finally {
      for (const v of [warm, bare])
        await docker!
          .getVolume(v)
          .remove()
          .catch(() => {});
    }
  }, 900_000);

  it("keeps the runner image's C compilations, so the next step's build of the same code is a hit", async () => {
    const volume = `bisect-cache-test-cc-${randomUUID().slice(0, 8)}`;
    // A plain `cc` in a make-style setup: nothing in it names ccache.
    const setup = [
      "mkdir -p build && printf 'int twice(int x) { return 2 * x; }\\n' > build/twice.c",
      "cc -O2 -c build/twice.c -o build/twice.o",
      "ccache --print-stats | grep -E '^(direct_cache_hit|cache_miss)'",
    ].join(" && ");
    try {
      const first = await job(a, { cacheVolume: volume, setup, command: "test -f build/twice.o" });
      expect(first.exitCode).toBe(0);
      expect(first.log).toMatch(/cache_miss\t1/);
      const second = await job(a, { cacheVolume: volume, setup, command: "test -f build/twice.o" });
      expect(second.exitCode).toBe(0);
      expect(second.log).toMatch(/direct_cache_hit\t1/);
      // Without the repository's cache, nothing is kept: the third build compiles again.
      const alone = await job(a, { setup, command: "test -f build/twice.o" });
      expect(alone.log).toMatch(/direct_cache_hit\t0/);
    } finally {
      await docker!
        .getVolume(volume)
        .remove()
        .catch(() => {});
    }
  });
});
