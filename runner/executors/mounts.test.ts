import { describe, expect, it } from "vitest";
import { connectDocker } from "../docker/connect";
import { InfrastructureError } from "../errors";
import { EngineFacts } from "./engine-facts";
import { mirrorMount, readOnly, volumeDirMount, workDirMounts } from "./mounts";

// Host paths need no engine: an engine that does not exist proves no call is made.
const noEngine = () => new EngineFacts(connectDocker("unix:///nonexistent/docker.sock"), "none");
const volume = { name: "box-vol", mountpoint: "/var/lib/docker/volumes/box-vol/_data" };

describe("mounts", () => {
  it("mounts a host repository read-only at /mirror, privately", async () => {
    expect(await mirrorMount({ kind: "host-path", path: "/srv/repo" }, noEngine())).toEqual({
      mounts: [
        {
          Type: "bind",
          Source: "/srv/repo",
          Target: "/mirror",
          BindOptions: { Propagation: "rprivate" },
          ReadOnly: true,
        },
      ],
      mirrorDir: "/mirror",
    });
  });

  it("refuses a relative repository path and a subpath that climbs out", async () => {
    await expect(mirrorMount({ kind: "host-path", path: "repo" }, noEngine())).rejects.toThrow(
      InfrastructureError,
    );
    await expect(
      mirrorMount({ kind: "volume", name: "m", subpath: "a/../b" }, noEngine()),
    ).rejects.toThrow(/invalid volume subpath/);
  });

  it("mounts a volume's directory with a subpath on new engines, as a bind on old ones", () => {
    expect(volumeDirMount(volume, "run-1", "/work", true)).toEqual({
      Type: "volume",
      Source: "box-vol",
      Target: "/work",
      VolumeOptions: { NoCopy: true, Subpath: "run-1" },
    });
    expect(volumeDirMount(volume, "run-1", "/work", false)).toEqual({
      Type: "bind",
      Source: `${volume.mountpoint}/run-1`,
      Target: "/work",
      BindOptions: { Propagation: "rslave" },
    });
  });

  it("gives a run its directory as /work and its tmp subdirectory as /tmp, writable", () => {
    const mounts = workDirMounts(volume, "run-1", true);
    expect(mounts.map((m) => [m.Target, m.VolumeOptions?.Subpath, m.ReadOnly])).toEqual([
      ["/work", "run-1", undefined],
      ["/tmp", "run-1/tmp", undefined],
    ]);
    expect(readOnly(mounts[0]!).ReadOnly).toBe(true);
  });
});
