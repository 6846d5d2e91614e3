// A repository's dependency cache on a runner host: a Docker volume, mounted at /cache in its
// runs, where the usual tools keep their caches (CACHE_ENV). One volume per repository and host —
// the caller names it, and never gives one repository's volume to another. A new volume is made
// writable by the runs' uid by mounting it once where the checkout image has a directory of that
// uid (the engine copies the directory's owner into an empty volume).
import { createHash } from "node:crypto";
import type Docker from "dockerode";
import { describeDockerError, statusOf } from "../docker/connect";
import { InfrastructureError } from "../errors";
import { APP_LABEL, CACHE_LABEL } from "../labels";
import { removeContainer } from "./removal";

export const CACHE_PATH = "/cache";

/** The tools' caches inside /cache (over the work directory's, TOOL_CACHES). */
export const CACHE_ENV: Readonly<Record<string, string>> = {
  npm_config_cache: `${CACHE_PATH}/npm`,
  YARN_CACHE_FOLDER: `${CACHE_PATH}/yarn`,
  PNPM_STORE_DIR: `${CACHE_PATH}/pnpm`,
  PIP_CACHE_DIR: `${CACHE_PATH}/pip`,
  CARGO_HOME: `${CACHE_PATH}/cargo`,
  GOMODCACHE: `${CACHE_PATH}/go/mod`,
  GOCACHE: `${CACHE_PATH}/go/build`,
  CCACHE_DIR: `${CACHE_PATH}/ccache`,
};

/** The cache volume of a repository key (one repository of one installation). */
export function cacheVolumeName(repoKey: string): string {
  return `bisect-cache-${createHash("sha256").update(repoKey).digest("hex").slice(0, 24)}`;
}

/** Make the volume when missing, owned by the runs' uid. */
export async function ensureCacheVolume(
  docker: Docker,
  volume: string,
  options: { image: string; labels: Record<string, string>; engine: string },
): Promise<void> {
  try {
    await docker.getVolume(volume).inspect();
    return;
  } catch (err) {
    if (statusOf(err) !== 404)
      throw new InfrastructureError(
        `inspecting cache volume ${volume} on ${options.engine} failed: ${describeDockerError(err)}`,
      );
  }
  let container: Docker.Container | undefined;
  try {
    // Not the run's labels: a cache outlives its job (a reaper removes a job's volumes).
    await docker.createVolume({ Name: volume, Labels: { ...APP_LABEL, [CACHE_LABEL]: volume } });
    // /work of the checkout image belongs to uid 1000: mounted there, the empty volume takes it.
    container = await docker.createContainer({
      Image: options.image,
      Cmd: ["true"],
      Entrypoint: [],
      Labels: { ...options.labels, ...APP_LABEL },
      HostConfig: {
        NetworkMode: "none",
        Mounts: [{ Type: "volume", Source: volume, Target: "/work" }],
      },
    });
  } catch (err) {
    throw new InfrastructureError(
      `making cache volume ${volume} on ${options.engine} failed: ${describeDockerError(err)}`,
    );
  } finally {
    if (container) await removeContainer(container, options.engine);
  }
}
