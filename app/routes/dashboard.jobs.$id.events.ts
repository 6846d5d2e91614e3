// GET /dashboard/jobs/:id/events: server-sent events while the job page is open (see job-events.server.ts).
import type { LoaderFunctionArgs } from "@remix-run/node";
import { requireJob, requireViewer } from "../access.server";
import { jobEventStream, MAX_STREAMS_PER_USER, takeStreamSlot } from "../job-events.server";

export async function loader({ request, params }: LoaderFunctionArgs) {
  const viewer = await requireViewer(request, "stream");
  const job = await requireJob(viewer, params.id, "stream");
  const release = takeStreamSlot(viewer.user.id);
  if (!release) {
    return Response.json(
      {
        error: "too_many_streams",
        message: `At most ${MAX_STREAMS_PER_USER} live job pages at once; close one and reload.`,
      },
      { status: 429, headers: { "Retry-After": "30", "Cache-Control": "no-store" } },
    );
  }
  return jobEventStream(job.id, new URL(request.url).searchParams.get("since"), request.signal, {
    onClose: release,
  });
}
