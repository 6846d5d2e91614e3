// The dashboard's frame: who is signed in, sign out, and the notice after an action.
import type { LoaderFunctionArgs } from "@remix-run/node";
import { Form, Link, Outlet, useLoaderData, type ShouldRevalidateFunction } from "@remix-run/react";
import { requireViewer } from "../access.server";
import { readFlash } from "../session.server";

export async function loader({ request }: LoaderFunctionArgs) {
  const viewer = await requireViewer(request);
  return {
    login: viewer.user.login,
    name: viewer.user.name,
    csrf: viewer.session.csrfToken,
    flash: readFlash(viewer.session, request),
  };
}

/** Live updates of a job page revalidate the page, not this frame. */
export const shouldRevalidate: ShouldRevalidateFunction = ({
  formMethod,
  currentUrl,
  nextUrl,
  defaultShouldRevalidate,
}) => (formMethod || currentUrl.href !== nextUrl.href ? defaultShouldRevalidate : false);

export default function DashboardLayout() {
  const { login, name, csrf, flash } = useLoaderData<typeof loader>();
  return (
    <>
      <div className="dash-bar">
        <nav aria-label="Dashboard">
          <Link to="/dashboard">Overview</Link>
        </nav>
        <div className="who">
          <span>
            Signed in as <strong>{login}</strong>
            {name ? <span className="muted"> ({name})</span> : null}
          </span>
          <Form method="post" action="/logout" reloadDocument>
            <input type="hidden" name="csrf" value={csrf} />
            <button type="submit" className="link-button">
              Sign out
            </button>
          </Form>
        </div>
      </div>
      {flash ? (
        <p className="notice" role="status">
          {flash}
        </p>
      ) : null}
      <Outlet />
    </>
  );
}
