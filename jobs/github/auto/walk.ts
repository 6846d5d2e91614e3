// Finding the last green commit of a check: GitHub's own record of the check, walking the first
// parents back from the red commit. Reads only (contents and checks); no git, no clone.
import type { Octokit } from "@octokit/rest";
import { colourOf, type Colour } from "./events";

/** First-parent commits looked at before giving up (each costs two API reads). */
export const MAX_WALK = 50;

export interface Repo {
  owner: string;
  name: string;
}

/** The check's latest completed result on a commit: red, green, or null (not run, skipped…). */
export async function checkColour(
  gh: Octokit,
  repo: Repo,
  sha: string,
  checkName: string,
): Promise<Colour | null> {
  const { data } = await gh.rest.checks.listForRef({
    owner: repo.owner,
    repo: repo.name,
    ref: sha,
    check_name: checkName,
    status: "completed",
    filter: "latest",
    per_page: 100,
  });
  const runs = data.check_runs
    .filter((r) => r.name === checkName && r.status === "completed")
    .sort((a, b) => Date.parse(b.completed_at ?? "") - Date.parse(a.completed_at ?? ""));
  return colourOf(runs[0]?.conclusion ?? null);
}

async function firstParent(gh: Octokit, repo: Repo, sha: string): Promise<string | null> {
  const { data } = await gh.rest.repos.getCommit({
    owner: repo.owner,
    repo: repo.name,
    ref: sha,
    per_page: 1,
  });
  return data.parents[0]?.sha ?? null;
}

export type Walk =
  /**
   * `green`: the check's last success before `redSha`; `firstRed`: the oldest commit after it (on
   * the first-parent path) where the check failed — the bad end of the bisection. `direct`: the
   * first red commit's parent is the green one, so it is the culprit and nothing needs to run.
   */
  | { kind: "found"; green: string; firstRed: string; direct: boolean; looked: number }
  | { kind: "none"; looked: number; reason: string };

/** Walks first parents from `redSha` (whose check is red) to the check's last green commit. */
export async function findLastGreen(
  gh: Octokit,
  repo: Repo,
  checkName: string,
  redSha: string,
  max = MAX_WALK,
): Promise<Walk> {
  let firstRed = redSha;
  // Whether the commit just after the current one (towards the red end) was itself red.
  let childIsFirstRed = true;
  let sha = redSha;
  for (let looked = 1; looked <= max; looked++) {
    const parent = await firstParent(gh, repo, sha);
    if (!parent)
      return { kind: "none", looked, reason: "the history has no earlier commit where it passed" };
    const colour = await checkColour(gh, repo, parent, checkName);
    if (colour === "green")
      return { kind: "found", green: parent, firstRed, direct: childIsFirstRed, looked };
    if (colour === "red") {
      firstRed = parent;
      childIsFirstRed = true;
    } else childIsFirstRed = false;
    sha = parent;
  }
  return {
    kind: "none",
    looked: max,
    reason: `it did not pass on any of the last ${max} first-parent commits`,
  };
}

/** Whether `descendant` is `ancestor` or comes after it (GitHub's compare). */
export async function isDescendant(
  gh: Octokit,
  repo: Repo,
  ancestor: string,
  descendant: string,
): Promise<boolean> {
  if (ancestor === descendant) return true;
  const { data } = await gh.rest.repos.compareCommitsWithBasehead({
    owner: repo.owner,
    repo: repo.name,
    basehead: `${ancestor}...${descendant}`,
    per_page: 1,
  });
  return data.status === "ahead" || data.status === "identical";
}
