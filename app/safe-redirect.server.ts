// Where to go after signing in. Only a path on this site is accepted, so a crafted link cannot
// send someone elsewhere (an open redirect).

const MAX_LENGTH = 2048;

/**
 * `to` when it is a same-origin relative path (`/dashboard?x=1#y`), otherwise `fallback`.
 * Refused: anything not starting with a single `/`, `//host` and `/\host` (browsers read both as
 * another host), any backslash, scheme or control character, and over-long values.
 */
export function safeRedirect(
  to: FormDataEntryValue | string | null | undefined,
  fallback = "/dashboard",
): string {
  if (typeof to !== "string" || to.length === 0 || to.length > MAX_LENGTH) return fallback;
  if (!to.startsWith("/") || to.startsWith("//") || to.includes("\\")) return fallback;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\s]/.test(to)) return fallback;
  const base = "http://same-origin.invalid";
  let url: URL;
  try {
    url = new URL(to, base);
  } catch {
    return fallback;
  }
  if (url.origin !== base) return fallback;
  const path = `${url.pathname}${url.search}${url.hash}`;
  return path.startsWith("//") ? fallback : path;
}
