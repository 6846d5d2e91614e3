// Tasks are adapters: validate the payload with the task's schema from the catalog, then call one
// service function.
import type { JobHelpers, Task } from "graphile-worker";
import { checkPayload, type PayloadOf, type TaskName } from "./catalog";

export function defineTask<T extends TaskName>(
  task: T,
  handler: (payload: PayloadOf<T>, helpers: JobHelpers) => Promise<void>,
): Task {
  return async (raw, helpers) => {
    await handler(checkPayload(task, raw), helpers);
  };
}
