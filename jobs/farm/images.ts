// A job's image on a runner host: resolved (pulled when missing) with its progress shown on the
// job while it lasts, and every use recorded per host, so that images no job used for
// RUNNER_IMAGE_EVICT_DAYS can be removed (`images__evict`).
import type { Knex } from "knex";
import { BisectJob, type ImagePull } from "../../db/models";
import { dockerFor } from "./docker-clients";
import type { Lease } from "./leases";
import { resolveImage, type ResolvedImage } from "../../runner/images/pull";
import { imagePolicyFrom } from "../../runner/images/policy";
import type { WorkerContext } from "../worker-context";
import { notifyJobChanged } from "./notify";

/** How often a pull's progress is written to the job (and so re-renders its comment). */
const PROGRESS_EVERY_MS = 5_000;

export async function resolveJobImage(
  ctx: Pick<WorkerContext, "knex" | "config">,
  job: Pick<BisectJob, "id" | "source">,
  host: Lease["host"],
  reference: string,
  signal?: AbortSignal,
): Promise<ResolvedImage> {
  const { knex, config } = ctx;
  const startedAt = new Date().toISOString();
  let last = 0;
  let writing: Promise<void> = Promise.resolve();
  const show = (pull: ImagePull | null) => {
    writing = writing
      .then(async () => {
        await BisectJob.query(knex).patch({ imagePull: pull }).where({ id: job.id });
        await notifyJobChanged(knex, job);
      })
      .catch(() => {});
  };
  let shown = false;
  try {
    const resolved = await resolveImage(dockerFor(host), reference, {
      policy: imagePolicyFrom(config),
      signal,
      onBytes: ({ doneBytes, totalBytes }) => {
        const now = Date.now();
        if (now - last < PROGRESS_EVERY_MS) return;
        last = now;
        shown = true;
        show({ image: reference, host: host.name, doneBytes, totalBytes, startedAt });
      },
    });
    await recordUse(knex, host.id, resolved);
    return resolved;
  } finally {
    if (shown) show(null);
    await writing;
  }
}

/** This host has the image and a job is about to use it (or just pulled it). */
export async function recordUse(
  knex: Knex,
  hostId: number,
  image: Pick<ResolvedImage, "ref" | "id" | "sizeBytes" | "pulled">,
): Promise<void> {
  await knex("runner_images")
    .insert({
      runnerHostId: hostId,
      reference: image.ref,
      imageId: image.id,
      sizeBytes: image.sizeBytes,
      pulled: image.pulled,
    })
    .onConflict(["runnerHostId", "reference"])
    .merge(
      image.pulled
        ? {
            imageId: image.id,
            sizeBytes: image.sizeBytes,
            pulled: true,
            pulledAt: knex.fn.now(),
            lastUsedAt: knex.fn.now(),
          }
        : { imageId: image.id, lastUsedAt: knex.fn.now() },
    );
}
