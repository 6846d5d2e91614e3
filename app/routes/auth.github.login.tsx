// GET /auth/github/login[?redirectTo=/path]: "Sign in with GitHub", under the name deployment
// guides use for it; the same as /auth/github.
export { loader } from "./auth.github";
