// The words of an automatic bisection's answer. Pure: the header above the usual result (which
// says it was automatic, which check, where it passed and failed, and whom it concerns), and the
// body of a direct report (the red commit's parent was green: no run was needed).
import type { AutoBisection } from "../../../db/models";
import { code, fence, shellQuote, text } from "../markdown";
import type { CommitDetails } from "../render";

export const AUTO_MARKER = (id: number) => `<!-- bisect-bot:auto id=${id} -->`;

export interface AutoView {
  auto: Pick<
    AutoBisection,
    "id" | "checkName" | "greenSha" | "redSha" | "checkRunUrl" | "joinedRuns"
  >;
  repo: { owner: string; name: string };
  defaultBranch: string;
  webUrl: string;
  culprit: CommitDetails | null;
  /** Only a sure answer mentions the culprit's author. */
  certain: boolean;
}

const commitLink = (v: AutoView, sha: string) =>
  `[\`${sha.slice(0, 7)}\`](${v.webUrl}/${v.repo.owner}/${v.repo.name}/commit/${sha})`;

/** GitHub logins: letters, digits and single hyphens (anything else is not mentioned). */
const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;

export function renderAutoHeader(v: AutoView): string {
  const { auto } = v;
  const run = auto.checkRunUrl ? ` ([check run](${auto.checkRunUrl}))` : "";
  const joined =
    auto.joinedRuns > 0
      ? ` ${auto.joinedRuns} later red run${auto.joinedRuns === 1 ? "" : "s"} of it joined this bisection.`
      : "";
  const lines = [
    `### 🤖 Automatic bisection: ${code(auto.checkName)} turned red on ${code(v.defaultBranch)}`,
    "",
    `${code(auto.checkName)} passed at ${commitLink(v, auto.greenSha)} and failed at ${commitLink(v, auto.redSha)}${run}.${joined} Nobody asked: the check is listed under \`auto:\` in \`.github/bisect.yml\`.`,
  ];
  const login = v.culprit?.authorLogin;
  if (v.certain && login && LOGIN.test(login))
    lines.push("", `@${login}, the first bad commit below is yours: could you take a look?`);
  else if (!v.certain) lines.push("", "The answer is not certain, so nobody is mentioned.");
  return lines.join("\n");
}

export function renderDirectBody(v: AutoView, command: string): string {
  const { auto, culprit } = v;
  const title = culprit?.title ? ` ${text(culprit.title)}` : "";
  const lines = [
    `**First bad commit:** [\`${auto.redSha.slice(0, 7)}\`${title}](${v.webUrl}/${v.repo.owner}/${v.repo.name}/commit/${auto.redSha})`,
  ];
  if (culprit?.authorLogin || culprit?.authorName)
    lines.push(
      `by ${culprit.authorLogin ? `[${text(culprit.authorLogin)}](${v.webUrl}/${culprit.authorLogin})` : text(culprit.authorName!)}${culprit.date ? ` on ${culprit.date.slice(0, 10)}` : ""}`,
    );
  if (culprit?.pull)
    lines.push(
      `from pull request [#${culprit.pull.number} ${text(culprit.pull.title)}](${culprit.pull.url})`,
    );
  const reproduce = [
    "npm",
    "run",
    "-s",
    "bisect",
    "--",
    "--repo",
    `${v.webUrl}/${v.repo.owner}/${v.repo.name}.git`,
    "--good",
    auto.greenSha,
    "--bad",
    auto.redSha,
    "--",
    command,
  ]
    .map(shellQuote)
    .join(" ");
  return [
    lines.join("  \n"),
    "",
    `${code(auto.checkName)} passed on its parent ${commitLink(v, auto.greenSha)} and failed on it, so no bisection was needed.`,
    "",
    `<details><summary>Reproduce locally</summary>\n\nWith a checkout of Bisect Bot (\`npm ci\` once, Docker running):\n\n${fence(reproduce, "sh")}\n\n</details>`,
  ].join("\n");
}

export function issueTitle(v: AutoView): string {
  const what = v.culprit?.title ? `: ${v.culprit.title}` : "";
  return `${v.auto.checkName} broke on ${v.defaultBranch}${what}`.slice(0, 250);
}
