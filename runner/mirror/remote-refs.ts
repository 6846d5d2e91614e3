// What the remote holds now, asked without a container: `git ls-remote` of the branches and tags
// a mirror fetches, digested. When the digest is the one recorded at the mirror's last fetch, the
// mirror is up to date and no fetch container is started.
//
// The credential travels as in the fetch container: an Authorization header on the first request
// to the source's origin, through the environment (never argv, never a file). git runs with no
// system or user configuration and may speak only http(s) and git, so a source cannot make it run
// a command (ext::) or read a local file (file://).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { credentialHeader, type MirrorSource } from "./mirror";

export interface RemoteRefsOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The refs of `git ls-remote` that a mirror fetches, one `sha ref` a line, in git's order. */
export function mirroredRefs(lsRemoteOutput: string): string[] {
  return lsRemoteOutput
    .split("\n")
    .filter((line) => /^[0-9a-f]{40,64}\trefs\/(heads|tags)\/\S+$/.test(line))
    .sort();
}

/** A digest of the refs a mirror of the source would fetch. */
export function refsDigest(lsRemoteOutput: string): string {
  return createHash("sha256").update(mirroredRefs(lsRemoteOutput).join("\n")).digest("hex");
}

/**
 * The digest of the remote's branches and tags, or null when it cannot be known this way (a
 * repository on the engine's own machine, or the remote did not answer): the caller then fetches
 * as before, and the fetch reports any real problem.
 */
export async function remoteRefsDigest(
  source: MirrorSource,
  options: RemoteRefsOptions = {},
): Promise<string | null> {
  if (source.kind !== "url") return null;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: tmpdir(),
    LC_ALL: "C",
    GIT_TERMINAL_PROMPT: "0",
    GIT_ASKPASS: "",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_ALLOW_PROTOCOL: "http:https:git",
  };
  if (source.password !== undefined) {
    const header = credentialHeader(
      source.url,
      source.username ?? "x-access-token",
      source.password,
    );
    Object.assign(env, {
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: header.key,
      GIT_CONFIG_VALUE_0: header.value,
    });
  }
  const output = await new Promise<string | null>((resolve) => {
    execFile(
      "git",
      ["ls-remote", "--heads", "--tags", "--", source.url],
      {
        // Only these variables: none of the worker's own environment reaches git.
        env: env as NodeJS.ProcessEnv,
        encoding: "utf8",
        maxBuffer: 256 * 1024 * 1024,
        timeout: options.timeoutMs ?? 60_000,
        signal: options.signal,
      },
      // Any failure (and its message, which could echo the source) is left to the fetch.
      (error, stdout) => resolve(error ? null : stdout),
    );
  });
  return output === null ? null : refsDigest(output);
}
