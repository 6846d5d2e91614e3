// GET /auth/callback: the OAuth callback (the Callback URL registered on the GitHub App). Success
// redirects to where the person was going; a failure to /login?error=<code>, which explains it.
// /auth/github/callback (the earlier Callback URL) does the same.
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
