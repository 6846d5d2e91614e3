// Pulling any image from a real registry (Debian's docker-registry, run on 127.0.0.1 with its own
// config in a temp dir; engines treat 127.0.0.0/8 registries as insecure-allowed): an image built
// FROM debian:bookworm-slim on host 1 is pushed there and pulled into the TLS engine, which does not
// have it; concurrent resolutions share one pull; the policy refuses what it does not allow; a run
// on the pinned reference bisects. Skipped when docker-registry is not installed (outside CI).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerExecutor } from "../executors/docker-executor.js";
import { runOnce } from "../executors/run-once.js";
import {
  dockerRequired,
  enginesUnderTest,
  makeRepo,
  specFor,
  type TestRepo,
} from "../executors/test-support.js";
import { ensureRunnerImage } from "../image.js";
import { ImageRefusedError, resolveImage } from "./pull.js";
import { ensureGitTestImage, GIT_IMAGE } from "./test-images.js";

const engines = await enginesUnderTest();
const [host1, tls] = engines;
const hasRegistry = spawnSync("sh", ["-c", "command -v docker-registry"]).status === 0;
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

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

async function waitForRegistry(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("the registry did not start");
}

function suite(source: Docker, target: Docker): void {
  let dir: string;
  let registry: ChildProcess;
  let port: number;
  let image: string;
  let repo: TestRepo;
  const run = randomUUID().slice(0, 8);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "bisect-registry-"));
    port = await freePort();
    writeFileSync(
      path.join(dir, "config.yml"),
      `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`,
    );
    registry = spawn("docker-registry", ["serve", path.join(dir, "config.yml")], {
      stdio: "ignore",
    });
    await waitForRegistry(port);
    await ensureRunnerImage(source);
    await ensureRunnerImage(target, { source, networkMode: "host" });
    await ensureGitTestImage(source);
    // A repository name unique to this run: the target engine never has it before the pull.
    image = `127.0.0.1:${port}/bisect-test/git-${run}:v1`;
    await source
      .getImage(GIT_IMAGE)
      .tag({ repo: `127.0.0.1:${port}/bisect-test/git-${run}`, tag: "v1" });
    const pushed = await source
      .getImage(image)
      .push({ authconfig: { serveraddress: `127.0.0.1:${port}` } });
    await new Promise<void>((resolve, reject) =>
      source.modem.followProgress(pushed, (err: Error | null, out: Array<{ error?: string }>) => {
        const failed = err ?? out.find((m) => m.error)?.error;
        if (failed) reject(failed instanceof Error ? failed : new Error(String(failed)));
        else resolve();
      }),
    );
    repo = makeRepo(6, 4);
  }, 900_000);

  afterAll(async () => {
    await target
      .getImage(image)
      .remove({ force: true })
      .catch(() => {});
    await source
      .getImage(image)
      .remove({ force: false })
      .catch(() => {});
    registry?.kill("SIGTERM");
    if (dir) rmSync(dir, { recursive: true, force: true });
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
