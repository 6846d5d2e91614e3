import { describe, expect, it } from "vitest";
import type { BisectJob } from "../../db/models";
import { cacheVolumeOf } from "./caches";
import { mirrorVolumeOf, repoKeyOf } from "./mirrors";

// Two deployments may share a runner host, and each numbers its installations and repositories
// from 1: the volumes on the host must tell them apart.
describe("volume names on a runner host", () => {
  const job = { installationId: 1, repositoryId: 1, repoUrl: null } as BisectJob;
  const here = { instanceId: "deployment-a" };
  const there = { instanceId: "deployment-b" };

  it("gives each deployment its own mirror of its repository 1", () => {
    const key = repoKeyOf(job);
    expect(mirrorVolumeOf(here, key)).toMatch(/^bisect-mirror-[0-9a-f]{24}$/);
    expect(mirrorVolumeOf(here, key)).toBe(mirrorVolumeOf(here, key));
    expect(mirrorVolumeOf(here, key)).not.toBe(mirrorVolumeOf(there, key));
  });

  it("gives each deployment, installation and repository its own cache", () => {
    expect(cacheVolumeOf(here, job)).toMatch(/^bisect-cache-[0-9a-f]{24}$/);
    expect(cacheVolumeOf(here, job)).not.toBe(cacheVolumeOf(there, job));
    expect(cacheVolumeOf(here, job)).not.toBe(cacheVolumeOf(here, { ...job, repositoryId: 2 }));
    expect(cacheVolumeOf(here, job)).not.toBe(cacheVolumeOf(here, { ...job, installationId: 2 }));
  });
});
