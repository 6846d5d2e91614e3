// The job page's facts: what was asked, what ran and what came of it.
import { Link, type useLoaderData } from "@remix-run/react";
import { formatDate, formatDuration, shortSha } from "../format";
import type { loader } from "../routes/dashboard.jobs.$id";
import { StatusBadge } from "./badges";

/** What the job page's loader hands its components. */
export type JobPageData = ReturnType<typeof useLoaderData<typeof loader>>;

type Data = JobPageData;

export function Sha({
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

export function Facts({
  job,
  githubUrl,
  automatic,
}: Pick<Data, "job" | "githubUrl" | "automatic">) {
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
