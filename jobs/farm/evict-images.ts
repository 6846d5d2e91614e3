// Images the product pulled onto runner hosts and no job used for RUNNER_IMAGE_EVICT_DAYS are
// removed (`images__evict`, hourly). Never the runner image, never an image a container of the
// host uses (running or not), never an image the product did not pull; an image that has other
// names on the host loses only the product's. Past RUNNER_IMAGES_TOTAL_MB of pulled images on a
// host, the least recently used of them go too, by the same rules (and never one used in the last
// ten minutes). The same hourly pass runs each host's
// least-recently-used eviction of mirrors and dependency caches (mirrors.ts), so a host whose
// caches grew without a fetch is brought back under RUNNER_CACHE_MAX_MB too.
import type Docker from "dockerode";
import { RunnerHost } from "../../db/models";
import { statusOf } from "../../runner/docker/connect";
import { dockerFor } from "./docker-clients";
import { evictLeastRecentlyUsed } from "./mirrors";
import { RECENT_USE_MS } from "./eviction";
import { parseImageRef } from "../../runner/images/policy";
import type { WorkerContext } from "../worker-context";

export interface EvictionReport {
  /** `host: reference` of each image removed. */
  removed: string[];
  /** `host: volume` of each mirror or dependency cache removed. */
  volumes: string[];
  /** `host: reference (why)` of each old image kept. */
  kept: string[];
}

interface Row {
  id: number;
  runnerHostId: number;
  reference: string;
  imageId: string;
}

const canonical = (reference: string) => {
  try {
    return parseImageRef(reference).canonical;
  } catch {
    return reference;
  }
};

export async function evictImages(
  ctx: Pick<WorkerContext, "knex" | "config">,
  now = new Date(),
): Promise<EvictionReport> {
  const { knex } = ctx;
  const report: EvictionReport = { removed: [], volumes: [], kept: [] };
  await evictOldImages(ctx, now, report);
  for (const host of await RunnerHost.query(knex).whereNot({ state: "down" })) {
    await evictImagesOverBudget(ctx, host, now, report);
    try {
      for (const volume of await evictLeastRecentlyUsed(ctx, host, null, now))
        report.volumes.push(`${host.name}: ${volume}`);
    } catch (error) {
      report.kept.push(`${host.name}: caches (${(error as Error).message})`);
    }
  }
  return report;
}

async function evictOldImages(
  ctx: Pick<WorkerContext, "knex" | "config">,
  now: Date,
  report: EvictionReport,
): Promise<void> {
  const { knex, config } = ctx;
  const days = config.RUNNER_IMAGE_EVICT_DAYS;
  if (days === 0) return;
  const before = new Date(now.getTime() - days * 86_400_000);
  const rows: Row[] = await knex("runner_images")
    .where({ pulled: true })
    .where("lastUsedAt", "<", before)
    .select("id", "runnerHostId", "reference", "imageId");
  const runnerImage = canonical(config.RUNNER_IMAGE);
  for (const row of rows) {
    const host = await RunnerHost.query(knex).findById(row.runnerHostId);
    if (!host || host.state === "down") continue;
    const name = `${host.name}: ${row.reference}`;
    if (row.reference === runnerImage) {
      report.kept.push(`${name} (the runner image)`);
      continue;
    }
    const docker = dockerFor(host);
    try {
      const why = await reasonToKeep(docker, row, config.RUNNER_IMAGE);
      if (why) {
        report.kept.push(`${name} (${why})`);
        continue;
      }
      // A job may have used it since the list was read: check again, then remove.
      const fresh = await knex("runner_images").where({ id: row.id }).first("lastUsedAt");
      if (!fresh || fresh.lastUsedAt >= before) continue;
      await removeImage(docker, row);
      await knex("runner_images").where({ id: row.id }).delete();
      report.removed.push(name);
    } catch (error) {
      report.kept.push(`${name} (${(error as Error).message})`);
    }
  }
}

/** Past the host's budget of pulled images, the least recently used go (oldest use first). */
async function evictImagesOverBudget(
  ctx: Pick<WorkerContext, "knex" | "config">,
  host: RunnerHost,
  now: Date,
  report: EvictionReport,
): Promise<void> {
  const { knex, config } = ctx;
  if (config.RUNNER_IMAGES_TOTAL_MB === 0) return;
  const rows: (Row & { sizeBytes: string | number; lastUsedAt: Date })[] = await knex(
    "runner_images",
  )
    .where({ runnerHostId: host.id, pulled: true })
    .orderBy("lastUsedAt", "asc")
    .select("id", "runnerHostId", "reference", "imageId", "sizeBytes", "lastUsedAt");
  let total = rows.reduce((sum, r) => sum + Number(r.sizeBytes), 0);
  const limit = config.RUNNER_IMAGES_TOTAL_MB * 1024 * 1024;
  const runnerImage = canonical(config.RUNNER_IMAGE);
  const docker = dockerFor(host);
  for (const row of rows) {
    if (total <= limit) break;
    if (row.reference === runnerImage) continue;
    if (now.getTime() - row.lastUsedAt.getTime() < RECENT_USE_MS) continue;
    const name = `${host.name}: ${row.reference}`;
    try {
      const why = await reasonToKeep(docker, row, config.RUNNER_IMAGE);
      if (why) {
        report.kept.push(`${name} (${why})`);
        continue;
      }
      // A job may have used it since the list was read: check again, then remove.
      const fresh = await knex("runner_images").where({ id: row.id }).first("lastUsedAt");
      if (!fresh || now.getTime() - fresh.lastUsedAt.getTime() < RECENT_USE_MS) continue;
      await removeImage(docker, row);
      await knex("runner_images").where({ id: row.id }).delete();
      report.removed.push(
        `${name} (least recently used past ${config.RUNNER_IMAGES_TOTAL_MB} MiB)`,
      );
      total -= Number(row.sizeBytes);
    } catch (error) {
      report.kept.push(`${name} (${(error as Error).message})`);
    }
  }
}

async function reasonToKeep(docker: Docker, row: Row, runnerImage: string): Promise<string | null> {
  const runner = await docker
    .getImage(runnerImage)
    .inspect()
    .catch(() => null);
  if (runner?.Id === row.imageId) return "the runner image";
  const users = await docker.listContainers({
    all: true,
    filters: JSON.stringify({ ancestor: [row.imageId] }),
  });
  if (users.length > 0) return `used by ${users.length} container${users.length > 1 ? "s" : ""}`;
  return null;
}

/** Remove the product's name for the image, then the image itself when no other name is left. */
async function removeImage(docker: Docker, row: Row): Promise<void> {
  try {
    await docker.getImage(row.reference).remove({ noprune: false });
  } catch (error) {
    if (statusOf(error) !== 404) throw error;
  }
  const left = await docker
    .getImage(row.imageId)
    .inspect()
    .catch(() => null);
  if (left && (left.RepoTags ?? []).length === 0)
    await docker
      .getImage(row.imageId)
      .remove()
      .catch((error: unknown) => {
        if (statusOf(error) !== 404) throw error;
      });
}
