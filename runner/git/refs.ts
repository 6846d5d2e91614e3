// Refs given by people (issue comments, command lines) are untrusted: validate before git sees them.
import { git, GitError } from "./exec";

const FULL_SHA = /^[0-9a-f]{40}$/;

/** Thrown when a revision is malformed or does not name a commit in the repository. */
export class RefError extends Error {
  override name = "RefError";
  constructor(
    message: string,
    readonly ref: string,
  ) {
    super(message);
  }
}

export function isFullSha(value: string): boolean {
  return FULL_SHA.test(value);
}

/**
 * Reject what could be read as an option or as more than one plain revision: empty, leading `-`,
 * whitespace/control characters, `..` ranges, `:` paths and searches, `@{…}` reflog lookups,
 * glob characters, `^{…}`/`^!`/`^@` forms. Allowed: a sha, tag or branch name optionally followed
 * by ancestry steps `~N` / `^N` (`HEAD~3`, `v1.2^2`).
 * Returns a message, or null when the ref is acceptable.
 */
export function refProblem(ref: string): string | null {
  if (ref.length === 0) return "is empty";
  if (ref.length > 255) return "is longer than 255 characters";
  if (ref.startsWith("-")) return "starts with '-'";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f]/.test(ref)) return "contains whitespace or control characters";
  if (ref.includes("..")) return "contains '..' (give one revision, not a range)";
  if (/[:?*[\\]/.test(ref)) return "contains one of : ? * [ \\";
  if (ref.includes("@{")) return "contains '@{'";
  const name = /^[^~^]+/.exec(ref)?.[0];
  if (!name) return "has no name before '~' or '^'";
  if (!/^(?:[~^]\d*)*$/.test(ref.slice(name.length)))
    return "uses '~' or '^' other than as ancestry steps like ~2 or ^2";
  return null;
}

export function validateRef(ref: string): void {
  const problem = refProblem(ref);
  if (problem) throw new RefError(`invalid revision ${JSON.stringify(ref)}: it ${problem}`, ref);
}

/**
 * Resolve a sha (full or abbreviated), tag or branch to the full sha of the commit it names
 * (`git rev-parse --verify --end-of-options <ref>^{commit}`; annotated tags are peeled).
 */
export async function resolveRef(repo: string, ref: string, signal?: AbortSignal): Promise<string> {
  validateRef(ref);
  try {
    const out = await git(
      ["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`],
      {
        cwd: repo,
        signal,
      },
    );
    const sha = out.trim();
    if (!isFullSha(sha)) throw new RefError(`unknown revision ${JSON.stringify(ref)}`, ref);
    return sha;
  } catch (error) {
    if (error instanceof GitError) {
      throw new RefError(
        `unknown revision ${JSON.stringify(ref)}: no commit of that name in the repository`,
        ref,
      );
    }
    throw error;
  }
}
