// Cancel and re-run from the job page. The caller has already checked the session, the CSRF token
// and that the viewer may write to the job's repository (requireJob with "write").
import { redirect } from "@remix-run/node";
import { z } from "zod";
import type { Admission } from "../jobs/bisection/admission";
import { cancelJob, retryJob } from "../jobs/bisection/control";
import type { BisectJob } from "../db/models";
import type { Viewer } from "./access.server";
import { getConfig } from "./config.server";
import { getDb } from "./db.server";
import { setFlash } from "./session.server";

export const intentSchema = z.enum(["cancel", "rerun"]);
export type JobIntent = z.output<typeof intentSchema>;

export function parseIntent(value: FormDataEntryValue | null): JobIntent {
  const parsed = intentSchema.safeParse(value);
  if (!parsed.success) {
    throw new Response("Unknown action: use the Cancel or Re-run button.", {
      status: 400,
      statusText: "Bad Request",
      headers: { "Content-Type": "text/plain; charset=utf-8" },
    });
  }
  return parsed.data;
}

/** Runs the action and answers with a redirect (POST → redirect → GET), leaving a notice for the next page. */
export async function performJobAction(
  viewer: Viewer,
  job: BisectJob,
  intent: JobIntent,
  ip: string | null,
): Promise<Response> {
  const db = getDb();
  const actor = { login: viewer.user.login, id: viewer.user.githubId, ip };
  if (intent === "cancel") {
    const cancelled = await cancelJob(
      db,
      job.id,
      actor,
      `cancelled by ${viewer.user.login} from the dashboard`,
    );
    return redirect(
      await setFlash(
        viewer.session,
        cancelled
          ? `Job #${job.id} is cancelled; its running containers are being stopped.`
          : `Job #${job.id} had already ended.`,
        `/dashboard/jobs/${job.id}`,
      ),
    );
  }
  const installation = viewer.installations.find((i) => i.id === job.installationId);
  if (!installation || installation.suspended || job.repositoryId === null) {
    return redirect(
      await setFlash(
        viewer.session,
        "This installation is suspended or removed, so jobs cannot be re-run.",
        `/dashboard/jobs/${job.id}`,
      ),
    );
  }
  // The caller checked write access to the repository (requireJob with "write").
  const admission = await retryJob(
    db,
    job.id,
    {
      kind: "writer",
      login: viewer.user.login,
      githubId: viewer.user.githubId,
      repositoryId: job.repositoryId,
    },
    { defaultTimeoutSeconds: getConfig().RUNNER_STEP_TIMEOUT_SECONDS },
    ip,
  );
  if (!admission) throw new Response("The job is gone.", { status: 404, statusText: "Not Found" });
  if (!admission.admitted) {
    return redirect(
      await setFlash(viewer.session, refusal(admission), `/dashboard/jobs/${job.id}`),
    );
  }
  return redirect(
    await setFlash(
      viewer.session,
      `Job #${admission.job.id} re-runs job #${job.id}.`,
      `/dashboard/jobs/${admission.job.id}`,
    ),
  );
}

function refusal(admission: Exclude<Admission, { admitted: true }>): string {
  switch (admission.reason) {
    case "inactive":
      return "This installation is suspended or removed, so jobs cannot be re-run.";
    case "still-active":
      return `Job #${admission.job.id} is still ${admission.job.status}: cancel it first or wait for its result.`;
    case "quota":
      return `This installation has used ${admission.used} of its ${admission.limit} bisections this month (${admission.tier} plan); the quota resets on ${admission.resetsAt.toISOString().slice(0, 10)}.`;
  }
}
