// POST /logout (with the session's CSRF token) signs out; GET does nothing but go home.
import { redirect, type ActionFunctionArgs } from "@remix-run/node";
import { clientIp } from "../load-context";
import { forgetViewer } from "../access.server";
import { audit, signOut } from "../auth.server";
import { readSession, requireCsrf } from "../session.server";
import { requireSignInSettings } from "../setup.server";

export async function loader() {
  return redirect("/");
}

export async function action({ request, context }: ActionFunctionArgs) {
  const settings = requireSignInSettings();
  const signedIn = await readSession(settings, request);
  if (signedIn) {
    requireCsrf(signedIn.session, await request.formData());
    forgetViewer(signedIn.user.id);
    await audit(signedIn.user.login, "user.sign_out", signedIn.user.id, clientIp(context));
  }
  return signOut(settings, request, "/");
}

export default function Logout() {
  return null;
}
