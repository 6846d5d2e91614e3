// Label keys the executors put on what they create, so a reaper can find what a crash left.

/** The label every container of this product carries. */
export const APP_LABEL = { app: "bisect-bot" } as const;
/** Label naming the warm pool a container was made for (with `PID_LABEL`, its process). */
export const POOL_LABEL = "bisect-bot.pool";
export const PID_LABEL = "bisect-bot.pid";
/** Label on every checkout box (its value: the owner's id, e.g. an executor's pool id). */
export const WORKSPACE_LABEL = "bisect-bot.workspace";
