// The mounts of a run's container: the repository, read-only at /mirror, and the run's work
// directory (its /work and /tmp), a directory of a checkout box's volume. Pure: what the engine
// knows (a volume's directory, its API version) is asked through `EngineFacts`.
import type Docker from "dockerode";
import { InfrastructureError } from "../errors";
import type { EngineFacts } from "./engine-facts";
import type { RepoSource } from "./types";

/** Where the repository is mounted in every container that sees it. */
export const MIRROR_PATH = "/mirror";

/** `mount`, read-only: the one way a read-only mount is made. */
export function readOnly(mount: Docker.MountSettings): Docker.MountSettings {
  return { ...mount, ReadOnly: true };
}

/**
 * The directory `sub` of a volume at `target`. API ≥ 1.45 mounts the volume with a subpath, so
 * nothing else of the volume is visible; older engines bind the local volume's directory.
 */
export function volumeDirMount(
  volume: { name: string; mountpoint: string },
  sub: string,
  target: string,
  subpathMounts: boolean,
): Docker.MountSettings {
  if (subpathMounts)
    return {
      Type: "volume",
      Source: volume.name,
      Target: target,
      VolumeOptions: { NoCopy: true, Subpath: sub } as Docker.MountSettings["VolumeOptions"],
    };
  return {
    Type: "bind",
    Source: `${volume.mountpoint}/${sub}`,
    Target: target,
    // The engine insists on slave propagation for binds from inside its own data root.
    BindOptions: { Propagation: "rslave" },
  };
}

/** A run directory `runId` of a checkout box's volume as the run's /work and /tmp. */
export function workDirMounts(
  volume: { name: string; mountpoint: string },
  runId: string,
  subpathMounts: boolean,
): Docker.MountSettings[] {
  return [
    volumeDirMount(volume, runId, "/work", subpathMounts),
    volumeDirMount(volume, `${runId}/tmp`, "/tmp", subpathMounts),
  ];
}

/** The read-only /mirror mount for a repository source, and the repository's path inside it. */
export async function mirrorMount(
  repo: RepoSource,
  engine: EngineFacts,
): Promise<{ mounts: Docker.MountSettings[]; mirrorDir: string }> {
  const target = MIRROR_PATH;
  const one = (mount: Docker.MountSettings) => ({ mounts: [readOnly(mount)], mirrorDir: target });
  if (repo.kind === "host-path") {
    if (!repo.path.startsWith("/"))
      throw new InfrastructureError(`repository path must be absolute: ${repo.path}`);
    return one({
      Type: "bind",
      Source: repo.path,
      Target: target,
      BindOptions: { Propagation: "rprivate" },
    });
  }
  const subpath = repo.subpath?.replace(/^\/+|\/+$/g, "") ?? "";
  if (subpath && subpath.split("/").some((part) => part === ".." || part === "." || part === "")) {
    throw new InfrastructureError(`invalid volume subpath: ${repo.subpath}`);
  }
  const volume = await engine.volume(repo.name);
  if (!subpath) {
    return one({
      Type: "volume",
      Source: repo.name,
      Target: target,
      VolumeOptions: { NoCopy: true } as Docker.MountSettings["VolumeOptions"],
    });
  }
  // Only the repository's own directory is visible, not the other mirrors in the volume.
  const subpathMounts = (await engine.apiVersion()) >= 1.45;
  // Older engines cannot mount a volume's subdirectory; a local volume's directory can be bound.
  if (!subpathMounts && (volume.driver !== "local" || !volume.mountpoint.startsWith("/"))) {
    throw new InfrastructureError(
      `volume ${repo.name}: mounting subpath ${subpath} needs Docker API 1.45 or a local volume (driver ${volume.driver})`,
    );
  }
  return one(volumeDirMount({ name: repo.name, ...volume }, subpath, target, subpathMounts));
}
