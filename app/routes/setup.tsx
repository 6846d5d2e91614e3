// GET /setup?installation_id=…&setup_action=install: where GitHub sends someone who has just
// installed the app (the app's Setup URL). The installation webhook may not have arrived yet, so the
// installation is recorded here — but only as GitHub lists it for this person with their own token
// (never from the query string alone) — and they go on to their dashboard.
import { redirect, type LoaderFunctionArgs } from "@remix-run/node";
import { forgetViewer, requireViewer } from "../access.server";
import { readSession, setFlash } from "../session.server";
import { requireSignInSettings } from "../setup.server";

export async function loader({ request }: LoaderFunctionArgs) {
  const settings = requireSignInSettings();
  const signedIn = await readSession(settings, request);
  // Their list of installations changed on GitHub a moment ago: ask again rather than use the cache.
  if (signedIn) forgetViewer(signedIn.user.id);
  // Not signed in: /login, then back here. Signed in: GitHub's list for this person is mirrored
  // into our installations (requireViewer inserts the ones we have not recorded yet).
  const viewer = await requireViewer(request);
  const id = Number(new URL(request.url).searchParams.get("installation_id"));
  const installation = viewer.installations.find((i) => i.id === id);
  const to = installation
    ? await setFlash(
        viewer.session,
        `Bisect Bot is installed on ${installation.accountLogin}.`,
        "/dashboard",
      )
    : "/dashboard";
  return redirect(to, { headers: { "Cache-Control": "no-store" } });
}
