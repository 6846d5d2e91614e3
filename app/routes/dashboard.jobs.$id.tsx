import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData, useNavigation, useRevalidator } from "@remix-run/react";
import { useEffect, useState } from "react";
import { canWriteJob, requireJob, requireViewer } from "../access.server";
import { automaticOfJob } from "../automatic.server";
import { AutomaticBadge, StatusBadge, VerdictBadge } from "../components/badges";
import { BisectionPicture } from "../components/bisection-picture";
import { jobPage } from "../dashboard.server";
import { formatDate, formatDuration, plural, shortSha } from "../format";
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

type Data = ReturnType<typeof useLoaderData<typeof loader>>;

/** Live updates: the server pushes an event whenever the job or a step changes; the page then reloads its data. */
function useLiveUpdates(jobId: number, active: boolean, version: string): boolean {
  const { revalidate } = useRevalidator();
  const [live, setLive] = useState(false);
  useEffect(() => {
    if (!active || typeof EventSource === "undefined") return;
    const source = new EventSource(
      `/dashboard/jobs/${jobId}/events?since=${encodeURIComponent(version)}`,
    );
    source.addEventListener("open", () => setLive(true));
    source.addEventListener("update", () => revalidate());
    source.addEventListener("end", () => {
      source.close();
      setLive(false);
      revalidate();
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) setLive(false);
    });
    return () => {
      source.close();
      setLive(false);
    };
    // Opened once per job while it is active; `version` only seeds the stream, so it is no dependency.
  }, [jobId, active]);
  return live;
}

function Sha({
  sha,
  repo,
  githubUrl,
}: {
  sha: string | null;
  repo: string | null;
  githubUrl: string;
}) {
  if (!sha) return <span className="muted">not resolved yet</span>;
  return repo ? (
    <a href={`${githubUrl}/${repo}/commit/${sha}`}>
      <code>{shortSha(sha)}</code>
    </a>
  ) : (
    <code>{shortSha(sha)}</code>
  );
}

/** Why an automatic job ran, and where its answer went. */
function Automatic({
  automatic,
  githubUrl,
  repo,
}: Pick<Data, "automatic" | "githubUrl"> & { repo: string | null }) {
  if (!automatic) return null;
  return (
    <div className="wide">
      <dt>Started automatically</dt>
      <dd>
        The check <code>{automatic.checkName}</code> turned red at{" "}
        <Sha sha={automatic.redSha} repo={repo} githubUrl={githubUrl} /> after passing at{" "}
        <Sha sha={automatic.greenSha} repo={repo} githubUrl={githubUrl} />
        {automatic.checkRunUrl ? (
          <>
            {" "}
            (<a href={automatic.checkRunUrl}>check run</a>)
          </>
        ) : null}
        {automatic.joinedRuns > 0 ? `; ${automatic.joinedRuns} later red runs joined` : ""}.{" "}
        {automatic.reportUrl ? (
          <a href={automatic.reportUrl}>The answer on GitHub</a>
        ) : automatic.reportNote ? (
          <span className="muted">Not posted on GitHub: {automatic.reportNote}.</span>
        ) : (
          <span className="muted">The answer goes to: {automatic.notify}.</span>
        )}
      </dd>
    </div>
  );
}

function Facts({ job, githubUrl, automatic }: Pick<Data, "job" | "githubUrl" | "automatic">) {
  const repo = job.repository?.fullName ?? null;
  const options = Object.entries(job.options).filter(([, v]) => v !== undefined && v !== null);
  return (
    <dl className="facts">
      <Automatic automatic={automatic} githubUrl={githubUrl} repo={repo} />
      <div>
        <dt>Repository</dt>
        <dd>{repo ? <a href={`${githubUrl}/${repo}`}>{repo}</a> : "—"}</dd>
      </div>
      <div>
        <dt>Issue</dt>
        <dd>
          {repo && job.issueNumber ? (
            <a href={`${githubUrl}/${repo}/issues/${job.issueNumber}`}>
              {repo}#{job.issueNumber}
            </a>
          ) : (
            "—"
          )}
        </dd>
      </div>
      <div>
        <dt>Requested by</dt>
        <dd>
          {job.requesterLogin ? (
            <a href={`${githubUrl}/${job.requesterLogin}`}>{job.requesterLogin}</a>
          ) : (
            "—"
          )}
        </dd>
      </div>
      <div>
        <dt>Good</dt>
        <dd>
          <code>{job.goodRef}</code> <Sha sha={job.goodSha} repo={repo} githubUrl={githubUrl} />
        </dd>
      </div>
      <div>
        <dt>Bad</dt>
        <dd>
          <code>{job.badRef}</code> <Sha sha={job.badSha} repo={repo} githubUrl={githubUrl} />
        </dd>
      </div>
      <div className="wide">
        <dt>Command</dt>
        <dd>
          <pre>
            <code>{job.command}</code>
          </pre>
          {job.setupCommand ? (
            <>
              <span className="muted">Setup:</span>
              <pre>
                <code>{job.setupCommand}</code>
              </pre>
            </>
          ) : null}
        </dd>
      </div>
      <div>
        <dt>Options</dt>
        <dd>
          {options.length === 0 ? (
            "defaults"
          ) : (
            <ul className="inline-list">
              {options.map(([k, v]) => (
                <li key={k}>
                  <code>
                    {k}={String(v)}
                  </code>
                </li>
              ))}
            </ul>
          )}
        </dd>
      </div>
      <div>
        <dt>Commits in range</dt>
        <dd>{job.commitCount ?? "—"}</dd>
      </div>
      <div>
        <dt>Status</dt>
        <dd>
          <StatusBadge status={job.status} />
        </dd>
      </div>
      <div>
        <dt>Outcome</dt>
        <dd>{job.outcome ?? (job.active ? "not yet" : "—")}</dd>
      </div>
      <div>
        <dt>Culprit</dt>
        <dd>
          {job.culpritSha ? (
            <Sha sha={job.culpritSha} repo={repo} githubUrl={githubUrl} />
          ) : job.candidates && job.candidates.length > 0 ? (
            <span>
              one of{" "}
              {job.candidates.slice(0, 10).map((c, i) => (
                <span key={c}>
                  {i > 0 ? ", " : ""}
                  <Sha sha={c} repo={repo} githubUrl={githubUrl} />
                </span>
              ))}
              {job.candidates.length > 10 ? ` and ${job.candidates.length - 10} more` : ""}
            </span>
          ) : (
            "—"
          )}
        </dd>
      </div>
      <div>
        <dt>Timing</dt>
        <dd>
          created {formatDate(job.createdAt)}
          {job.durationMs !== null ? (
            <>
              , {job.active ? "running for" : "ran"} {formatDuration(job.durationMs)}
            </>
          ) : null}
          {job.finishedAt ? <>, ended {formatDate(job.finishedAt)}</> : null}
        </dd>
      </div>
      {job.retryOfJobId ? (
        <div>
          <dt>Re-run of</dt>
          <dd>
            <Link to={`/dashboard/jobs/${job.retryOfJobId}`}>#{job.retryOfJobId}</Link>
          </dd>
        </div>
      ) : null}
      {job.explanation ? (
        <div className="wide">
          <dt>Explanation</dt>
          <dd>{job.explanation}</dd>
        </div>
      ) : null}
      {job.error ? (
        <div className="wide">
          <dt>{job.status === "cancelled" ? "Reason" : "Error"}</dt>
          <dd>{job.error}</dd>
        </div>
      ) : null}
    </dl>
  );
}

function Steps({ steps, job, githubUrl }: Pick<Data, "steps" | "job" | "githubUrl">) {
  if (steps.length === 0) {
    return (
      <p className="empty">
        {job.active ? "No commit has been tested yet." : "No commit was tested."}
      </p>
    );
  }
  const repo = job.repository?.fullName ?? null;
  return (
    <div className="table-wrap">
      <table className="steps">
        <caption className="visually-hidden">Every run, in order</caption>
        <thead>
          <tr>
            <th scope="col">Round</th>
            <th scope="col">Commit</th>
            <th scope="col">Verdict</th>
            <th scope="col">Exit</th>
            <th scope="col">Duration</th>
            <th scope="col">Host</th>
            <th scope="col">Log</th>
          </tr>
        </thead>
        <tbody>
          {steps.map((s) => (
            <tr key={s.id}>
              <td>{s.round}</td>
              <td>
                <Sha sha={s.sha} repo={repo} githubUrl={githubUrl} />
                {s.attempt > 1 ? <span className="muted"> run {s.attempt}</span> : null}
              </td>
              <td>
                {s.verdict ? (
                  <VerdictBadge verdict={s.verdict} />
                ) : s.status === "cancelled" ? (
                  <span className="muted">cancelled</span>
                ) : (
                  <VerdictBadge verdict="pending" />
                )}
                {s.reason ? <span className="muted small"> {s.reason}</span> : null}
              </td>
              <td>{s.exitCode ?? "—"}</td>
              <td>{formatDuration(s.durationMs)}</td>
              <td>{s.host ?? "—"}</td>
              <td className="log-cell">
                {s.logExcerpt ? (
                  <details>
                    <summary>
                      Log <span className="visually-hidden">of {shortSha(s.sha)}</span>
                    </summary>
                    {s.logLength > s.logExcerpt.length ? (
                      <p className="small muted">
                        The last {Math.round(s.logExcerpt.length / 1000)} KB of{" "}
                        {Math.round(s.logLength / 1000)} KB.{" "}
                        <a href={`/dashboard/jobs/${job.id}/steps/${s.id}/log`}>Whole log</a>
                      </p>
                    ) : null}
                    <pre className="log">{s.logExcerpt}</pre>
                  </details>
                ) : (
                  <span className="muted">—</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
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
