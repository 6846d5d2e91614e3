// GET /auth/github[?redirectTo=/path]: starts "Sign in with GitHub" (state + PKCE), 503 in setup mode.
import type { LoaderFunctionArgs } from "@remix-run/node";
import { beginSignIn } from "../auth.server";
import { requireSignInSettings } from "../setup.server";

export async function loader({ request }: LoaderFunctionArgs) {
  return beginSignIn(requireSignInSettings(), request);
}

// Never rendered (the loader always redirects); errors show in the root error boundary.
export default function StartSignIn() {
  return null;
}
