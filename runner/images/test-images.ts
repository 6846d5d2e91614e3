// Stock-like images for tests of "any image": built once per engine from debian:bookworm-slim and
// found again by their content-hash label (like the runner image), so test files share them.
//
// - `bisect-test-git`: Debian's git, no `safe.directory`, no user 1000 — as in node:20-bookworm or
//   python:3.x-bookworm. A repository owned by another uid makes it fail with "dubious ownership".
// - debian:bookworm-slim itself has no git at all, like node:20-slim or python:3.12-slim.
import type Docker from "dockerode";
import { contextHash, ensureRunnerImage, type BuildContext } from "../image.js";

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
