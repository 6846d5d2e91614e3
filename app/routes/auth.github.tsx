// GET /auth/github[?redirectTo=/path]: starts "Sign in with GitHub" (state + PKCE); 503 in setup mode.
// A resource route (no component), so /auth/github/callback is not nested under it.
import type { LoaderFunctionArgs } from "@remix-run/node";
import { beginSignIn } from "../auth.server";
import { requireSignInSettings } from "../setup.server";

export async function loader({ request }: LoaderFunctionArgs) {
  return beginSignIn(requireSignInSettings(), request);
}
