// The recipe of a run's container: a run spec in, the engine's create options out. Pure — no
// engine call — so every hardening setting is checked by unit tests without Docker.
//
// The container: the run's image, uid 1000:1000, every capability dropped, no-new-privileges,
// read-only root, memory = memory+swap, CPU quota, pids limit, core dumps off and no file larger
// than the work directory, no network unless the spec asks for it, no log driver (output is
// streamed through an attach and only its tail is kept), never AutoRemove. The repository is
// mounted read-only at /mirror; the run's work directory (its /work, HOME and /tmp) is a
// directory of a checkout box's volume, on disk.
import type Docker from "dockerode";
import { InfrastructureError } from "../errors";
import { CACHE_ENV, CACHE_PATH, cachePathsEnv, READ_ONLY_CACHE_ENV } from "./cache-volume";
import { cachePathProblem } from "../settings/cache-paths";
import { MIRROR_PATH } from "./mounts";
import type { RepoSource, RunSpec } from "./types";

/** Where things live inside the container. */
export const CONTAINER_PATHS = {
  mirror: MIRROR_PATH,
  work: "/work",
  checkout: "/work/src",
  tmp: "/tmp",
} as const;

/** The uid and gid every run uses, whatever users its image defines. */
export const RUNNER_UID = 1000;

/**
 * The usual tools' caches and homes, inside the run's writable work directory (the image's own
 * defaults often point at its read-only root). A run's `env` may override them.
 */
export const TOOL_CACHES: Readonly<Record<string, string>> = {
  XDG_CACHE_HOME: "/work/.cache",
  npm_config_cache: "/work/.npm",
  YARN_CACHE_FOLDER: "/work/.cache/yarn",
  PIP_CACHE_DIR: "/work/.cache/pip",
  CARGO_HOME: "/work/.cargo",
  GOPATH: "/work/go",
  GOMODCACHE: "/work/go/pkg/mod",
  GOCACHE: "/work/.cache/go-build",
  CCACHE_DIR: "/work/.ccache",
};

/** What a container is made of before any run-specific input: everything a pool key covers. */
export interface ContainerPlan {
  image: string;
  repo: RepoSource;
  /** The repository's read-only mount. */
  mounts: Docker.MountSettings[];
  mirrorDir: string;
  env: Record<string, string>;
  limits: RunSpec["limits"];
  network: boolean;
  /** The repository's cache volume (mounted at /cache). */
  cacheVolume?: string;
  /** The cache is read-only in every container of the plan: a run with no setup is all test. */
  cacheReadOnly?: boolean;
}

/** What one container adds to its plan. */
export interface ContainerInput {
  Cmd: string[];
  labels: Record<string, string>;
  /** Keep stdin open (a warm container reads its assignment there). */
  stdin: boolean;
  /** The run's work directory: /work and /tmp. */
  workMounts: Docker.MountSettings[];
  /** Network mode when the plan has network (the executor's), e.g. "bridge". */
  networkMode: string;
  /** Environment of a container with network (the egress proxy's variables). */
  networkEnv?: Record<string, string>;
  /** Mount the cache read-only (the test of a phased run). */
  cacheReadOnly?: boolean;
  /** The engine's init (tini) as PID 1, reaping orphans: a sandbox that outlives its runs. */
  init?: boolean;
  /** The container's own user when not the run's (a sandbox's init and keeper; runs are execs). */
  user?: string;
}

const isSha = (s: string) => /^[0-9a-f]{7,64}$/i.test(s);
const isEnvName = (s: string) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(s);

/** Refuse a spec no container can be made for, naming every problem. */
export function validateSpec(spec: RunSpec): void {
  const problems: string[] = [];
  if (!isSha(spec.sha)) problems.push(`sha must be hexadecimal: ${JSON.stringify(spec.sha)}`);
  if (!spec.command.trim()) problems.push("command is empty");
  if (!(spec.timeoutMs > 0)) problems.push("timeoutMs must be > 0");
  if (!(spec.logLimitBytes >= 0)) problems.push("logLimitBytes must be ≥ 0");
  const { limits } = spec;
  if (!(limits.memoryBytes >= 6 * 1024 * 1024)) problems.push("limits.memoryBytes must be ≥ 6 MiB");
  if (!(limits.nanoCpus > 0)) problems.push("limits.nanoCpus must be > 0");
  if (!(limits.pids > 0)) problems.push("limits.pids must be > 0");
  if (!(limits.workBytes > 0)) problems.push("limits.workBytes must be > 0");
  for (const name of Object.keys(spec.env ?? {}))
    if (!isEnvName(name)) problems.push(`invalid environment name ${JSON.stringify(name)}`);
  for (const p of spec.cachePaths ?? []) {
    const problem = cachePathProblem(p);
    if (problem) problems.push(`cachePaths ${problem}`);
  }
  for (const [k, v] of Object.entries(spec.labels))
    if (!k || typeof v !== "string") problems.push(`invalid label ${JSON.stringify(k)}`);
  if (problems.length) throw new InfrastructureError(`invalid run spec: ${problems.join("; ")}`);
}

/** The plan of a container for `spec`, given its image and its repository mount. */
export function containerPlan(
  spec: RunSpec,
  image: string,
  mirror: { mounts: Docker.MountSettings[]; mirrorDir: string },
): ContainerPlan {
  // No PATH of ours: the image's own (a toolchain's bin directory) stays in effect.
  const env = {
    HOME: CONTAINER_PATHS.work,
    ...TOOL_CACHES,
    ...(spec.cacheVolume ? { ...CACHE_ENV, ...cachePathsEnv(spec.cachePaths ?? []) } : {}),
    ...spec.env,
  };
  return {
    image,
    repo: spec.repo,
    mounts: mirror.mounts,
    mirrorDir: mirror.mirrorDir,
    env,
    limits: spec.limits,
    network: spec.network,
    ...(spec.cacheVolume ? cachePlan(spec.cacheVolume, spec) : {}),
  };
}

/** A run without a setup is all test: its cache is read-only (the setup's, writable). */
function cachePlan(
  cacheVolume: string,
  spec: RunSpec,
): Pick<ContainerPlan, "cacheVolume" | "cacheReadOnly"> {
  return spec.setup?.trim() ? { cacheVolume } : { cacheVolume, cacheReadOnly: true };
}

/** Containers made from plans with the same key are interchangeable before their run is given. */
export function poolKey(plan: ContainerPlan): string {
  const { limits } = plan;
  return JSON.stringify([
    plan.image,
    plan.mounts,
    plan.mirrorDir,
    Object.entries(plan.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    [limits.memoryBytes, limits.nanoCpus, limits.pids, limits.workBytes],
    plan.network,
    plan.cacheVolume ? [plan.cacheVolume, plan.cacheReadOnly === true] : null,
  ]);
}

/** The engine's create options for the hardened container (see the top of this file). */
export function createOptions(
  plan: ContainerPlan,
  run: ContainerInput,
): Docker.ContainerCreateOptions {
  const { limits } = plan;
  const cacheReadOnly =
    plan.cacheVolume !== undefined && (run.cacheReadOnly === true || plan.cacheReadOnly === true);
  return {
    Image: plan.image,
    Cmd: run.Cmd,
    Entrypoint: [],
    User: run.user ?? `${RUNNER_UID}:${RUNNER_UID}`,
    WorkingDir: CONTAINER_PATHS.work,
    Env: Object.entries({
      ...(cacheReadOnly ? readOnlyCacheEnv(plan.env) : plan.env),
      ...(plan.network ? run.networkEnv : {}),
    }).map(([k, v]) => `${k}=${v}`),
    Labels: run.labels,
    Hostname: "bisect",
    AttachStdin: run.stdin,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: run.stdin,
    // The engine closes stdin when the pool's attach goes (its process died): the warm
    // container then ends without running anything.
    StdinOnce: run.stdin,
    Tty: false,
    HostConfig: {
      AutoRemove: false,
      ...(run.init ? { Init: true } : {}),
      Privileged: false,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      ReadonlyRootfs: true,
      Memory: limits.memoryBytes,
      MemorySwap: limits.memoryBytes,
      NanoCpus: limits.nanoCpus,
      PidsLimit: limits.pids,
      Ulimits: [
        { Name: "core", Soft: 0, Hard: 0 },
        // No single file can outgrow the work directory, however fast it is written.
        { Name: "fsize", Soft: limits.workBytes, Hard: limits.workBytes },
      ],
      OomScoreAdj: 500,
      NetworkMode: plan.network ? run.networkMode : "none",
      Mounts: [
        ...plan.mounts,
        ...run.workMounts,
        ...(plan.cacheVolume
          ? [
              {
                Type: "volume" as const,
                Source: plan.cacheVolume,
                Target: CACHE_PATH,
                ReadOnly: cacheReadOnly,
              },
            ]
          : []),
      ],
      LogConfig: { Type: "none", Config: {} },
      RestartPolicy: { Name: "no" },
    },
  };
}

/** The variables of a run that sees the shared cache read-only (READ_ONLY_CACHE_ENV says why). */
export function readOnlyCacheEnv(env: Record<string, string>): Record<string, string> {
  const out = { ...env };
  if (out.GOCACHE === CACHE_ENV.GOCACHE) out.GOCACHE = READ_ONLY_CACHE_ENV.GOCACHE;
  if (out.CCACHE_DIR === CACHE_ENV.CCACHE_DIR) {
    out.CCACHE_READONLY = READ_ONLY_CACHE_ENV.CCACHE_READONLY;
    out.CCACHE_TEMPDIR = READ_ONLY_CACHE_ENV.CCACHE_TEMPDIR;
  }
  return out;
}
