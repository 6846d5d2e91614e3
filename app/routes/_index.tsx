import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { getConfig } from "../config.server";
import { readSession } from "../session.server";
import { signInMissing, signInSettings } from "../setup.server";
import { ExampleComment, RenderedAnswer } from "../components/example";
import { sampleReplyHtml } from "../sample-reply.server";
import { appManifest, isLoopback, newState } from "../app-manifest.server";
import { clientIp } from "../load-context";

export const meta: MetaFunction = () => [
  { title: "Bisect Bot — find the commit that broke it" },
  {
    name: "description",
    content: "Comment /bisect on an issue; Bisect Bot finds the first bad commit.",
  },
];

/** What each setup variable is, for the setup-mode checklist. */
const WHAT: Record<string, string> = {
  GITHUB_APP_ID: "the App ID shown on your GitHub App's settings page",
  GITHUB_APP_SLUG: "the app's URL name (the last part of github.com/apps/…)",
  GITHUB_APP_PRIVATE_KEY:
    "the app's private key (the .pem file), or its path in GITHUB_APP_PRIVATE_KEY_PATH",
  GITHUB_WEBHOOK_SECRET: "the webhook secret set on the app (at least 16 characters)",
  GITHUB_CLIENT_ID: "the app's OAuth client id, for “Sign in with GitHub”",
  GITHUB_CLIENT_SECRET: "the app's OAuth client secret",
  SESSION_SECRET: "signs session cookies — openssl rand -hex 32",
  ENCRYPTION_KEY: "encrypts GitHub tokens at rest — openssl rand -hex 32 (or -base64 32)",
};

export async function loader({ request, context }: LoaderFunctionArgs) {
  const config = getConfig();
  // One-click registration: setup mode, a browser on this machine, and a secret to sign the state.
  const registration =
    !config.github && config.SESSION_SECRET && isLoopback(clientIp(context))
      ? {
          action: `${config.GITHUB_URL}/settings/apps/new?${new URLSearchParams({ state: newState(config.SESSION_SECRET) })}`,
          manifest: JSON.stringify(appManifest(config.publicUrl)),
        }
      : null;
  const settings = signInSettings(config);
  const signedIn = settings ? await readSession(settings, request).catch(() => null) : null;
  return {
    setupMissing: signInMissing(config).map((name) => ({ name, what: WHAT[name] ?? "" })),
    callbackUrl: `${config.publicUrl}/auth/callback`,
    installUrl: config.github
      ? `${config.github.webUrl}/apps/${config.github.appSlug}/installations/new`
      : null,
    signInReady: settings !== null,
    sampleReply: sampleReplyHtml(),
    registration,
    login: signedIn?.user.login ?? null,
  };
}

export default function Index() {
  const { setupMissing, callbackUrl, installUrl, signInReady, login, sampleReply, registration } =
    useLoaderData<typeof loader>();
  return (
    <>
      <section className="hero" aria-labelledby="hero-title">
        <h1 id="hero-title">Find the commit that broke it.</h1>
        <p className="lead">
          Comment on an issue and Bisect Bot runs your test on the commits in between — in isolated,
          hardened containers, several at once — and answers with the first bad commit.
        </p>
        <p className="actions">
          {login ? (
            <Link className="button" to="/dashboard">
              Open your dashboard
            </Link>
          ) : signInReady ? (
            <a className="button" href="/auth/github">
              Sign in with GitHub
            </a>
          ) : null}
          {installUrl ? (
            <a className="button secondary" href={installUrl}>
              Install on GitHub
            </a>
          ) : null}
        </p>
        {login ? <p className="muted">Signed in as {login}.</p> : null}
      </section>

      {setupMissing.length > 0 ? (
        <section className="card setup" aria-labelledby="setup-title">
          <h2 id="setup-title">Setup mode: GitHub is not configured yet</h2>
          {registration ? (
            <form method="post" action={registration.action} className="actions">
              <input type="hidden" name="manifest" value={registration.manifest} />
              <button type="submit" className="button">
                Register the GitHub App
              </button>{" "}
              <span className="muted">
                GitHub creates it with the right permissions, events and URLs; you come back here
                with its credentials.
              </span>
            </form>
          ) : null}
          <p>
            Bisect Bot is running, but it cannot talk to GitHub or sign anyone in until these
            environment variables are set (see <code>.env.example</code>, which documents each one),
            followed by a restart:
          </p>
          <ul className="checklist">
            {setupMissing.map(({ name, what }) => (
              <li key={name}>
                <code>{name}</code>
                {what ? <span className="muted"> — {what}</span> : null}
              </li>
            ))}
          </ul>
          <p>
            Register <code>{callbackUrl}</code> as the app&rsquo;s callback URL. Until then,
            GitHub-facing pages (<code>/auth/…</code>, <code>/dashboard/…</code>,{" "}
            <code>/api/…</code>) answer <strong>503</strong> with this explanation. The command-line
            bisector (<code>npm run bisect</code>) works without GitHub.
          </p>
        </section>
      ) : null}

      <section className="card" aria-labelledby="example-title">
        <h2 id="example-title">How it works</h2>
        <ol className="steps-list">
          <li>
            Install the app on the repositories you want to bisect
            {installUrl ? (
              <>
                {" "}
                (<a href={installUrl}>install</a>)
              </>
            ) : null}
            .
          </li>
          <li>
            On an issue, someone with write access comments{" "}
            <code>/bisect &lt;good&gt; &lt;bad&gt; -- &lt;test command&gt;</code>.
          </li>
          <li>
            Bisect Bot tests commits in between, several at once, each in a fresh container without
            network, and answers in the thread.
          </li>
        </ol>
        <h3>A maintainer comments</h3>
        <ExampleComment />
        <h3>and Bisect Bot answers</h3>
        <RenderedAnswer html={sampleReply} />
      </section>

      <section className="card" aria-labelledby="docs-title">
        <h2 id="docs-title">Documentation</h2>
        <ul>
          <li>
            <Link to="/docs#command">The /bisect command</Link>: revisions, options, cancel and
            retry.
          </li>
          <li>
            <Link to="/docs#results">Reading the answer</Link>: found, ambiguous, flaky and the
            other outcomes.
          </li>
          <li>
            <Link to="/docs#safety">How commands are isolated</Link>: containers, limits and tokens.
          </li>
          <li>
            <Link to="/docs#self-hosting">Running your own</Link>: configuration, runner hosts and
            health checks.
          </li>
        </ul>
      </section>
    </>
  );
}
