import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData, useNavigation } from "@remix-run/react";
import { requireViewer } from "../access.server";
import { AutomaticBadge, StatusBadge } from "../components/badges";
import { UsageChart } from "../components/usage-chart";
import { dashboardOverview } from "../dashboard.server";
import { formatDate, formatMiB, plural, shortSha } from "../format";
import { JOB_STATUS_LIST } from "../statuses";

export const meta: MetaFunction = () => [{ title: "Dashboard — Bisect Bot" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const viewer = await requireViewer(request);
  const overview = await dashboardOverview(viewer, new URL(request.url).searchParams);
  const { webUrl, appSlug } = viewer.settings.github;
  return {
    ...overview,
    installUrl: `${webUrl}/apps/${appSlug}/installations/new`,
    githubUrl: webUrl,
  };
}

type Data = ReturnType<typeof useLoaderData<typeof loader>>;

function pageLink(filters: Data["filters"], cursor: { before?: number; after?: number }): string {
  const params = new URLSearchParams();
  if (filters.status) params.set("status", filters.status);
  if (filters.repo) params.set("repo", String(filters.repo));
  if (cursor.before !== undefined) params.set("before", String(cursor.before));
  if (cursor.after !== undefined) params.set("after", String(cursor.after));
  const q = params.toString();
  return q ? `/dashboard?${q}#jobs` : "/dashboard#jobs";
}

function Installations({
  installations,
  installUrl,
  githubUrl,
  automatic,
}: Pick<Data, "installations" | "installUrl" | "githubUrl" | "automatic">) {
  return (
    <section aria-labelledby="installations-title">
      <div className="section-head">
        <h2 id="installations-title">Installations</h2>
        <a className="button secondary" href={installUrl}>
          Install on more repositories
        </a>
      </div>
      {installations.length === 0 ? (
        <div className="card empty">
          <p>
            <strong>No installations you can see yet.</strong> Install Bisect Bot on an account or
            organisation you belong to, then come back here.
          </p>
          <p>
            <a href={installUrl}>Install Bisect Bot on GitHub</a>
          </p>
        </div>
      ) : (
        <ul className="installations">
          {installations.map((inst) => (
            <li key={inst.id} className="card">
              <h3>
                <a href={`${githubUrl}/${inst.accountLogin}`}>{inst.accountLogin}</a>{" "}
                <span className="muted">
                  {inst.accountType === "Organization" ? "organisation" : "account"} · {inst.tier}{" "}
                  plan
                </span>
                {inst.suspended ? <span className="badge s-failed">suspended</span> : null}
              </h3>
              {inst.repositories === null ? (
                <p className="muted">
                  GitHub could not list the repositories just now; reload to try again.
                </p>
              ) : inst.repositories.length === 0 ? (
                <p className="muted">No repositories you can see in this installation.</p>
              ) : (
                <ul className="repo-list" aria-label={`Repositories of ${inst.accountLogin}`}>
                  {inst.repositories.map((r) => (
                    <li key={r.id}>
                      <a href={`${githubUrl}/${r.fullName}`}>{r.fullName}</a>
                      {r.private ? <span className="tag">private</span> : null}
                    </li>
                  ))}
                </ul>
              )}
              {automatic[inst.id] ? (
                <p className="muted small automatic-off">
                  Automatic bisection is off: {automatic[inst.id]}.
                </p>
              ) : null}
              <p className="muted small">
                {inst.repositorySelection === "all"
                  ? "All repositories of this account."
                  : "Selected repositories."}
              </p>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Usage({ usage }: Pick<Data, "usage">) {
  if (usage.length === 0) return null;
  return (
    <section aria-labelledby="usage-title">
      <h2 id="usage-title">Usage this month</h2>
      <div className="usage-grid">
        {usage.map((u) => (
          <div key={u.installationId} className="card usage">
            <h3>
              {u.accountLogin} <span className="muted">· {u.tier} plan</span>
            </h3>
            <dl className="usage-figures">
              <div>
                <dt>Jobs</dt>
                <dd>
                  {u.thisMonth.jobs}
                  {u.jobsPerMonth !== null ? ` of ${u.jobsPerMonth}` : " (no limit)"}
                  {u.jobsPerMonth !== null ? (
                    <meter
                      min={0}
                      max={u.jobsPerMonth}
                      value={Math.min(u.thisMonth.jobs, u.jobsPerMonth)}
                      low={u.jobsPerMonth * 0.7}
                      high={u.jobsPerMonth * 0.9}
                      optimum={0}
                      aria-label="Jobs used this month"
                    />
                  ) : null}
                </dd>
              </div>
              <div>
                <dt>Compute</dt>
                <dd>
                  {plural(u.thisMonth.computeMinutes, "minute")}
                  <span className="muted small block">up to {u.maxDurationMinutes} min a job</span>
                </dd>
              </div>
              <div>
                <dt>Each run</dt>
                <dd>
                  {plural(u.run.cpus, "CPU")}, {formatMiB(u.run.memoryMb)} memory
                  <span className="muted small block">
                    {formatMiB(u.run.workMb)} disk, up to {u.run.timeoutMinutes} min
                  </span>
                </dd>
              </div>
              <div>
                <dt>Running now</dt>
                <dd>
                  {u.running} of {u.maxConcurrent} at once
                </dd>
              </div>
            </dl>
            <UsageChart
              history={u.history}
              limit={u.jobsPerMonth}
              id={`usage-${u.installationId}`}
            />
          </div>
        ))}
      </div>
    </section>
  );
}

function Jobs({
  page,
  filters,
  repositoryOptions,
  githubUrl,
}: Pick<Data, "page" | "filters" | "repositoryOptions" | "githubUrl">) {
  const navigation = useNavigation();
  const filtered = Boolean(filters.status || filters.repo);
  return (
    <section aria-labelledby="jobs-title" id="jobs">
      <h2 id="jobs-title">Recent jobs</h2>
      <Form method="get" className="filters" aria-label="Filter jobs">
        <label>
          Status
          <select name="status" defaultValue={filters.status ?? ""}>
            <option value="">Any status</option>
            {JOB_STATUS_LIST.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Repository
          <select name="repo" defaultValue={filters.repo ? String(filters.repo) : ""}>
            <option value="">Any repository</option>
            {repositoryOptions.map((r) => (
              <option key={r.id} value={r.id}>
                {r.fullName}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={navigation.state === "loading"}>
          Filter
        </button>
        {filtered ? <Link to="/dashboard#jobs">Clear filters</Link> : null}
      </Form>
      {page.jobs.length === 0 ? (
        <div className="card empty">
          {filtered ? (
            <p>
              No jobs match these filters. <Link to="/dashboard#jobs">Show all jobs</Link>
            </p>
          ) : (
            <p>
              <strong>No jobs yet.</strong> Comment{" "}
              <code>/bisect &lt;good&gt; &lt;bad&gt; -- &lt;command&gt;</code> on an issue of an
              installed repository, and the job appears here.
            </p>
          )}
        </div>
      ) : (
        <div className="table-wrap">
          <table className="jobs">
            <caption className="visually-hidden">Jobs, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Repository</th>
                <th scope="col">Range</th>
                <th scope="col">Status</th>
                <th scope="col">Result</th>
                <th scope="col">Requested</th>
              </tr>
            </thead>
            <tbody>
              {page.jobs.map((job) => (
                <tr key={job.id}>
                  <td data-label="Job">
                    <Link to={`/dashboard/jobs/${job.id}`}>#{job.id}</Link>
                  </td>
                  <td data-label="Repository">
                    {job.repository ?? "—"}
                    {job.repository && job.issueNumber ? (
                      <>
                        {" "}
                        <a
                          href={`${githubUrl}/${job.repository}/issues/${job.issueNumber}`}
                          aria-label={`Issue ${job.issueNumber} of ${job.repository}`}
                        >
                          #{job.issueNumber}
                        </a>
                      </>
                    ) : null}
                  </td>
                  <td data-label="Range">
                    <code>{job.goodRef}</code>…<code>{job.badRef}</code>
                  </td>
                  <td data-label="Status">
                    <StatusBadge status={job.status} /> <AutomaticBadge source={job.source} />
                  </td>
                  <td data-label="Result">
                    {job.outcome ?? "—"}
                    {job.culpritSha ? (
                      <>
                        {" "}
                        <code>{shortSha(job.culpritSha)}</code>
                      </>
                    ) : null}
                  </td>
                  <td data-label="Requested">
                    {formatDate(job.createdAt)}
                    {job.requesterLogin ? (
                      <span className="muted"> by {job.requesterLogin}</span>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page.newer !== null || page.older !== null ? (
        <nav aria-label="Job pages" className="pager">
          {page.newer !== null ? (
            <Link to={pageLink(filters, { after: page.newer })}>← Newer jobs</Link>
          ) : (
            <span />
          )}
          {page.older !== null ? (
            <Link to={pageLink(filters, { before: page.older })}>Older jobs →</Link>
          ) : (
            <span />
          )}
        </nav>
      ) : null}
    </section>
  );
}

export default function Dashboard() {
  const data = useLoaderData<typeof loader>();
  return (
    <>
      <h1>Dashboard</h1>
      <Jobs
        page={data.page}
        filters={data.filters}
        repositoryOptions={data.repositoryOptions}
        githubUrl={data.githubUrl}
      />
      <Usage usage={data.usage} />
      <Installations
        installations={data.installations}
        installUrl={data.installUrl}
        githubUrl={data.githubUrl}
        automatic={data.automatic}
      />
    </>
  );
}
