// GET /auth/github/callback: GitHub sends the person back here with a code and the state.
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

// Never rendered (the loader redirects or throws); failures show in the root error boundary.
export default function SignInCallback() {
  return null;
}
