// Job statuses for the browser bundle (db/models must stay out of it); a test keeps them equal.
export const JOB_STATUS_LIST = [
  "queued",
  "preparing",
  "running",
  "finished",
  "failed",
  "cancelled",
] as const;
export const FINAL_STATUS_LIST: readonly string[] = ["finished", "failed", "cancelled"];
