// Stock-like images for tests of "any image": built once per engine from debian:bookworm-slim and
// found again by their content-hash label (like the runner image), so test files share them.
//
// - `bisect-test-git`: Debian's git, no `safe.directory`, no user 1000 — as in node:20-bookworm or
//   python:3.x-bookworm. A repository owned by another uid makes it fail with "dubious ownership".
// - debian:bookworm-slim itself has no git at all, like node:20-slim or python:3.12-slim.
import { spawnSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import path from "node:path";
import type Docker from "dockerode";
import type { TarEntry } from "../docker/tar";
import { contextHash, ensureRunnerImage, type BuildContext } from "../image";

export const NO_GIT_IMAGE = "debian:bookworm-slim";
export const GIT_IMAGE = "bisect-test-git:latest";

const GIT_DOCKERFILE = `FROM debian:bookworm-slim
RUN export DEBIAN_FRONTEND=noninteractive \\
 && apt-get update -qq \\
 && apt-get install -y -qq --no-install-recommends git \\
 && rm -rf /var/lib/apt/lists/*
`;

export function gitImageContext(): BuildContext {
  const files = [{ name: "Dockerfile", content: GIT_DOCKERFILE, mode: 0o644 }];
  return { files, hash: contextHash(files) };
}

/**
 * Make sure `docker` has the git test image: present with the current hash, copied from `source`
 * when that engine has it, else built (host networking where the bridge has no route out).
 */
export async function ensureGitTestImage(
  docker: Docker,
  options: { source?: Docker; networkMode?: string } = {},
): Promise<string> {
  const context = gitImageContext();
  if (options.source) await ensureRunnerImage(options.source, { tag: GIT_IMAGE, context });
  await ensureRunnerImage(docker, { tag: GIT_IMAGE, context, ...options });
  return GIT_IMAGE;
}

/**
 * Stand-ins for the images the ecosystem table names (runner/settings/ecosystems.ts), for a
 * machine with no access to Docker Hub: built from debian:bookworm-slim with Debian's toolchains
 * and, like the real ones, git without `safe.directory`, no user 1000 and root as the default user.
 * Tests push them into a local registry under the same names, so the product pulls them as it
 * would pull the real ones.
 *
 * The Node one carries this machine's Node 20 with its own npm and corepack in /usr/local, as the
 * official image does: Debian's nodejs is Node 18, and Debian's npm, assembled from separately
 * packaged modules, takes about 0.7 s to start against about 0.3 s for npm's own release — a
 * difference benchmarks against `git bisect run` on this machine would wrongly count against the
 * product.
 */
export const STAND_IN_IMAGES = {
  "node:20-bookworm": { packages: [], links: [], hostNode: true },
  "python:3.12-bookworm": {
    packages: ["python3", "python3-pip", "python3-venv"],
    links: [["/usr/bin/python3", "/usr/local/bin/python"]],
  },
  "rust:1-bookworm": { packages: ["cargo", "rustc", "libc6-dev"], links: [] },
  "golang:1-bookworm": {
    packages: ["golang-go", "gcc", "libc6-dev"],
    links: [],
  },
} as const satisfies Record<
  string,
  { packages: string[]; links: [string, string][]; hostNode?: true }
>;

export type StandInName = keyof typeof STAND_IN_IMAGES;

const NODE_DIST = "node-dist.tar";

// The archive is extracted into /usr/local by ADD; the links are the ones the official image has.
const NODE_LINKS = [
  ["../lib/node_modules/npm/bin/npm-cli.js", "/usr/local/bin/npm"],
  ["../lib/node_modules/npm/bin/npx-cli.js", "/usr/local/bin/npx"],
  ["../lib/node_modules/corepack/dist/corepack.js", "/usr/local/bin/corepack"],
] as const;

let nodeDist: Buffer | undefined;

/**
 * The Node running this code (the project's Node 20) with the npm and corepack installed beside
 * it, as one tar of bin/node and lib/node_modules/{npm,corepack} — made the same way every time
 * (sorted, dated 1970, owned by root), so that its hash changes only with its contents.
 */
export function hostNodeDist(): Buffer {
  if (nodeDist) return nodeDist;
  const prefix = path.resolve(path.dirname(realpathSync(process.execPath)), "..");
  const wanted = ["bin/node", "lib/node_modules/npm", "lib/node_modules/corepack"];
  const missing = wanted.filter((entry) => !existsSync(path.join(prefix, entry)));
  if (missing.length)
    throw new Error(
      `the Node stand-in image needs Node's own npm and corepack beside ${process.execPath}; ` +
        `missing under ${prefix}: ${missing.join(", ")}`,
    );
  const tar = spawnSync(
    "tar",
    ["-c", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner"].concat([
      "-C",
      prefix,
      ...wanted,
    ]),
    { maxBuffer: 1024 * 1024 * 1024 },
  );
  if (tar.status !== 0)
    throw new Error(
      `packing ${prefix}'s Node failed: ${tar.stderr?.toString().trim() || tar.error}`,
    );
  nodeDist = tar.stdout;
  return nodeDist;
}

export function standInContext(name: StandInName): BuildContext {
  const entry = STAND_IN_IMAGES[name] as {
    packages: readonly string[];
    links: readonly (readonly [string, string])[];
    hostNode?: true;
  };
  const links = [...entry.links, ...(entry.hostNode ? NODE_LINKS : [])];
  const link = links.map(([from, to]) => ` && ln -s ${from} ${to} \\\n`).join("");
  const dockerfile = `FROM debian:bookworm-slim
${entry.hostNode ? `ADD ${NODE_DIST} /usr/local/\n` : ""}RUN export DEBIAN_FRONTEND=noninteractive \\
 && apt-get update -qq \\
 && apt-get install -y -qq --no-install-recommends git ca-certificates ${entry.packages.join(" ")} \\
${link} && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
`;
  const files: TarEntry[] = [{ name: "Dockerfile", content: dockerfile, mode: 0o644 }];
  if (entry.hostNode) files.push({ name: NODE_DIST, content: hostNodeDist(), mode: 0o644 });
  return { files, hash: contextHash(files) };
}

/** The local tag a stand-in is built under (`bisect-standin-node:20-bookworm`). */
export const standInTag = (name: StandInName) => `bisect-standin-${name}`;

/**
 * Build (once per engine, by hash label) the stand-in for `name`, or copy it from `source` when
 * that engine has the current one (an engine whose builds cannot reach Debian's mirror).
 */
export async function ensureStandInImage(
  docker: Docker,
  name: StandInName,
  options: { networkMode?: string; onProgress?: (line: string) => void; source?: Docker } = {},
): Promise<string> {
  const tag = standInTag(name);
  await ensureRunnerImage(docker, { tag, context: standInContext(name), ...options });
  return tag;
}
