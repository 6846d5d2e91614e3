// Every task the worker runs, by name (`entity__action`, equal to the file name).
import type { TaskList } from "graphile-worker";
import { adminTasks } from "./admin/tasks";
import { farmTasks } from "./farm/tasks";
import { autoReportTasks } from "./github/auto/report-task";
import { githubTasks } from "./github/tasks";
import { workers__unlock_dead } from "./tasks/workers__unlock_dead";
import type { WorkerContext } from "./worker-context";

export function createTaskList(ctx: WorkerContext): TaskList {
  return {
    ...farmTasks(ctx),
    ...githubTasks(ctx),
    ...autoReportTasks(ctx),
    ...adminTasks(ctx),
    workers__unlock_dead: workers__unlock_dead(ctx),
  };
}
