// A real image registry for tests (Debian's docker-registry, the distribution registry v2) on
// 127.0.0.1, with its storage in a temp dir. Engines treat registries on 127.0.0.0/8 as insecure
// (plain HTTP allowed), so an engine pulls from it exactly as it pulls from Docker Hub.
//
// One registry serves a whole test run (started by the global setup, its address given to the
// test files as `imageRegistry`); a file that runs alone without it starts its own.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type Docker from "dockerode";
import { freePort } from "../../db/embedded";

export interface LocalRegistry {
  /** `127.0.0.1:port`: the registry part of image references. */
  address: string;
  stop(): Promise<void>;
}

export const hasDockerRegistry = () =>
  spawnSync("sh", ["-c", "command -v docker-registry"]).status === 0;

async function waitForRegistry(address: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}`);
    const ok = await fetch(`http://${address}/v2/`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the registry on ${address} did not answer within 60 s`);
}

/** Start a registry on a free loopback port (another one when the port was taken meanwhile). */
export async function startRegistry(): Promise<LocalRegistry> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce();
    } catch (error) {
      if (attempt >= 5 || !/exited/.test(String(error))) throw error;
    }
  }
}

async function startOnce(): Promise<LocalRegistry> {
  const dir = mkdtempSync(path.join(tmpdir(), "bisect-registry-"));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  writeFileSync(
    path.join(dir, "config.yml"),
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: ${address}\n`,
  );
  const child = spawn("docker-registry", ["serve", path.join(dir, "config.yml")], {
    stdio: "ignore",
  });
  try {
    await waitForRegistry(address, child);
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    address,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Follow a push or pull stream of `docker` to its end; rejects on the first error message. */
export function followStream(docker: Docker, stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string }>) => {
      const failed = err ?? out.find((m) => m.error)?.error;
      if (failed) reject(failed instanceof Error ? failed : new Error(String(failed)));
      else resolve();
    }),
  );
}

/**
 * Push the local image `localTag` of `docker` to `reference` (`127.0.0.1:port/repo:tag`). The
 * engine keeps no name for it afterwards unless `keepName`: an engine that has to run it pulls it.
 */
export async function pushImage(
  docker: Docker,
  localTag: string,
  reference: string,
  options: { keepName?: boolean } = {},
): Promise<void> {
  const colon = reference.lastIndexOf(":");
  const repo = reference.slice(0, colon);
  const tag = reference.slice(colon + 1);
  const registry = reference.slice(0, reference.indexOf("/"));
  await docker.getImage(localTag).tag({ repo, tag });
  try {
    const stream = await docker
      .getImage(reference)
      .push({ authconfig: { serveraddress: registry } });
    await followStream(docker, stream);
  } finally {
    if (!options.keepName)
      await docker
        .getImage(reference)
        .remove({ noprune: true })
        .catch(() => {});
  }
}
