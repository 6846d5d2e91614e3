// Pulling any image from a real registry (Debian's docker-registry on 127.0.0.1, the test run's
// own: tests/helpers/registry.ts; engines treat 127.0.0.0/8 registries as insecure-allowed): an image built
// FROM debian:bookworm-slim on host 1 is pushed there and pulled into the TLS engine, which does not
// have it; concurrent resolutions share one pull; the policy refuses what it does not allow; a run
// on the pinned reference bisects. Skipped when docker-registry is not installed (outside CI).
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  hasDockerRegistry,
  pushImage,
  startRegistry,
  type LocalRegistry,
} from "../../tests/helpers/registry";
import { DockerExecutor } from "../executors/docker-executor";
import { runOnce } from "../executors/run-once";
import {
  dockerRequired,
  enginesUnderTest,
  makeRepo,
  specFor,
  type TestRepo,
} from "../executors/test-support";
import { ensureRunnerImage } from "../image";
import { ImageRefusedError, resolveImage } from "./pull";
import { ensureGitTestImage, GIT_IMAGE } from "./test-images";

const engines = await enginesUnderTest();
const [host1, tls] = engines;
const hasRegistry = hasDockerRegistry();
const ready = host1?.docker && tls?.docker && hasRegistry;
const why = !hasRegistry
  ? "docker-registry is not installed"
  : (host1?.unavailable ?? tls?.unavailable);

if (!ready && dockerRequired) {
  describe("pulling images from a registry", () => {
    it("has docker-registry and two engines (required in CI)", () => {
      throw new Error(`required in CI: ${why}`);
    });
  });
} else if (!ready) {
  describe.skip(`pulling images from a registry (skipped: ${why})`, () => {
    it("needs docker-registry and two engines", () => {});
  });
} else {
  describe("pulling images from a registry", () => suite(host1.docker!, tls.docker!));
}

function suite(source: Docker, target: Docker): void {
  let own: LocalRegistry | undefined;
  let port: number;
  let image: string;
  let repo: TestRepo;
  const run = randomUUID().slice(0, 8);

  beforeAll(async () => {
    let address = inject("imageRegistry");
    if (!address) address = (own = await startRegistry()).address;
    port = Number(address.split(":")[1]);
    await ensureRunnerImage(source);
    await ensureRunnerImage(target, { source, networkMode: "host" });
    await ensureGitTestImage(source);
    // A repository name unique to this run: the target engine never has it before the pull.
    image = `127.0.0.1:${port}/bisect-test/git-${run}:v1`;
    await pushImage(source, GIT_IMAGE, image);
    repo = makeRepo(6, 4);
  }, 900_000);

  afterAll(async () => {
    await target
      .getImage(image)
      .remove({ force: true })
      .catch(() => {});
    await own?.stop();
    if (repo) rmSync(repo.dir, { recursive: true, force: true });
  });

  const policy = () => ({ allow: [`127.0.0.1:${port}/bisect-test/*`] });

  it("pulls a missing image once for concurrent callers, pins it by digest, and runs on it", async () => {
    await expect(target.getImage(image).inspect()).rejects.toMatchObject({ statusCode: 404 });
    const progress: string[] = [];
    const [a, b] = await Promise.all([
      resolveImage(target, image, { policy: policy(), onProgress: (l) => progress.push(l) }),
      resolveImage(target, image, { policy: policy(), onProgress: (l) => progress.push(l) }),
    ]);
    expect(a).toBe(b); // one pull, shared
    expect(a.pulled).toBe(true);
    expect(a.pinned).toMatch(
      new RegExp(`^127\\.0\\.0\\.1:${port}/bisect-test/git-${run}@sha256:[0-9a-f]{64}$`),
    );
    expect(progress.some((l) => l.startsWith(`pulling ${image}`))).toBe(true);
    expect(progress).toContain(`waiting for the pull of ${image}`);

    const again = await resolveImage(target, image, { policy: policy() });
    expect(again).toMatchObject({ pulled: false, pinned: a.pinned, id: a.id });

    const executor = new DockerExecutor(target, { name: "tls-host" });
    try {
      for (const [i, sha] of repo.shas.entries()) {
        const r = await runOnce(
          executor,
          specFor(repo, {
            sha,
            image: a.pinned,
            command: "git rev-parse HEAD >/dev/null && sh check.sh",
          }),
        );
        expect(r.exitCode).toBe(i >= 4 ? 1 : 0);
      }
    } finally {
      await executor.close();
    }
  }, 300_000);

  it("names the runner image it already has under another tag instead of copying or building it", async () => {
    const latest = await ensureRunnerImage(target, { source, networkMode: "host" });
    const tag = `bisect-runner:alias-${run}`;
    try {
      const alias = await ensureRunnerImage(target, { tag, source, networkMode: "host" });
      expect(alias).toMatchObject({ action: "tagged", id: latest.id, hash: latest.hash });
    } finally {
      await target
        .getImage(tag)
        .remove({ noprune: true })
        .catch(() => {});
    }
  }, 300_000);

  it("refuses images the policy does not allow, too large, or absent, with a clear error", async () => {
    await expect(
      resolveImage(target, "docker.io/library/node:20", { policy: policy() }),
    ).rejects.toThrow(
      /node:20 is not allowed on this runner \(allowed: 127\.0\.0\.1:\d+\/bisect-test\/\*\)/,
    );
    await expect(resolveImage(target, "Not A Ref", { policy: policy() })).rejects.toBeInstanceOf(
      ImageRefusedError,
    );
    await expect(
      resolveImage(target, `127.0.0.1:${port}/bisect-test/absent-${run}:v1`, { policy: policy() }),
    ).rejects.toThrow(/not found/);
    await target
      .getImage(image)
      .remove({ force: true })
      .catch(() => {});
    await expect(
      resolveImage(target, image, { policy: { ...policy(), maxBytes: 1024 * 1024 } }),
    ).rejects.toThrow(/larger than the 1 MB|over the 1 MB/);
    await expect(target.getImage(image).inspect()).rejects.toMatchObject({ statusCode: 404 });
  }, 300_000);
}
