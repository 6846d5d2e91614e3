// POST /logout (with the session's CSRF token) signs out; GET does nothing but go home.
import { redirect, type ActionFunctionArgs } from "@remix-run/node";
import { forgetViewer } from "../access.server";
import { signOut } from "../auth.server";
import { readSession, requireCsrf } from "../session.server";
import { requireSignInSettings } from "../setup.server";

export async function loader() {
  return redirect("/");
}

export async function action({ request }: ActionFunctionArgs) {
  const settings = requireSignInSettings();
  const signedIn = await readSession(settings, request);
  if (signedIn) {
    requireCsrf(signedIn.session, await request.formData());
    forgetViewer(signedIn.user.id);
  }
  return signOut(settings, request, "/");
}

export default function Logout() {
  return null;
}
