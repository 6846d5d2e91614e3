import type { MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { getConfig } from "~/config.server";

export const meta: MetaFunction = () => [
  { title: "Bisect Bot — find the commit that broke it" },
  { name: "description", content: "Comment /bisect on an issue; Bisect Bot finds the first bad commit." },
];

export async function loader() {
  const config = getConfig();
  return {
    setupMissing: config.githubMissing,
    installUrl: config.github ? `${config.github.webUrl}/apps/${config.github.appSlug}/installations/new` : null,
  };
}

export default function Index() {
  const { setupMissing, installUrl } = useLoaderData<typeof loader>();
  return (
    <>
      <section className="hero">
        <h1>Find the commit that broke it.</h1>
        <p className="lead">
          Comment on an issue and Bisect Bot runs your test on the commits in between — in isolated,
          hardened containers, several at once — and answers with the first bad commit.
        </p>
        {installUrl ? (
          <p className="actions">
            <a className="button" href={installUrl}>
              Install on GitHub
            </a>
          </p>
        ) : null}
      </section>

      {setupMissing.length > 0 ? (
        <section className="card setup" aria-labelledby="setup-title">
          <h2 id="setup-title">Setup mode: GitHub is not configured yet</h2>
          <p>
            Bisect Bot is running, but it cannot talk to GitHub until these environment variables are
            set (see <code>.env.example</code> and <code>docs/deploy.md</code>):
          </p>
          <ul>
            {setupMissing.map((name) => (
              <li key={name}>
                <code>{name}</code>
              </li>
            ))}
          </ul>
          <p>Until then, GitHub-facing routes answer 503. The command-line bisector works without GitHub.</p>
        </section>
      ) : null}

      <section className="card" aria-labelledby="example-title">
        <h2 id="example-title">How it works</h2>
        <p>A maintainer comments on an issue:</p>
        <pre>
          <code>/bisect v1.4.0 main -- npm test -- -t &quot;parses dates&quot;</code>
        </pre>
        <p>and Bisect Bot answers in the thread:</p>
        <blockquote>
          <p>
            <strong>First bad commit: a1b2c3d</strong> “Parse dates in local time” by @someone — found in 4
            rounds, 11 runs, 2 min 10 s.
          </p>
        </blockquote>
      </section>
    </>
  );
}
