// GET /auth/github/callback: the earlier OAuth Callback URL, still answered (the same as
// /auth/callback) so a sign-in begun under it completes.
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
