// Cancel and re-run from the job page. The caller has already checked the session, the CSRF token
// and that the job belongs to one of the viewer's installations (requireJob).
import { redirect } from "@remix-run/node";
import { z } from "zod";
import { cancelJob, retryJob } from "../jobs/bisection/control";
import type { BisectJob } from "../db/models";
import type { Viewer } from "./access.server";
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
    await setFlash(
      viewer.session,
      cancelled
        ? `Job #${job.id} is cancelled; its running containers are being stopped.`
        : `Job #${job.id} had already ended.`,
    );
    return redirect(`/dashboard/jobs/${job.id}`);
  }
  const installation = viewer.installations.find((i) => i.id === job.installationId);
  const row = await db("installations")
    .where({ id: job.installationId })
    .first("suspendedAt", "deletedAt");
  if (!installation || installation.suspended || row?.suspendedAt || row?.deletedAt) {
    await setFlash(
      viewer.session,
      "This installation is suspended or removed, so jobs cannot be re-run.",
    );
    return redirect(`/dashboard/jobs/${job.id}`);
  }
  const retry = await retryJob(db, job.id, actor);
  if (!retry) throw new Response("The job is gone.", { status: 404, statusText: "Not Found" });
  await setFlash(viewer.session, `Job #${retry.id} re-runs job #${job.id}.`);
  return redirect(`/dashboard/jobs/${retry.id}`);
}
