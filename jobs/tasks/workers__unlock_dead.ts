import { z } from "zod";
import { defineTask } from "../define-task";
import { unlockDeadWorkers } from "../heartbeat";
import type { WorkerContext } from "../worker-context";

export const workers__unlock_dead = (ctx: WorkerContext) =>
  defineTask(z.object({}).passthrough(), async (_payload, helpers) => {
    const dead = await unlockDeadWorkers(ctx.knex, ctx.config.WORKER_DEAD_AFTER_SECONDS * 1000);
    if (dead.length > 0) helpers.logger.warn(`unlocked jobs of dead workers: ${dead.join(", ")}`);
  });
