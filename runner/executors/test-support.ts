// Shared by the executor tests: real git repositories in temp dirs and the Docker engines to run on.
//
// Engines: DOCKER_HOST (default unix:///var/run/docker.sock) and, for TLS, the last entry of
// BISECT_ENGINE_TLS_HOSTS with the client material in BISECT_ENGINE_CERTS. When those are unset
// the layout of the development engines (shared/docker/engines.sh, BISECT_ENGINES_DIR, default
// /var/lib/bisect-engines) is used if present.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type Docker from "dockerode";
import { connectDocker, describeDockerError } from "../docker/connect";
import { defaultLimits, type Limits, type RunSpec } from "./types";

export interface TestRepo {
  dir: string;
  /** Commit shas, oldest first. */
  shas: string[];
}

/**
 * A git repository with `count` commits; commit i writes `version.txt` = i and `check.sh`, which
 * fails from commit `badFrom` on. The directory is 0755 so uid 1000 in a container can read it.
 */
export function makeRepo(count = 3, badFrom = count): TestRepo {
  const dir = mkdtempSync(path.join(tmpdir(), "bisect-repo-"));
  chmodSync(dir, 0o755);
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", dir, ...args], {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: dir,
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_AUTHOR_NAME: "Test",
        GIT_AUTHOR_EMAIL: "test@example.invalid",
        GIT_COMMITTER_NAME: "Test",
        GIT_COMMITTER_EMAIL: "test@example.invalid",
      } as unknown as NodeJS.ProcessEnv,
    }).trim();
  git("init", "-q", "-b", "main");
  const shas: string[] = [];
  for (let i = 0; i < count; i++) {
    writeFileSync(path.join(dir, "version.txt"), `${i}\n`);
    writeFileSync(
      path.join(dir, "check.sh"),
      i >= badFrom ? "echo broken; exit 1\n" : "echo fine; exit 0\n",
    );
    git("add", "version.txt", "check.sh");
    git("commit", "-q", "-m", `commit ${i}`);
    shas.push(git("rev-parse", "HEAD"));
  }
  return { dir, shas };
}

export type SpecOverrides = Partial<Omit<RunSpec, "limits">> & { limits?: Partial<Limits> };

export function specFor(repo: TestRepo, overrides: SpecOverrides = {}): RunSpec {
  const { limits, ...rest } = overrides;
  return {
    labels: {},
    repo: { kind: "host-path", path: repo.dir },
    sha: repo.shas[repo.shas.length - 1]!,
    command: "true",
    timeoutMs: 30_000,
    network: false,
    logLimitBytes: 64 * 1024,
    ...rest,
    limits: {
      ...defaultLimits,
      memoryBytes: 256 * 1024 * 1024,
      workBytes: 64 * 1024 * 1024,
      ...limits,
    },
  };
}

export interface EngineUnderTest {
  name: string;
  endpoint: string;
  docker?: Docker;
  /** Why the engine cannot be used, when it cannot. */
  unavailable?: string;
}

function developmentEnginesDir(): string | undefined {
  const dir = process.env.BISECT_ENGINES_DIR ?? "/var/lib/bisect-engines";
  return existsSync(path.join(dir, "run")) ? dir : undefined;
}

/** Host 1 over its unix socket and a TLS host, each probed with a ping. */
export async function enginesUnderTest(): Promise<EngineUnderTest[]> {
  const devDir = developmentEnginesDir();
  const unixEndpoint =
    process.env.DOCKER_HOST ??
    (devDir && existsSync(path.join(devDir, "run/h1.sock"))
      ? `unix://${path.join(devDir, "run/h1.sock")}`
      : "unix:///var/run/docker.sock");
  const certs =
    process.env.BISECT_ENGINE_CERTS ?? (devDir ? path.join(devDir, "certs") : undefined);
  let tlsHosts = (process.env.BISECT_ENGINE_TLS_HOSTS ?? "").split(",").filter(Boolean);
  if (tlsHosts.length === 0 && devDir) {
    const count = readdirSync(path.join(devDir, "run")).filter((f) => /^h\d+\.pid$/.test(f)).length;
    tlsHosts = Array.from({ length: count }, (_, i) => `tcp://127.0.0.1:${23761 + i}`);
  }
  const tlsEndpoint = tlsHosts[tlsHosts.length - 1];

  const probe = async (
    name: string,
    endpoint: string | undefined,
    tls?: string,
  ): Promise<EngineUnderTest> => {
    if (!endpoint)
      return {
        name,
        endpoint: "-",
        unavailable: "no TLS engine configured (BISECT_ENGINE_TLS_HOSTS)",
      };
    if (tls === undefined && !endpoint.startsWith("unix://")) {
      return { name, endpoint, unavailable: "no TLS client material (BISECT_ENGINE_CERTS)" };
    }
    try {
      const docker = connectDocker(endpoint, { tls });
      await (docker.ping as (o: { abortSignal: AbortSignal }) => Promise<unknown>).call(docker, {
        abortSignal: AbortSignal.timeout(5_000),
      });
      return { name, endpoint, docker };
    } catch (err) {
      return {
        name,
        endpoint,
        unavailable: `${endpoint} unreachable: ${describeDockerError(err)}`,
      };
    }
  };
  return Promise.all([
    probe("unix socket (host 1)", unixEndpoint),
    probe("TLS", tlsEndpoint, certs),
  ]);
}

/** Docker tests fail instead of skipping in CI. */
export const dockerRequired = process.env.CI === "true";
