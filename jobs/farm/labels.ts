// Labels on every container and volume the farm creates: the deployment, the job, the step.
// Reaping and cancelling match on the deployment too — job ids repeat across databases. The keys
// are runner/labels.ts's.
import { HOST_LABEL, INSTANCE_LABEL, JOB_LABEL, STEP_LABEL } from "../../runner/labels";
import type { WorkerContext } from "../worker-context";

export { INSTANCE_LABEL };

export function jobLabels(
  ctx: Pick<WorkerContext, "instanceId">,
  jobId: number,
): Record<string, string> {
  return { [INSTANCE_LABEL]: ctx.instanceId, [JOB_LABEL]: String(jobId) };
}

export function stepLabels(
  ctx: Pick<WorkerContext, "instanceId">,
  jobId: number,
  stepId: number,
  host: string,
): Record<string, string> {
  return { ...jobLabels(ctx, jobId), [STEP_LABEL]: String(stepId), [HOST_LABEL]: host };
}
