// Labels on every container and volume the farm creates: the deployment, the job, the step.
// Reaping and cancelling match on the deployment too — job ids repeat across databases.
import type { WorkerContext } from "../worker-context";

export const INSTANCE_LABEL = "bisect-bot.instance";

export function jobLabels(ctx: Pick<WorkerContext, "instanceId">, jobId: number): Record<string, string> {
  return { [INSTANCE_LABEL]: ctx.instanceId, "bisect-bot.job": String(jobId) };
}

export function stepLabels(ctx: Pick<WorkerContext, "instanceId">, jobId: number, stepId: number, host: string): Record<string, string> {
  return { ...jobLabels(ctx, jobId), "bisect-bot.step": String(stepId), "bisect-bot.host": host };
}
