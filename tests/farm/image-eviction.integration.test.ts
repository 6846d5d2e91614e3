// Images of jobs on a real engine with a real registry. A pull a job waits for is shown on the job
// while it lasts and recorded per host. images__evict: images the product pulled for jobs and no
// job used for RUNNER_IMAGE_EVICT_DAYS leave the runner host; one used recently stays, one a
// container uses stays, the runner image stays, and an image the product did not pull stays.
import { randomUUID } from "node:crypto";
import { Model } from "objection";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../config/env";
import { evictImages } from "../../jobs/farm/evict-images";
import { recordUse, resolveJobImage } from "../../jobs/farm/images";
import { createJob } from "../../jobs/bisection/intake";
import { BisectJob, RunnerHost } from "../../db/models";
import type { WorkerContext } from "../../jobs/worker-context";
import { registerHost } from "../../jobs/farm/hosts";
import { buildImage, contextHash, runnerBuildContext } from "../../runner/image";
import { resolveImage } from "../../runner/images/pull";
import { ensureGitTestImage, GIT_IMAGE } from "../../runner/images/test-images";
import { useTestDatabase } from "../helpers/database";
import { dockerRequired, ensureImageEverywhere, tlsEngines } from "../helpers/engines";
import {
  hasDockerRegistry,
  pushImage,
  startRegistry,
  type LocalRegistry,
} from "../helpers/registry";

const { engines, problem: engineProblem } = await tlsEngines();
const problem =
  engineProblem ?? (hasDockerRegistry() ? undefined : "docker-registry is not installed");
if (problem && dockerRequired) throw new Error(`required in CI: ${problem}`);
const suite = problem ? describe.skip : describe;
const db = useTestDatabase();

suite("evicting unused images", () => {
  const run = randomUUID().slice(0, 8);
  let registry: LocalRegistry | undefined;
  let address: string;
  let ctx: Pick<WorkerContext, "knex" | "config">;
  let hostId: number;
  const runnerImage = `bisect-runner:${runnerBuildContext().hash.slice(0, 12)}`;
  const ref = (kind: string) => `${address}/bisect-test/evict-${kind}-${run}:v1`;
  const kinds = ["old", "recent", "busy", "foreign"] as const;
  let busyContainer: string | undefined;

  beforeAll(async () => {
    Model.knex(db.current.knex);
    address = inject("imageRegistry") || (registry = await startRegistry()).address;
    const [source, target] = engines;
    await ensureImageEverywhere(engines, runnerImage);
    await ensureGitTestImage(source!.docker);
    // Four different images (a label each), pushed, then pulled by the target as jobs would.
    for (const kind of kinds) {
      const files = [
        {
          name: "Dockerfile",
          content: `FROM ${GIT_IMAGE}\nLABEL bisect-test.evict=${kind}-${run}\n`,
          mode: 0o644,
        },
      ];
      const local = `bisect-test-evict-${kind}:${run}`;
      await buildImage(source!.docker, local, { files, hash: contextHash(files) });
      await pushImage(source!.docker, local, ref(kind));
      await source!.docker
        .getImage(local)
        .remove()
        .catch(() => {});
    }
    // One with a layer of its own (random bytes), so that pulling it downloads something.
    const files = [
      {
        name: "Dockerfile",
        content: `FROM ${GIT_IMAGE}\nRUN head -c 8000000 /dev/urandom > /blob-${run}\n`,
        mode: 0o644,
      },
    ];
    await buildImage(source!.docker, `bisect-test-evict-progress:${run}`, {
      files,
      hash: contextHash(files),
    });
    await pushImage(source!.docker, `bisect-test-evict-progress:${run}`, ref("progress"));
    await source!.docker
      .getImage(`bisect-test-evict-progress:${run}`)
      .remove()
      .catch(() => {});
    hostId = (
      await registerHost(db.current.knex, {
        name: "evict-host",
        dockerEndpoint: target!.endpoint,
        tlsPath: target!.tlsPath,
        capacity: 1,
        source: "admin",
      })
    ).id;
    ctx = {
      knex: db.current.knex,
      config: loadConfig({
        DATABASE_URL: db.current.url,
        RUNNER_IMAGE: runnerImage,
        RUNNER_IMAGE_EVICT_DAYS: "7",
      }),
    };
    const policy = { allow: [`${address}/bisect-test/*`] };
    for (const kind of kinds) {
      const resolved = await resolveImage(target!.docker, ref(kind), { policy });
      expect(resolved.pulled).toBe(true);
      // "foreign": on the host already (the operator's), as far as the product knows.
      await recordUse(db.current.knex, hostId, { ...resolved, pulled: kind !== "foreign" });
    }
    const runner = await target!.docker.getImage(runnerImage).inspect();
    await recordUse(db.current.knex, hostId, {
      ref: `docker.io/library/${runnerImage}`,
      id: runner.Id,
      sizeBytes: runner.Size,
      pulled: true,
    });
    const month = new Date(Date.now() - 30 * 86_400_000);
    await db.current
      .knex("runner_images")
      .whereNot("reference", "like", `%evict-recent-%`)
      .update({ lastUsedAt: month });
    busyContainer = (
      await target!.docker.createContainer({
        Image: ref("busy"),
        Cmd: ["true"],
        Labels: { "bisect-test": run },
      })
    ).id;
  }, 900_000);

  afterAll(async () => {
    const target = engines[1]?.docker;
    if (!target) return;
    if (busyContainer)
      await target
        .getContainer(busyContainer)
        .remove({ force: true })
        .catch(() => {});
    for (const kind of kinds)
      await target
        .getImage(ref(kind))
        .remove()
        .catch(() => {});
    await registry?.stop();
  });

  it("removes what no job used for the set days, and nothing a container, the runner or the operator needs", async () => {
    const target = engines[1]!.docker;
    const present = async (kind: string) =>
      target
        .getImage(ref(kind))
        .inspect()
        .then(
          () => true,
          () => false,
        );
    const report = await evictImages(ctx);
    expect(report.removed).toEqual([`evict-host: ${ref("old")}`]);
    expect(report.kept).toEqual(
      expect.arrayContaining([
        `evict-host: ${ref("busy")} (used by 1 container)`,
        `evict-host: docker.io/library/${runnerImage} (the runner image)`,
      ]),
    );
    expect(await present("old")).toBe(false);
    expect(await present("recent")).toBe(true);
    expect(await present("busy")).toBe(true);
    expect(await present("foreign")).toBe(true);
    expect((await target.getImage(runnerImage).inspect()).Id).toBeTruthy();
    const left = await db.current.knex("runner_images").pluck("reference");
    expect(left).not.toContain(ref("old"));
    expect(left).toContain(ref("recent"));

    // With eviction off, nothing goes.
    const off = await evictImages({
      ...ctx,
      config: { ...ctx.config, RUNNER_IMAGE_EVICT_DAYS: 0 },
    });
    expect(off).toEqual({ removed: [], volumes: [], kept: [] });
  }, 300_000);

  it("shows a pull on the job while it waits, then clears it and records the image as pulled", async () => {
    const target = engines[1]!.docker;
    await target
      .getImage(ref("progress"))
      .remove()
      .catch(() => {});
    const { job } = await createJob(db.current.knex, {
      source: "cli",
      repoUrl: "/srv/git/app.git",
      goodRef: "v1",
      badRef: "main",
      command: "true",
      options: { image: ref("progress") },
    });
    // Every write of the job's pull state, in order (the pull may be too quick to poll).
    const writes: unknown[] = [];
    const listener = (q: { sql: string; bindings?: unknown[] }) => {
      if (/update "bisect_jobs" set "image_pull"/.test(q.sql)) writes.push(q.bindings?.[0] ?? null);
    };
    db.current.knex.on("query", listener);
    try {
      const host = (await RunnerHost.query(db.current.knex).findById(hostId))!;
      const resolved = await resolveJobImage(
        { ...ctx, config: { ...ctx.config, RUNNER_IMAGE_ALLOW: [`${address}/bisect-test/*`] } },
        job,
        host,
        ref("progress"),
      );
      expect(resolved.pulled).toBe(true);
    } finally {
      db.current.knex.off("query", listener);
    }
    const shown = JSON.parse(String(writes[0])) as Record<string, unknown>;
    expect(shown).toMatchObject({ image: ref("progress"), host: "evict-host" });
    expect(Number(shown.totalBytes)).toBeGreaterThan(0);
    expect(writes.at(-1)).toBeNull();
    expect((await BisectJob.query(db.current.knex).findById(job.id))!.imagePull).toBeNull();
    const row = await db.current
      .knex("runner_images")
      .where({ reference: ref("progress") })
      .first();
    expect(row).toMatchObject({ pulled: true, runnerHostId: hostId });
  }, 300_000);
});
