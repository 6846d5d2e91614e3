// GET /auth/github/callback: GitHub sends the person back here with a code and the state.
// Success redirects to where they were going; a failure to /login?error=<code>, which explains it.
import type { LoaderFunctionArgs } from "@remix-run/node";
import { completeSignIn } from "../auth.server";
import { clientIp } from "../load-context";
import { requireSignInSettings } from "../setup.server";

export async function loader({ request, context }: LoaderFunctionArgs) {
  return completeSignIn(requireSignInSettings(), request, {
    ip: clientIp(context),
    userAgent: request.headers.get("User-Agent"),
  });
}
