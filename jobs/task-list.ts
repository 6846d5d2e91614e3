// Every task the worker runs, by its catalog name: each catalog entry has its handler here (the
// type says so), and each handler validates its payload with the entry's schema.
import type { Task } from "graphile-worker";
import { adminTasks } from "./admin/tasks";
import type { TaskName } from "./catalog";
import { defineTask } from "./define-task";
import { farmTasks } from "./farm/tasks";
import { autoReportTasks } from "./github/auto/report-task";
import { githubTasks } from "./github/tasks";
import { unlockDeadWorkers } from "./heartbeat";
import type { WorkerContext } from "./worker-context";

export function createTaskList(ctx: WorkerContext): Record<TaskName, Task> {
  return {
    ...farmTasks(ctx),
    ...githubTasks(ctx),
    ...autoReportTasks(ctx),
    ...adminTasks(ctx),
    workers__unlock_dead: defineTask("workers__unlock_dead", async (_payload, helpers) => {
      const dead = await unlockDeadWorkers(ctx.knex, ctx.config.WORKER_DEAD_AFTER_SECONDS * 1000);
      if (dead.length > 0) helpers.logger.warn(`unlocked jobs of dead workers: ${dead.join(", ")}`);
    }),
  };
}
