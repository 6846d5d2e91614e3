// `.github/bisect.yml` on the default branch, read through the contents API, for automatic
// bisection (its `auto:` section and the repository's defaults).
import type { Octokit } from "@octokit/rest";
import { httpStatus } from "../app-client";
import { CONFIG_PATH, parseRepoConfig, type RepoConfig } from "../repo-config";
import type { Repo } from "./walk";

export type ConfigRead = { ok: true; config: RepoConfig } | { ok: false; problems: string[] };

export async function defaultBranchConfig(gh: Octokit, repo: Repo): Promise<ConfigRead> {
  let data: unknown;
  try {
    ({ data } = await gh.rest.repos.getContent({
      owner: repo.owner,
      repo: repo.name,
      path: CONFIG_PATH,
    }));
  } catch (error) {
    if (httpStatus(error) === 404) return { ok: true, config: {} };
    throw error;
  }
  const file = data as { type?: string; content?: string; encoding?: string };
  if (Array.isArray(data) || file?.type !== "file")
    return { ok: false, problems: [`\`${CONFIG_PATH}\` is not a file`] };
  if (file.encoding !== "base64" || typeof file.content !== "string")
    return { ok: false, problems: ["the file is too large to read (over 1 MB)"] };
  return parseRepoConfig(Buffer.from(file.content, "base64").toString("utf8"));
}
