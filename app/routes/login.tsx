// GET /login?redirectTo=/path[&reason=expired]: where pages send people who are not signed in.
import { redirect, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { SIGN_IN_FAILURES, type SignInFailure } from "../auth.server";
import { safeRedirect } from "../safe-redirect.server";
import { readSession } from "../session.server";
import { requireSignInSettings } from "../setup.server";

export const meta: MetaFunction = () => [{ title: "Sign in — Bisect Bot" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const settings = requireSignInSettings();
  const url = new URL(request.url);
  const redirectTo = safeRedirect(url.searchParams.get("redirectTo"));
  if (await readSession(settings, request)) throw redirect(redirectTo);
  const error = url.searchParams.get("error");
  return {
    signInUrl: `/auth/github?${new URLSearchParams({ redirectTo })}`,
    expired: url.searchParams.get("reason") === "expired",
    // Only our fixed messages, chosen by code: nothing from the URL is shown.
    failure:
      error && Object.hasOwn(SIGN_IN_FAILURES, error)
        ? SIGN_IN_FAILURES[error as SignInFailure]
        : null,
  };
}

export default function Login() {
  const { signInUrl, expired, failure } = useLoaderData<typeof loader>();
  return (
    <section className="card narrow" aria-labelledby="login-title">
      <h1 id="login-title">Sign in</h1>
      {failure ? (
        <p role="alert" className="notice error-notice">
          {failure}
        </p>
      ) : null}
      {expired ? (
        <p role="status" className="notice">
          Your session has ended. Please sign in again.
        </p>
      ) : null}
      <p>
        The dashboard shows the installations, repositories and jobs your GitHub account has access
        to.
      </p>
      <p className="actions">
        <a className="button" href={signInUrl}>
          Sign in with GitHub
        </a>
      </p>
      <p className="muted">
        Bisect Bot asks GitHub who you are and which of its installations you can see; it never gets
        write access to your code.
      </p>
    </section>
  );
}
