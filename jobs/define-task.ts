// Tasks are adapters: validate the payload with one schema, then call one service function.
import type { JobHelpers, Task } from "graphile-worker";
import type { z } from "zod";

export class InvalidPayloadError extends Error {
  override name = "InvalidPayloadError";
}

export function defineTask<S extends z.ZodType>(
  schema: S,
  handler: (payload: z.output<S>, helpers: JobHelpers) => Promise<void>,
): Task {
  return async (raw, helpers) => {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "payload"}: ${i.message}`);
      throw new InvalidPayloadError(`${helpers.job.task_identifier}: invalid payload (${problems.join("; ")})`);
    }
    await handler(parsed.data, helpers);
  };
}
