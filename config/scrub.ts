// Removes credentials from text shown to people or written to logs (log excerpts and errors in
// issue comments, structured logs). Pure; applied to everything that came out of a run.

const RULES: Array<[RegExp, string | ((...m: string[]) => string)]> = [
  // PEM blocks (private keys, certificates): the whole block.
  [
    /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?(?:-----END \1-----|$)/g,
    (_m, label) => `[${label!.toLowerCase()} removed]`,
  ],
  // Authorization headers, as printed by curl -v, git's GIT_TRACE_CURL, HTTP clients.
  [
    /\b((?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:(bearer|token|basic|digest)\s+)?[^\s"',;]+/gi,
    (_m, head, scheme) => `${head}${scheme ? `${scheme} ` : ""}[redacted]`,
  ],
  // Credentials inside URLs: https://x-access-token:TOKEN@host, https://user:password@host.
  [
    /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:/@]+):[^\s@/]+@/gi,
    (_m, scheme, user) => `${scheme}${user}:[redacted]@`,
  ],
  [/\bx-access-token:[^\s@]+@/gi, "x-access-token:[redacted]@"],
  // GitHub tokens: personal, OAuth, user-to-server, server-to-server (installation), refresh.
  [/\bgithub_pat_[A-Za-z0-9_]{20,}/g, "[redacted token]"],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/g, "[redacted token]"],
  // JSON Web Tokens (an app's signed JWT).
  [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/g, "[redacted jwt]"],
];

export function scrubSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) {
    out = out.replace(pattern, replacement as (substring: string, ...args: string[]) => string);
  }
  return out;
}
