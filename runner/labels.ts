// Every label key this product puts on what it creates on a Docker engine (containers, volumes),
// in one place: reaping, cancelling and cleaning up match on them.

/** The label every container of this product carries. */
export const APP_LABEL = { app: "bisect-bot" } as const;
/** Label naming the warm pool a container was made for (with `PID_LABEL`, its process). */
export const POOL_LABEL = "bisect-bot.pool";
export const PID_LABEL = "bisect-bot.pid";
/** Label on every checkout box (its value: the owner's id, e.g. an executor's pool id). */
export const WORKSPACE_LABEL = "bisect-bot.workspace";
/** Label on a job's sandbox (its value: the worker or process that keeps it). */
export const SANDBOX_LABEL = "bisect-bot.sandbox";
/** Label on a mirror volume and its fetch container (its value: the volume). */
export const MIRROR_LABEL = "bisect-bot.mirror";
/** Label on a dependency cache volume (its value: the repository key it belongs to). */
export const CACHE_LABEL = "bisect-bot.cache";
/** Label on an egress proxy and its network. */
export const EGRESS_LABEL = "bisect-bot.egress";
/** The deployment (job ids repeat across databases), the job, the step and the runner host. */
export const INSTANCE_LABEL = "bisect-bot.instance";
export const JOB_LABEL = "bisect-bot.job";
export const STEP_LABEL = "bisect-bot.step";
export const HOST_LABEL = "bisect-bot.host";
/** Who made a container outside the farm: the command line, a benchmark. */
export const SOURCE_LABEL = "bisect-bot.source";
