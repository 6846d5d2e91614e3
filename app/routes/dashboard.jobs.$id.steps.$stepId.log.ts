// GET /dashboard/jobs/:id/steps/:stepId/log: a step's whole stored log as plain text (the job page
// shows its tail). Same rules as the job page: other people's jobs and steps are 404.
import type { LoaderFunctionArgs } from "@remix-run/node";
import { notFound, requireJob, requireViewer } from "../access.server";
import { stepLog } from "../dashboard.server";

export async function loader({ request, params }: LoaderFunctionArgs) {
  const viewer = await requireViewer(request);
  const job = await requireJob(viewer, params.id);
  const step = await stepLog(job.id, params.stepId);
  if (!step) throw notFound("page", "step");
  return new Response(step.log, {
    headers: {
      "Content-Type": "text/plain; charset=utf-8",
      "Content-Disposition": `inline; filename="job-${job.id}-${step.sha.slice(0, 12)}.log"`,
      "Cache-Control": "private, no-store",
    },
  });
}
