// The job page's steps: every run, in order, with its verdict and log.
import { formatDuration, shortSha } from "../format";
import { VerdictBadge } from "./badges";
import { Sha, type JobPageData } from "./job-facts";

type Data = JobPageData;

export function Steps({ steps, job, githubUrl }: Pick<Data, "steps" | "job" | "githubUrl">) {
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
