// GET /dashboard/jobs/:id/events: server-sent events while the job page is open (see job-events.server.ts).
import type { LoaderFunctionArgs } from "@remix-run/node";
import { requireJob, requireViewer } from "../access.server";
import { jobEventStream } from "../job-events.server";

export async function loader({ request, params }: LoaderFunctionArgs) {
  const viewer = await requireViewer(request, "stream");
  const job = await requireJob(viewer, params.id, "stream");
  return jobEventStream(job.id, new URL(request.url).searchParams.get("since"), request.signal);
}
