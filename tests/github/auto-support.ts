// For automatic bisection tests: a commit on main whose bisect.yml lists checks under `auto:`.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Fixture } from "./support";

/** Commits a bisect.yml mapping each check to ./test.sh; returns the new head of main. */
export function commitAutoConfig(f: Fixture, checks: string[], notify: string): string {
  const env: NodeJS.ProcessEnv = {
    NODE_ENV: "test",
    PATH: process.env.PATH,
    HOME: f.work,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "Carol Example",
    GIT_AUTHOR_EMAIL: "carol@example.com",
    GIT_COMMITTER_NAME: "Carol Example",
    GIT_COMMITTER_EMAIL: "carol@example.com",
  };
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", f.repoPath, ...args], { env, encoding: "utf8" }).trim();
  writeFileSync(
    path.join(f.repoPath, ".github", "bisect.yml"),
    [
      "setup: echo setting up",
      "timeout: 5m",
      "runs: 1",
      "auto:",
      "  checks:",
      ...checks.map((c) => `    ${c}: ./test.sh`),
      `  notify: ${notify}`,
      "",
    ].join("\n"),
  );
  git("commit", "-q", "-am", `Bisect checks automatically (${notify})`);
  return git("rev-parse", "HEAD");
}
