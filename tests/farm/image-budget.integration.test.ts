// images__evict's size cap on a real engine: past RUNNER_IMAGES_TOTAL_MB of images the product
// pulled on a host, the least recently used go first — never one a container uses, never one used
// in the last ten minutes — until the rest fits.
import { randomUUID } from "node:crypto";
import { Model } from "objection";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { evictImages } from "../../jobs/farm/evict-images";
import { registerHost } from "../../jobs/farm/hosts";
import type { WorkerContext } from "../../jobs/worker-context";
import { buildImage, contextHash } from "../../runner/image";
import { useTestDatabase } from "../helpers/database";
import { dockerRequired, tlsEngines } from "../helpers/engines";
import { farmWorkerEnv } from "../helpers/farm-worker";

const { engines, problem } = await tlsEngines();
if (problem && dockerRequired) throw new Error(`Docker engines are required in CI: ${problem}`);
const suite = problem ? describe.skip : describe;
const db = useTestDatabase();

const MB = 1024 * 1024;

suite("the size cap of pulled images", () => {
  const run = randomUUID().slice(0, 8);
  const kinds = ["oldest", "busy", "older", "recent"] as const;
  const tag = (kind: string) => `bisect-test-budget-${kind}:${run}`;
  let busy: string | undefined;

  beforeAll(async () => {
    Model.knex(db.current.knex);
    const docker = engines[0]!.docker;
    for (const kind of kinds) {
      const files = [
        {
          name: "Dockerfile",
          content: `FROM debian:bookworm-slim\nLABEL bisect-test.budget=${kind}-${run}\n`,
          mode: 0o644,
        },
      ];
      await buildImage(docker, tag(kind), { files, hash: contextHash(files) });
    }
  }, 300_000);

  afterAll(async () => {
    const docker = engines[0]?.docker;
    if (!docker) return;
    if (busy)
      await docker
        .getContainer(busy)
        .remove({ force: true })
        .catch(() => {});
    for (const kind of kinds)
      await docker
        .getImage(tag(kind))
        .remove()
        .catch(() => {});
  });

  it("removes the least recently used pulled images until the rest fits", async () => {
    const docker = engines[0]!.docker;
    const ctx: Pick<WorkerContext, "knex" | "config"> = {
      knex: db.current.knex,
      config: loadConfig({
        ...farmWorkerEnv(db.current.url, engines[0]),
        RUNNER_IMAGES_TOTAL_MB: "25",
      }),
    };
    const host = await registerHost(db.current.knex, {
      name: "budget-host",
      dockerEndpoint: engines[0]!.endpoint,
      tlsPath: engines[0]!.tlsPath,
      capacity: 1,
      source: "admin",
    });
    // 10 MB each as recorded at pull: 40 MB against a 25 MB cap.
    const minutesAgo = { oldest: 300, busy: 200, older: 100, recent: 2 };
    for (const kind of kinds)
      await db.current.knex("runner_images").insert({
        runnerHostId: host.id,
        reference: tag(kind),
        imageId: (await docker.getImage(tag(kind)).inspect()).Id,
        sizeBytes: 10 * MB,
        pulled: true,
        lastUsedAt: new Date(Date.now() - minutesAgo[kind] * 60_000),
      });
    busy = (await docker.createContainer({ Image: tag("busy"), Cmd: ["true"], Labels: { run } }))
      .id;

    const report = await evictImages(ctx);
    // oldest goes (30 MB left), busy stays (used), older goes (20 MB left: within the cap).
    expect(report.removed).toEqual([
      `budget-host: ${tag("oldest")} (least recently used past 25 MiB)`,
      `budget-host: ${tag("older")} (least recently used past 25 MiB)`,
    ]);
    expect(report.kept).toContain(`budget-host: ${tag("busy")} (used by 1 container)`);
    const present = async (kind: string) =>
      docker
        .getImage(tag(kind))
        .inspect()
        .then(
          () => true,
          () => false,
        );
    expect(await Promise.all(kinds.map(present))).toEqual([false, true, false, true]);
    expect(await db.current.knex("runner_images").orderBy("id").pluck("reference")).toEqual([
      tag("busy"),
      tag("recent"),
    ]);
  }, 300_000);
});
