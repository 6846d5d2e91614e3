// How graphile-worker's log lines map to ours. A recurring task's routine lines ("Completed task
// … (runners__check …) with success", every minute) go to debug: at info they drown what matters.
import type { Level } from "../config/log";
import { crontab } from "./catalog";

/** The task identifiers the crontab schedules (the field after the five time fields). */
export function cronTaskIdentifiers(tab: string): Set<string> {
  const ids = tab
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => line.split(/\s+/)[5])
    .filter((id): id is string => Boolean(id));
  return new Set(ids);
}

const recurring = cronTaskIdentifiers(crontab);

/** Our level for one of graphile-worker's lines; warnings and errors keep theirs. */
export function workerLogLevel(
  level: string,
  taskIdentifier: string | undefined,
  cronTasks: Set<string> = recurring,
): Level {
  if (level === "error") return "error";
  if (level === "warning") return "warn";
  if (level === "debug") return "debug";
  return taskIdentifier && cronTasks.has(taskIdentifier) ? "debug" : "info";
}
