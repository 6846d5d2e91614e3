// What a person reads about a commit: subject, author, date.
import { git } from "./exec";
import { isFullSha } from "./refs";

export interface CommitInfo {
  sha: string;
  subject: string;
  authorName: string;
  authorEmail: string;
  /** Author date, strict ISO 8601. */
  authorDate: string;
}

/** Read one commit's subject, author and author date. `sha` must be a full sha. */
export async function readCommitInfo(
  repo: string,
  sha: string,
  signal?: AbortSignal,
): Promise<CommitInfo> {
  return (await readCommitInfos(repo, [sha], signal))[0]!;
}

/** Read several commits at once (one git process). Order follows `shas`. */
export async function readCommitInfos(
  repo: string,
  shas: readonly string[],
  signal?: AbortSignal,
): Promise<CommitInfo[]> {
  if (shas.length === 0) return [];
  for (const sha of shas)
    if (!isFullSha(sha))
      throw new Error(`readCommitInfo needs full 40-hex shas, got ${JSON.stringify(sha)}`);
  const out = await git(
    [
      "show",
      "-s",
      "--no-walk=unsorted",
      "--format=%H%x00%s%x00%an%x00%ae%x00%aI%x00",
      ...shas,
      "--",
    ],
    {
      cwd: repo,
      signal,
    },
  );
  const fields = out.split("\0");
  const bySha = new Map<string, CommitInfo>();
  for (let i = 0; i + 4 < fields.length; i += 5) {
    const sha = fields[i]!.trim();
    bySha.set(sha, {
      sha,
      subject: fields[i + 1]!,
      authorName: fields[i + 2]!,
      authorEmail: fields[i + 3]!,
      authorDate: fields[i + 4]!,
    });
  }
  return shas.map((sha) => {
    const info = bySha.get(sha);
    if (!info) throw new Error(`commit ${sha} not found`);
    return info;
  });
}
