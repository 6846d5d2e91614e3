// GET /api/jobs/:id: the job and its steps as JSON, for the signed-in user's installations only.
import type { LoaderFunctionArgs } from "@remix-run/node";
import { requireJob, requireViewer } from "../access.server";
import { jobWithSteps } from "../dashboard.server";

export async function loader({ request, params }: LoaderFunctionArgs) {
  const viewer = await requireViewer(request, "json");
  const job = await requireJob(viewer, params.id, "json");
  const { job: view, steps } = await jobWithSteps(job);
  return Response.json({ job: view, steps }, { headers: { "Cache-Control": "private, no-store" } });
}
