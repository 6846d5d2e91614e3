import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData, useNavigation } from "@remix-run/react";
import { canWriteJob, requireJob, requireViewer } from "../access.server";
import { automaticOfJob } from "../automatic.server";
import { AutomaticBadge, StatusBadge } from "../components/badges";
import { BisectionPicture } from "../components/bisection-picture";
import { Facts } from "../components/job-facts";
import { Steps } from "../components/job-steps";
import { useLiveUpdates } from "../components/use-live-updates";
import { jobPage } from "../dashboard.server";
import { plural } from "../format";
import { parseIntent, performJobAction } from "../job-actions.server";
import { clientIp } from "../load-context";
import { requireCsrf } from "../session.server";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: data ? `Job #${data.job.id} (${data.job.status}) — Bisect Bot` : "Job — Bisect Bot" },
];

/** Seconds between reloads when JavaScript is off (the page then refreshes itself while the job runs). */
const NOSCRIPT_REFRESH_SECONDS = 3;

export async function loader({ request, params }: LoaderFunctionArgs) {
  const viewer = await requireViewer(request);
  const job = await requireJob(viewer, params.id);
  const [page, canWrite, automatic] = await Promise.all([
    jobPage(job),
    canWriteJob(viewer, job),
    job.source === "auto" ? automaticOfJob(job.id) : null,
  ]);
  return {
    ...page,
    automatic,
    canWrite,
    csrf: viewer.session.csrfToken,
    githubUrl: viewer.settings.github.webUrl,
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const viewer = await requireViewer(request);
  const form = await request.formData();
  requireCsrf(viewer.session, form);
  // Cancel and re-run need write access to the job's repository.
  const job = await requireJob(viewer, params.id, "page", "write");
  return performJobAction(viewer, job, parseIntent(form.get("intent")), clientIp(context));
}

export default function JobPage() {
  const { job, steps, picture, version, csrf, githubUrl, canWrite, automatic } =
    useLoaderData<typeof loader>();
  const live = useLiveUpdates(job.id, job.active, version);
  const navigation = useNavigation();
  const submitting = navigation.state === "submitting" ? navigation.formData?.get("intent") : null;
  const title = job.repository ? `${job.repository.fullName}` : "job";
  return (
    <article aria-labelledby="job-title">
      {job.active ? (
        <noscript>
          <meta httpEquiv="refresh" content={String(NOSCRIPT_REFRESH_SECONDS)} />
        </noscript>
      ) : null}
      <div className="section-head">
        <h1 id="job-title">
          Job #{job.id} <span className="muted">· {title}</span> <StatusBadge status={job.status} />{" "}
          <AutomaticBadge source={job.source} />
        </h1>
        <div className="job-actions">
          {!canWrite ? (
            <p className="muted">Read-only: cancelling and re-running need write access.</p>
          ) : job.active ? (
            <Form method="post">
              <input type="hidden" name="csrf" value={csrf} />
              <button
                type="submit"
                name="intent"
                value="cancel"
                className="danger"
                disabled={Boolean(submitting)}
              >
                {submitting === "cancel" ? "Cancelling…" : "Cancel job"}
              </button>
            </Form>
          ) : (
            <Form method="post">
              <input type="hidden" name="csrf" value={csrf} />
              <button type="submit" name="intent" value="rerun" disabled={Boolean(submitting)}>
                {submitting === "rerun" ? "Starting…" : "Re-run"}
              </button>
            </Form>
          )}
        </div>
      </div>
      <p className="live-status" role="status" aria-live="polite">
        {job.active ? (
          <>
            {live ? "Updating live." : `This job is ${job.status}.`}{" "}
            <Link to={`/dashboard/jobs/${job.id}`} reloadDocument>
              Refresh
            </Link>
            <noscript>
              {" "}
              (this page reloads every {NOSCRIPT_REFRESH_SECONDS} s while the job runs)
            </noscript>
          </>
        ) : (
          <>This job is {job.status}.</>
        )}
      </p>

      <Facts job={job} githubUrl={githubUrl} automatic={automatic} />

      <section aria-labelledby="picture-title">
        <h2 id="picture-title">The bisection</h2>
        <p className="muted">
          {picture.commits > 0
            ? `${plural(picture.commits, "commit")} in range, oldest on the left. Each row is a round: the bar is what was still possible, the marks are the commits tested.`
            : "The commit range is not known yet."}
        </p>
        <BisectionPicture picture={picture} />
      </section>

      <section aria-labelledby="steps-title">
        <h2 id="steps-title">Steps</h2>
        <Steps steps={steps} job={job} githubUrl={githubUrl} />
      </section>
    </article>
  );
}
