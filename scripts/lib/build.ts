// `remix build` when build/ is older than what it bundles: app/ and the config/, db/ and jobs/
// code app imports. Always a production build (NODE_ENV=production): under vitest NODE_ENV is
// "test", which would bundle React's development JSX that a production server lacks.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

const SOURCES = ["app", "config", "db", "jobs", "remix.config.js"];

function newestMtime(target: string): number {
  if (!existsSync(target)) return 0;
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(target, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    newest = Math.max(newest, newestMtime(path.join(target, entry.name)));
  }
  return newest;
}

export function isBuildFresh(): boolean {
  if (!existsSync("build/index.js")) return false;
  const built = statSync("build/index.js").mtimeMs;
  const production = !readFileSync("build/index.js", "utf8").includes("jsx-dev-runtime");
  return production && built > Math.max(...SOURCES.map(newestMtime));
}

/** Builds when stale; returns whether it built. */
export function buildIfStale(log: (message: string) => void = () => {}): boolean {
  if (isBuildFresh()) return false;
  log("building the web app (remix build)");
  const result = spawnSync(process.execPath, ["node_modules/@remix-run/dev/dist/cli.js", "build"], {
    encoding: "utf8",
    env: { ...process.env, NODE_ENV: "production" },
  });
  if (result.status !== 0)
    throw new Error(`remix build failed:\n${result.stdout}\n${result.stderr}`);
  return true;
}
