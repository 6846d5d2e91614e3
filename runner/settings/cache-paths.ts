// `cache:` of bisect.yml (and the CLI's `--config`): `false` turns the repository's dependency
// cache off; a list names extra paths of the checkout (a build directory, a virtualenv) that are
// kept between the steps of the repository on a runner host. They are restored from the cache
// before the setup and saved after a setup that succeeded (run-script.ts), so the test never
// writes into the cache.
//
// A path is relative to the checkout, made of plain names: letters, digits and `._+@-`, separated
// by `/` — no `..`, no `.git`, no leading `/` or `-`, no spaces or control characters. That keeps
// it safe in the run's shell without quoting and inside the checkout.

export const CACHE_LIMITS = { paths: 20, pathLength: 200 } as const;

/** The setting as stored with a job: off, or the extra paths (none: the tools' caches only). */
export type CacheSetting = false | string[];

const SEGMENT = /^[A-Za-z0-9._+@-]+$/;

/** One path's problem, or null. */
export function cachePathProblem(path: string): string | null {
  const shown = JSON.stringify(path.length > 40 ? `${path.slice(0, 40)}…` : path);
  if (path.length === 0) return "has an empty path";
  if (path.length > CACHE_LIMITS.pathLength)
    return `has a path longer than ${CACHE_LIMITS.pathLength} characters (${shown})`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return `has a path with control characters (${shown})`;
  if (path.startsWith("/"))
    return `has an absolute path ${shown} (paths are relative to the checkout)`;
  if (path.startsWith("-")) return `has a path starting with '-' (${shown})`;
  const segments = path.replace(/\/+$/, "").split("/");
  if (segments.some((s) => s === ".."))
    return `has a path with '..' ${shown} (paths stay inside the checkout)`;
  if (segments.every((s) => s === "." || s === ""))
    return `has a path naming the whole checkout (${shown})`;
  if (segments.some((s) => s === ".git"))
    return `has a path inside .git ${shown} (the checkout's own)`;
  if (segments.some((s) => s !== "" && s !== "." && !SEGMENT.test(s)))
    return `has a path with characters other than letters, digits, '._+@-' and '/' (${shown})`;
  return null;
}

/** `target/` and `./target` are `target`. */
export function normalizeCachePath(path: string): string {
  return path
    .split("/")
    .filter((s) => s !== "" && s !== ".")
    .join("/");
}

/**
 * The setting from a parsed YAML value: `false` (off), `true` (the tools' caches only), one path
 * or a list of paths. Problems are phrased after the key, as in "`cache` has …".
 */
export function parseCacheSetting(
  value: unknown,
): { ok: true; cache: CacheSetting } | { ok: false; problems: string[] } {
  if (value === false) return { ok: true, cache: false };
  if (value === true || value === null) return { ok: true, cache: [] };
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list))
    return { ok: false, problems: ["must be false or a list of paths (such as [target, .venv])"] };
  const problems: string[] = [];
  if (list.length > CACHE_LIMITS.paths)
    problems.push(`may list at most ${CACHE_LIMITS.paths} paths`);
  const paths: string[] = [];
  list.forEach((item, i) => {
    const at = list.length > 1 ? ` (item ${i + 1})` : "";
    if (typeof item !== "string") {
      problems.push(`must list paths as strings${at}`);
      return;
    }
    const problem = cachePathProblem(item.trim());
    if (problem) problems.push(`${problem}${at}`);
    else paths.push(normalizeCachePath(item.trim()));
  });
  const seen = new Set<string>();
  for (const p of paths) {
    const nested = paths.find((q) => q !== p && p.startsWith(`${q}/`));
    if (nested) problems.push(`lists ${p} inside ${nested} (name each directory once)`);
    if (seen.has(p)) problems.push(`lists ${p} twice`);
    seen.add(p);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, cache: paths };
}

/** What a job stores of the setting: off, or its paths; nothing for the default (no extra path). */
export function cacheOption(cache: CacheSetting | undefined): { cache?: CacheSetting } {
  if (cache === false) return { cache: false };
  return cache?.length ? { cache } : {};
}
