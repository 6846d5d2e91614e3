// The Docker executor: one fresh, hardened container per run, on any engine dockerode reaches.
//
// The container: the runner image, uid 1000:1000, every capability dropped, no-new-privileges,
// read-only root, a size-limited tmpfs at /work (the checkout and HOME) and a small one at /tmp,
// memory = memory+swap, CPU quota, pids limit, no network unless the spec asks for it, no log
// driver (output is streamed through an attach and only its tail is kept), never AutoRemove.
// The repository is mounted read-only at /mirror and checked out inside the container:
//
//   git clone -q --shared --no-checkout /mirror /work/src && git -C /work/src checkout -q --detach <sha>
//
// then the optional setup and `sh -c <command>` run in /work/src. A failed checkout is reported
// as an InfrastructureError (the mirror lacks the commit, the mount is unreadable…), never as a
// verdict: the checkout step prints a per-run random marker only it knows and exits with a reserved
// code, so a test command cannot pass its own failure off as the infrastructure's. A failed setup
// exits 125, git bisect's "cannot test this commit", with a line saying so in the log.
//
// Round trips per run: create; attach + wait registration (in parallel); start; inspect; remove.
//
// Warm pool (opt-in, `warmPool: { size }`): containers created and started ahead of time, identical
// to the ones above (image, hardening, limits, read-only mirror mount) but for their labels — the
// pool's (app, `bisect-bot.pool`, `bisect-bot.pid`, plus the pool's own), since per-run labels
// cannot be set after create. Each one is attached (stdin, stdout, stderr) with its exit wait
// registered, clones the mirror (without checkout: that needs the sha) and blocks reading its
// assignment from stdin. `prepare` takes a warm container whose key (image, repository, limits,
// network, environment) matches the spec — otherwise it creates one as above — and a replacement
// is made in the background; `start` writes the sha, setup and command (base64, one line each) to
// its stdin. A warm container runs exactly one assignment and is removed by `destroy` like any
// other. Its checkout-failure marker is its own, given at create time as an argument of the entry
// script: the script execs away before any repository code runs, so the marker is no longer in
// /proc by then. The timeout and `durationMs` count from the assignment. `close()` removes every
// container of the pool that is not in use. A warm container sees the mirror as mounted when it
// was made: updates in place (a fetch) are visible, a directory replaced by another is not.
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { inspect } from "node:util";
import type Docker from "dockerode";
import { describeDockerError, statusOf } from "../docker/connect.js";
import { DEFAULT_RUNNER_IMAGE } from "../image.js";
import { DockerDemuxer, TailBuffer } from "./output.js";
import { WarmPool } from "./warm-pool.js";
import { runScript, SETUP_FAILED_EXIT } from "./run-script.js";
import { CheckoutBox, WORKSPACE_LABEL } from "./workspace.js";
import {
  type Executor,
  InfrastructureError,
  type RepoSource,
  type RunHandle,
  type RunResult,
  type RunSpec,
} from "./types.js";

/** The label every container of this product carries. */
export const APP_LABEL = { app: "bisect-bot" } as const;

/** Where things live inside the container. */
export const CONTAINER_PATHS = {
  mirror: "/mirror",
  work: "/work",
  checkout: "/work/src",
  tmp: "/tmp",
} as const;

const RUNNER_UID = 1000;
/** Exit code of the checkout step when it fails (together with the run's marker). */
const CHECKOUT_FAILED = 213;
export { SETUP_FAILED_EXIT };
/** How long to let the output stream drain after the container has exited. */
const DRAIN_MS = 2_000;
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
/** How often a running run's work directory is measured against its limit. */
const DISK_POLL_MS = 1_000;

/**
 * Run by the checkout shell's final `exec` with the setup and the command as $1 and $2: runs the
 * setup and the command as children — the command never runs as PID 1 — and hands the setup's
 * exports to the command through a file of the run's work directory.
 */
const RUN_SCRIPT = runScript(`${CONTAINER_PATHS.work}/.bisect-setup-env`);

// $1 marker, $2 setup, $3 command. The checkout box has put the commit in /work/src; the shell
// replaces itself (so the marker is gone from /proc before any repository code runs) with one that
// runs the setup and the command.
const ENTRY_SCRIPT = [
  `cd /work/src || { printf "cannot enter /work/src\\n%s\\n" "$1" >&2; exit ${CHECKOUT_FAILED}; }`,
  "shift 1",
  `exec sh -c '${RUN_SCRIPT}' bisect-run "$@"`,
].join("\n");

// A warm container's entry: $1 marker. Blocks until its assignment arrives on stdin — two lines,
// the setup and the command base64-encoded (so they may hold any newline or quote) — by then the
// checkout box has checked the commit out into /work/src; then it execs exactly like ENTRY_SCRIPT,
// the command's stdin being /dev/null as in a cold container. Without a whole assignment (the pool
// was closed, or its process died and the engine closed stdin) it exits with the marker, never
// running anything. `$(…; echo .)` then `${x%.}` keeps trailing newlines that a plain command
// substitution drops.
const WARM_ENTRY_SCRIPT = [
  "if ! { IFS= read -r s64 && IFS= read -r c64; }; then",
  '  printf "no assignment\\n%s\\n" "$1" >&2',
  `  exit ${CHECKOUT_FAILED}`,
  "fi",
  'setup=$(printf "%s" "$s64" | base64 -d && echo .) && cmd=$(printf "%s" "$c64" | base64 -d && echo .) || {',
  '  printf "unreadable assignment\\n%s\\n" "$1" >&2',
  `  exit ${CHECKOUT_FAILED}`,
  "}",
  "setup=${setup%.}; cmd=${cmd%.}",
  `cd /work/src || { printf "cannot enter /work/src\\n%s\\n" "$1" >&2; exit ${CHECKOUT_FAILED}; }`,
  `exec sh -c '${RUN_SCRIPT}' bisect-run "$setup" "$cmd" </dev/null`,
].join("\n");

export interface DockerExecutorOptions {
  /** Name of this executor (e.g. the runner host's), default "docker". */
  name?: string;
  /** Image when the spec names none, default `bisect-runner:latest`. */
  image?: string;
  /** Network mode for specs with `network: true`, default "bridge". */
  networkMode?: string;
  /** Image of the checkout boxes (git, /work owned by uid 1000), default `image`'s default. */
  checkoutImage?: string;
  /**
   * Share checkout boxes with every executor on the same engine client that names the same key,
   * and label them with `labels` (e.g. a job's): they outlive this executor, and whoever removes
   * containers by those labels removes them. Without it the boxes are this executor's, removed
   * by `close()`.
   */
  workspace?: { key: string; labels: Record<string, string> };
  /** Keep containers created and started ahead of time (see the top of this file). Off by default. */
  warmPool?: WarmPoolOptions;
}

export interface WarmPoolOptions {
  /** Unclaimed warm containers to keep (typically the number of runs in flight at once). */
  size: number;
  /**
   * Labels of the pool's containers besides app, `bisect-bot.pool` and `bisect-bot.pid` (a run's
   * own labels cannot be set on a container made before the run). Only labels that hold for every
   * run of the pool, e.g. the source.
   */
  labels?: Record<string, string>;
}

/** Label naming the warm pool a container was made for (with `bisect-bot.pid`, its process). */
export const POOL_LABEL = "bisect-bot.pool";
export const PID_LABEL = "bisect-bot.pid";

interface ExitInfo {
  exitCode: number | null;
  oomKilled: boolean;
  durationMs: number;
  log: string;
  logTruncated: boolean;
}

interface RunState {
  container: Docker.Container;
  spec: RunSpec;
  marker: string;
  output: TailBuffer;
  /** A warm container: already running, waiting for its assignment on stdin. */
  warm: boolean;
  started: boolean;
  /** Start of the command (a warm container: of its assignment), Date.now(). */
  startedAt: number;
  exited: boolean;
  /** When the exit was seen, Date.now(). */
  exitedAt?: number;
  timedOut: boolean;
  aborted: boolean;
  /** Stopped (or found) at its work directory's size limit. */
  diskFull: boolean;
  /** Where its work directory lives: the checkout box and the directory's name there. */
  box?: CheckoutBox;
  runId?: string;
  /** The commit checked out in the work directory. */
  checkedOut?: string;
  timer?: NodeJS.Timeout;
  diskWatch?: NodeJS.Timeout;
  attach?: Duplex;
  attachEnded?: Promise<void>;
  exit?: Promise<{ statusCode: number | null; error?: string }>;
  kills: Promise<void>[];
  result?: Promise<RunResult>;
}

/** What a container is made of before any run-specific input: everything a pool key covers. */
interface ContainerPlan {
  image: string;
  repo: RepoSource;
  mounts: Docker.MountSettings[];
  mirrorDir: string;
  env: Record<string, string>;
  limits: RunSpec["limits"];
  network: boolean;
}

/** Checkout boxes shared between executors (see `workspace`), per engine client. */
const sharedBoxes = new WeakMap<Docker, Map<string, Promise<CheckoutBox>>>();

const isSha = (s: string) => /^[0-9a-f]{7,64}$/i.test(s);
const isEnvName = (s: string) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(s);
const newMarker = () => `bisect-runner-checkout-failed-${randomBytes(16).toString("hex")}`;

export class DockerExecutor implements Executor {
  readonly name: string;
  /** Identifies this executor's warm pool on the engine (label `bisect-bot.pool`). */
  readonly poolId: string;
  private readonly runs = new Map<string, RunState>();
  private readonly volumes = new Map<string, { mountpoint: string; driver: string }>();
  private apiVersion?: Promise<number>;
  private readonly pool?: WarmPool<RunState>;
  private closing?: Promise<void>;
  private readonly ownBoxes = new Map<string, Promise<CheckoutBox>>();
  /** Work directories being wiped in the background. */
  private readonly wipes = new Set<Promise<void>>();

  constructor(
    readonly docker: Docker,
    private readonly options: DockerExecutorOptions = {},
  ) {
    this.name = options.name ?? "docker";
    this.poolId = randomBytes(8).toString("hex");
    quietAgent(docker);
    if (options.warmPool) {
      this.pool = new WarmPool<RunState>(options.warmPool.size, {
        discard: async (state) => {
          this.stopStreams(state);
          try {
            await this.removeContainer(state.container);
          } finally {
            this.releaseWorkDir(state);
          }
        },
        usable: (state) => !state.exited,
      });
    }
  }

  /** The labels of this executor's warm containers. */
  get poolLabels(): Record<string, string> {
    return {
      ...this.options.warmPool?.labels,
      [POOL_LABEL]: this.poolId,
      [PID_LABEL]: String(process.pid),
      ...APP_LABEL,
    };
  }

  /**
   * Fill the warm pool for specs like `spec` (same image, repository, limits, network and
   * environment; sha, setup, command, labels, timeout and log limit may differ), from now on the
   * only kind it serves. Resolves once the containers being made are ready (or failed: a run then
   * falls back to a container made for it). Without a warm pool, or once closed, does nothing.
   * Without a call, the first `prepare` picks the kind.
   */
  async warmUp(spec: RunSpec): Promise<void> {
    if (!this.pool || this.pool.closed) return;
    validateSpec(spec);
    const plan = await this.plan(spec);
    await this.pool.serve(poolKey(plan), () => this.makeWarm(plan));
  }

  /**
   * Remove every warm container not in use, and make no more; remove this executor's checkout
   * boxes once no run uses them. Idempotent; runs in use are unaffected.
   */
  async close(): Promise<void> {
    this.closing ??= (async () => {
      await this.closePool();
      while (this.wipes.size) await Promise.all([...this.wipes]);
      // Boxes still used by runs in use go when their last run is destroyed.
      const inUse = new Set([...this.runs.values()].map((s) => s.box));
      await Promise.all(
        [...this.ownBoxes.values()].map(async (p) => {
          const box = await p.catch(() => undefined);
          if (box && !inUse.has(box)) await this.retireBox(box);
        }),
      );
    })();
    await this.closing;
    // Runs destroyed since the first close: their directories, and boxes left without runs.
    while (this.wipes.size) await Promise.all([...this.wipes]);
  }

  private async closePool(): Promise<void> {
    if (!this.pool) return;
    await this.pool.close();
    // Anything of this pool that is not a run in use (e.g. a create whose answer was lost).
    const inUse = new Set([...this.runs.values()].map((s) => s.container.id));
    let list: Docker.ContainerInfo[] = [];
    try {
      list = await this.docker.listContainers({
        all: true,
        filters: JSON.stringify({ label: [`${POOL_LABEL}=${this.poolId}`] }),
      });
    } catch {
      // The engine is gone: so are the containers, or a reaper will find them by their labels.
    }
    await Promise.all(
      list
        .filter((c) => !inUse.has(c.Id))
        .map((c) => this.removeContainer(this.docker.getContainer(c.Id))),
    );
  }

  /** Same as `close`. */
  drain(): Promise<void> {
    return this.close();
  }

  async prepare(spec: RunSpec): Promise<RunHandle> {
    validateSpec(spec);
    const plan = await this.plan(spec);
    if (this.pool && !this.pool.closed) {
      const key = poolKey(plan);
      if (this.pool.key === undefined) void this.pool.serve(key, () => this.makeWarm(plan));
      const warm = await this.pool.take(key);
      if (warm) {
        warm.spec = spec;
        warm.output = new TailBuffer(spec.logLimitBytes);
        this.runs.set(warm.container.id, warm);
        try {
          await warm.box!.checkout(warm.runId!, spec.sha);
          warm.checkedOut = spec.sha;
        } catch (err) {
          await this.destroy({ id: warm.container.id }).catch(() => {});
          throw err;
        }
        return { id: warm.container.id };
      }
    }
    const { box, runId } = await this.newWorkDir(plan, spec.sha);
    const marker = newMarker();
    let container: Docker.Container;
    try {
      container = await this.create(plan, {
        Cmd: ["sh", "-c", ENTRY_SCRIPT, "bisect-run", marker, spec.setup ?? "", spec.command],
        labels: { ...spec.labels, ...APP_LABEL },
        stdin: false,
        workMounts: box.mountsFor(runId),
      });
    } catch (err) {
      this.releaseWorkDir({ box, runId });
      throw err;
    }
    const state = newState(container, spec, marker, false);
    state.box = box;
    state.runId = runId;
    state.checkedOut = spec.sha;
    this.runs.set(container.id, state);
    return { id: container.id };
  }

  /**
   * A run directory in a checkout box for the plan's repository, cloned (and checked out at `sha`
   * when given). A box that has gone (removed by a clean-up, engine restarted) is replaced once.
   */
  private async newWorkDir(
    plan: ContainerPlan,
    sha?: string,
  ): Promise<{ box: CheckoutBox; runId: string }> {
    for (let attempt = 0; ; attempt++) {
      const box = await this.boxFor(plan);
      const reused = box.free.pop();
      const runId = reused?.runId ?? CheckoutBox.newRunId();
      box.users++;
      try {
        if (reused) await box.reset(runId, reused.sha, sha);
        else await box.prepare(runId, sha);
        return { box, runId };
      } catch (err) {
        this.releaseWorkDir({ box, runId });
        if (box.alive || attempt > 0) throw err;
      }
    }
  }

  /** The checkout box for the plan's repository: this executor's, or the shared one. */
  private boxFor(plan: ContainerPlan): Promise<CheckoutBox> {
    const image = this.options.checkoutImage ?? this.options.image ?? DEFAULT_RUNNER_IMAGE;
    const shared = this.options.workspace;
    let boxes = this.ownBoxes;
    if (shared) {
      boxes = sharedBoxes.get(this.docker) ?? new Map();
      sharedBoxes.set(this.docker, boxes);
    }
    const key = JSON.stringify([shared?.key ?? "", image, plan.mounts]);
    const known = boxes.get(key);
    const make = () => {
      const labels = shared
        ? { ...shared.labels, [WORKSPACE_LABEL]: shared.key, ...APP_LABEL }
        : {
            [WORKSPACE_LABEL]: this.poolId,
            [PID_LABEL]: String(process.pid),
            ...APP_LABEL,
          };
      const made = this.engineApiVersion().then((version) =>
        CheckoutBox.start(
          this.docker,
          { image, mirrorMounts: plan.mounts, labels, engineName: this.name },
          version >= 1.45,
        ),
      );
      boxes.set(key, made);
      made.catch(() => {
        if (boxes.get(key) === made) boxes.delete(key);
      });
      return made;
    };
    if (!known) return make();
    return known.then(
      (box) => (box.alive ? box : make()),
      () => make(),
    );
  }

  /**
   * The run no longer needs its work directory: keep it for the box's next run (which cleans it
   * first), or wipe it in the background once this executor is closing (tracked by `close`).
   */
  private releaseWorkDir(state: { box?: CheckoutBox; runId?: string; checkedOut?: string }): void {
    const { box, runId, checkedOut } = state;
    if (!box || !runId) return;
    state.box = undefined;
    if (checkedOut && box.alive && !this.closing) {
      box.free.push({ runId, sha: checkedOut });
      box.users--;
      return;
    }
    const wipe = (box.alive ? box.wipe(runId) : Promise.resolve())
      .catch(() => {
        // The box is gone (its volume with it), or it will be removed with its owner.
      })
      .then(async () => {
        box.users--;
        if (box.users === 0 && this.closing && !this.options.workspace) await this.retireBox(box);
      });
    this.wipes.add(wipe);
    void wipe.finally(() => this.wipes.delete(wipe));
  }

  private async retireBox(box: CheckoutBox): Promise<void> {
    for (const [key, p] of this.ownBoxes)
      if ((await p.catch(() => undefined)) === box) this.ownBoxes.delete(key);
    await box.remove().catch(() => {});
  }

  async start(run: RunHandle): Promise<void> {
    const state = this.state(run);
    if (state.started) throw new InfrastructureError(`run ${run.id} was already started`);
    state.started = true;
    if (state.warm) {
      await this.assign(state);
    } else {
      try {
        await this.launch(state, false);
      } catch (err) {
        throw new InfrastructureError(
          `starting the container on ${this.name} failed: ${describeDockerError(err)}`,
        );
      }
      state.startedAt = Date.now();
    }
    state.timer = setTimeout(() => this.kill(state, "timeout"), state.spec.timeoutMs);
    state.timer.unref?.();
    this.watchDisk(state);
  }

  /**
   * Measure the run's work directory every DISK_POLL_MS while it runs; at its limit the run is
   * stopped and reported as "disk full". (Each file is also capped by RLIMIT_FSIZE at create.)
   */
  private watchDisk(state: RunState): void {
    const { box, runId } = state;
    if (!box || !runId) return;
    let measuring = false;
    state.diskWatch = setInterval(() => {
      if (measuring || state.exited) return;
      measuring = true;
      box
        .usage(runId)
        .then(
          (bytes) => {
            if (bytes >= state.spec.limits.workBytes) this.kill(state, "disk");
          },
          () => {
            // A failed measurement is tried again at the next tick; the run is not stopped for it.
          },
        )
        .finally(() => (measuring = false));
    }, DISK_POLL_MS);
    state.diskWatch.unref?.();
  }

  /** Hand a warm container its run: sha, setup and command on stdin. The clock starts here. */
  private async assign(state: RunState): Promise<void> {
    const { spec } = state;
    if (state.exited || !state.attach || state.attach.destroyed || !state.attach.writable) {
      throw new InfrastructureError(
        `the warm container ${state.container.id.slice(0, 12)} on ${this.name} ended before its assignment`,
      );
    }
    const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
    const assignment = `${b64(spec.setup ?? "")}\n${b64(spec.command)}\n`;
    state.startedAt = Date.now();
    const attach = state.attach;
    try {
      await new Promise<void>((resolve, reject) =>
        attach.write(assignment, (err) => (err ? reject(err) : resolve())),
      );
    } catch (err) {
      throw new InfrastructureError(
        `handing the run to a warm container on ${this.name} failed: ${describeDockerError(err)}`,
      );
    }
  }

  /** Create, attach, register the exit wait and start a warm container that waits for its run. */
  private async makeWarm(plan: ContainerPlan): Promise<RunState> {
    const marker = newMarker();
    const { box, runId } = await this.newWorkDir(plan);
    let container: Docker.Container;
    try {
      container = await this.create(plan, {
        Cmd: ["sh", "-c", WARM_ENTRY_SCRIPT, "bisect-warm", marker],
        labels: this.poolLabels,
        stdin: true,
        workMounts: box.mountsFor(runId),
      });
    } catch (err) {
      this.releaseWorkDir({ box, runId });
      throw err;
    }
    const state = newState(container, undefined, marker, true);
    state.box = box;
    state.runId = runId;
    try {
      await this.launch(state, true);
    } catch (err) {
      this.stopStreams(state);
      await this.removeContainer(container).finally(() => this.releaseWorkDir(state));
      throw new InfrastructureError(
        `starting a warm container on ${this.name} failed: ${describeDockerError(err)}`,
      );
    }
    return state;
  }

  /**
   * Attach (stdout, stderr and, for a warm container, stdin) and register the exit wait, both in
   * place before the container starts: no output is lost, and the wait (condition next-exit,
   * registered once its response headers arrive) cannot miss the exit. Then start it.
   */
  private async launch(state: RunState, stdin: boolean): Promise<void> {
    const { container } = state;
    try {
      const [attach, waitResponse] = await Promise.all([
        container.attach({
          stream: true,
          stdin,
          stdout: true,
          stderr: true,
          hijack: true,
        }) as Promise<Duplex>,
        this.waitNextExit(container.id),
      ]);
      state.attach = attach;
      const demux = new DockerDemuxer((payload) => state.output.push(payload));
      state.attachEnded = new Promise<void>((resolve) => {
        attach.on("data", (chunk: Buffer) => demux.write(chunk));
        attach.on("end", resolve);
        attach.on("close", resolve);
        attach.on("error", () => resolve());
      });
      state.exit = readExit(waitResponse);
      const exited = () => {
        state.exited = true;
        state.exitedAt = Date.now();
      };
      state.exit.then(exited, exited);
      await container.start();
    } catch (err) {
      this.stopStreams(state);
      throw err;
    }
  }

  /** The image, mounts and environment of a container for `spec` (no engine call for host paths). */
  private async plan(spec: RunSpec): Promise<ContainerPlan> {
    const image = spec.image ?? this.options.image ?? DEFAULT_RUNNER_IMAGE;
    const { mounts, mirrorDir } = await this.mirrorMount(spec.repo);
    // No PATH of ours: the image's own (a toolchain's bin directory) stays in effect.
    const env = { HOME: CONTAINER_PATHS.work, ...TOOL_CACHES, ...spec.env };
    return {
      image,
      repo: spec.repo,
      mounts,
      mirrorDir,
      env,
      limits: spec.limits,
      network: spec.network,
    };
  }

  /** Create the hardened container (see the top of this file). */
  private async create(
    plan: ContainerPlan,
    run: {
      Cmd: string[];
      labels: Record<string, string>;
      stdin: boolean;
      workMounts: Docker.MountSettings[];
    },
  ): Promise<Docker.Container> {
    const { image, limits } = plan;
    try {
      return await this.docker.createContainer({
        Image: image,
        Cmd: run.Cmd,
        Entrypoint: [],
        User: `${RUNNER_UID}:${RUNNER_UID}`,
        WorkingDir: CONTAINER_PATHS.work,
        Env: Object.entries(plan.env).map(([k, v]) => `${k}=${v}`),
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
          NetworkMode: plan.network ? (this.options.networkMode ?? "bridge") : "none",
          Mounts: [...plan.mounts, ...run.workMounts],
          LogConfig: { Type: "none", Config: {} },
          RestartPolicy: { Name: "no" },
        },
      });
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) {
        throw new InfrastructureError(
          `image ${image} is not on ${this.name} (build or copy it: npm run runner:image): ${describeDockerError(err)}`,
        );
      }
      if (plan.repo.kind === "volume") this.volumes.delete(plan.repo.name);
      throw new InfrastructureError(
        `creating the container on ${this.name} failed: ${describeDockerError(err)}`,
      );
    }
  }

  wait(run: RunHandle, signal?: AbortSignal): Promise<RunResult> {
    const state = this.state(run);
    if (!state.started || !state.exit)
      return Promise.reject(new InfrastructureError(`run ${run.id} was not started`));
    const onAbort = () => this.kill(state, "abort");
    if (signal) {
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    }
    state.result ??= this.collect(state);
    return state.result.finally(() => signal?.removeEventListener("abort", onAbort));
  }

  async destroy(run: RunHandle): Promise<void> {
    const state = this.runs.get(run.id);
    if (state) this.stopStreams(state);
    const container = state?.container ?? this.docker.getContainer(run.id);
    try {
      await this.removeContainer(container);
    } finally {
      this.runs.delete(run.id);
      if (state) this.releaseWorkDir(state);
    }
  }

  /** Remove a container, retrying a little; an already removed one (or a removal in progress) is fine. */
  private async removeContainer(container: Docker.Container): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await container.remove({ force: true, v: true });
        return;
      } catch (err) {
        const status = statusOf(err);
        // 404: already gone. 409: a removal is already in progress.
        if (status === 404 || status === 409) return;
        lastError = err;
        await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
    }
    throw new InfrastructureError(
      `removing container ${container.id} on ${this.name} failed: ${describeDockerError(lastError)}`,
    );
  }

  private state(run: RunHandle): RunState {
    const state = this.runs.get(run.id);
    if (!state) throw new InfrastructureError(`unknown run ${run.id} on ${this.name}`);
    return state;
  }

  private async collect(state: RunState): Promise<RunResult> {
    let exit: { statusCode: number | null; error?: string };
    try {
      exit = await state.exit!;
    } catch (err) {
      throw new InfrastructureError(
        `waiting for the container on ${this.name} failed: ${describeDockerError(err)}`,
      );
    } finally {
      clearTimeout(state.timer);
      clearInterval(state.diskWatch);
    }
    const endedAt = Date.now();
    await Promise.all(state.kills);
    let info: Docker.ContainerInspectInfo;
    // A failure that may be the disk's, not the commit's (an exit 1–127 but 125): measured once more.
    const code = exit.statusCode;
    const measuring =
      !state.diskFull &&
      state.box &&
      state.runId &&
      code !== null &&
      code > 0 &&
      code < 128 &&
      code !== 125
        ? state.box.usage(state.runId).catch(() => 0)
        : Promise.resolve(0);
    try {
      info = await state.container.inspect();
      if ((await measuring) >= state.spec.limits.workBytes) state.diskFull = true;
    } catch (err) {
      throw new InfrastructureError(
        `inspecting the container on ${this.name} failed: ${describeDockerError(err)}`,
      );
    }
    await drain(state);
    const exitedAt = state.exitedAt ?? endedAt;
    if (state.warm && exitedAt < state.startedAt) {
      throw new InfrastructureError(
        `the warm container ${state.container.id.slice(0, 12)} on ${this.name} ended before its assignment`,
      );
    }
    const raw: ExitInfo = {
      exitCode: info.State.ExitCode ?? exit.statusCode,
      oomKilled: info.State.OOMKilled === true,
      // A warm container started long before its run: its command's time counts from the assignment.
      durationMs: state.warm
        ? exitedAt - state.startedAt
        : (engineDuration(info.State.StartedAt, info.State.FinishedAt) ??
          endedAt - state.startedAt),
      log: state.output.text(),
      logTruncated: state.output.truncated,
    };
    if (raw.exitCode === CHECKOUT_FAILED && raw.log.includes(state.marker)) {
      const detail = raw.log.split(state.marker).join("").trim().split("\n").slice(-10).join("\n");
      throw new InfrastructureError(
        `checkout of ${state.spec.sha} failed on ${this.name}: ${detail || "no output"}`,
      );
    }
    const killed = state.timedOut || state.aborted || (state.diskFull && raw.exitCode === 137);
    const bySignal = killed || (raw.oomKilled && raw.exitCode === 137);
    return {
      exitCode: bySignal ? null : raw.exitCode,
      signal: bySignal ? "SIGKILL" : null,
      timedOut: state.timedOut,
      oomKilled: raw.oomKilled,
      aborted: state.aborted,
      diskFull: state.diskFull,
      durationMs: raw.durationMs,
      log: raw.log,
      logTruncated: raw.logTruncated,
    };
  }

  /** Kill the container unless it has already exited; flag why only when the kill took effect. */
  private kill(state: RunState, why: "timeout" | "abort" | "disk"): void {
    if (state.exited) return;
    const killing = state.container.kill({ signal: "SIGKILL" }).then(
      () => {
        if (why === "timeout") state.timedOut = true;
        else if (why === "disk") state.diskFull = true;
        else state.aborted = true;
      },
      () => {
        // 404/409: it ended by itself in the meantime. Anything else surfaces in wait/inspect.
      },
    );
    state.kills.push(killing);
  }

  private stopStreams(state: RunState): void {
    clearTimeout(state.timer);
    clearInterval(state.diskWatch);
    state.attach?.destroy();
  }

  /** POST /containers/{id}/wait?condition=next-exit, resolved once the engine has registered it. */
  private waitNextExit(id: string): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      this.docker.modem.dial(
        {
          path: `/containers/${id}/wait?`,
          method: "POST",
          options: { _query: { condition: "next-exit" }, _body: {} },
          isStream: true,
          statusCodes: {
            200: true,
            400: "bad parameter",
            404: "no such container",
            500: "server error",
          },
        },
        (err: unknown, res: unknown) => (err ? reject(err) : resolve(res as IncomingMessage)),
      );
    });
  }

  /** The read-only /mirror mount for a repository source, and the repository's path inside it. */
  private async mirrorMount(
    repo: RepoSource,
  ): Promise<{ mounts: Docker.MountSettings[]; mirrorDir: string }> {
    const target = CONTAINER_PATHS.mirror;
    if (repo.kind === "host-path") {
      if (!repo.path.startsWith("/"))
        throw new InfrastructureError(`repository path must be absolute: ${repo.path}`);
      return {
        mounts: [
          {
            Type: "bind",
            Source: repo.path,
            Target: target,
            ReadOnly: true,
            BindOptions: { Propagation: "rprivate" },
          },
        ],
        mirrorDir: target,
      };
    }
    const subpath = repo.subpath?.replace(/^\/+|\/+$/g, "") ?? "";
    if (
      subpath &&
      subpath.split("/").some((part) => part === ".." || part === "." || part === "")
    ) {
      throw new InfrastructureError(`invalid volume subpath: ${repo.subpath}`);
    }
    const volume = await this.inspectVolume(repo.name);
    if (!subpath) {
      return {
        mounts: [
          {
            Type: "volume",
            Source: repo.name,
            Target: target,
            ReadOnly: true,
            VolumeOptions: { NoCopy: true } as Docker.MountSettings["VolumeOptions"],
          },
        ],
        mirrorDir: target,
      };
    }
    if ((await this.engineApiVersion()) >= 1.45) {
      // Only the repository's own directory is visible, not the other mirrors in the volume.
      return {
        mounts: [
          {
            Type: "volume",
            Source: repo.name,
            Target: target,
            ReadOnly: true,
            VolumeOptions: {
              NoCopy: true,
              Subpath: subpath,
            } as Docker.MountSettings["VolumeOptions"],
          },
        ],
        mirrorDir: target,
      };
    }
    // Older engines cannot mount a volume's subdirectory; a local volume's directory can be bound.
    if (volume.driver !== "local" || !volume.mountpoint.startsWith("/")) {
      throw new InfrastructureError(
        `volume ${repo.name}: mounting subpath ${subpath} needs Docker API 1.45 or a local volume (driver ${volume.driver})`,
      );
    }
    return {
      mounts: [
        {
          Type: "bind",
          Source: `${volume.mountpoint}/${subpath}`,
          Target: target,
          ReadOnly: true,
          // The engine insists on slave propagation for binds from inside its own data root.
          BindOptions: { Propagation: "rslave" },
        },
      ],
      mirrorDir: target,
    };
  }

  private async inspectVolume(name: string): Promise<{ mountpoint: string; driver: string }> {
    const known = this.volumes.get(name);
    if (known) return known;
    try {
      const info = await this.docker.getVolume(name).inspect();
      const facts = { mountpoint: info.Mountpoint, driver: info.Driver };
      this.volumes.set(name, facts);
      return facts;
    } catch (err) {
      if (statusOf(err) === 404)
        throw new InfrastructureError(`volume ${name} does not exist on ${this.name}`);
      throw new InfrastructureError(
        `inspecting volume ${name} on ${this.name} failed: ${describeDockerError(err)}`,
      );
    }
  }

  private engineApiVersion(): Promise<number> {
    this.apiVersion ??= this.docker.version().then(
      (v) => Number.parseFloat(v.ApiVersion) || 0,
      (err: unknown) => {
        this.apiVersion = undefined;
        throw new InfrastructureError(
          `asking ${this.name} for its version failed: ${describeDockerError(err)}`,
        );
      },
    );
    return this.apiVersion;
  }
}

/**
 * docker-modem formats every request's options for its debug log — `util.inspect` with hidden
 * properties at unlimited depth — whether or not that log is on. The options hold the connection
 * agent, and with a few streams open (attaches, exit waits) formatting it costs tens of ms of
 * blocked event loop per API call. A short description of the agent keeps each call cheap.
 */
function quietAgent(docker: Docker): void {
  const agent = (docker.modem as { agent?: unknown }).agent;
  if (!agent || typeof agent !== "object") return;
  const target = agent as Record<symbol, unknown>;
  if (target[inspect.custom]) return;
  Object.defineProperty(target, inspect.custom, {
    value: () => `[${agent.constructor?.name ?? "Agent"}]`,
    enumerable: false,
  });
}

function newState(
  container: Docker.Container,
  spec: RunSpec | undefined,
  marker: string,
  warm: boolean,
): RunState {
  return {
    container,
    // A warm container gets its spec when a run takes it.
    spec: spec as RunSpec,
    marker,
    output: new TailBuffer(spec?.logLimitBytes ?? 0),
    warm,
    started: false,
    startedAt: 0,
    exited: false,
    timedOut: false,
    aborted: false,
    diskFull: false,
    kills: [],
  };
}

/** Containers made from plans with the same key are interchangeable before their run is given. */
function poolKey(plan: ContainerPlan): string {
  const { limits } = plan;
  return JSON.stringify([
    plan.image,
    plan.mounts,
    plan.mirrorDir,
    Object.entries(plan.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    [limits.memoryBytes, limits.nanoCpus, limits.pids, limits.workBytes],
    plan.network,
  ]);
}

function validateSpec(spec: RunSpec): void {
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
  for (const [k, v] of Object.entries(spec.labels))
    if (!k || typeof v !== "string") problems.push(`invalid label ${JSON.stringify(k)}`);
  if (problems.length) throw new InfrastructureError(`invalid run spec: ${problems.join("; ")}`);
}

function readExit(res: IncomingMessage): Promise<{ statusCode: number | null; error?: string }> {
  return new Promise((resolve, reject) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => (body += chunk));
    res.on("end", () => {
      try {
        const parsed = JSON.parse(body) as {
          StatusCode?: number;
          Error?: { Message?: string } | null;
        };
        resolve({
          statusCode: typeof parsed.StatusCode === "number" ? parsed.StatusCode : null,
          error: parsed.Error?.Message,
        });
      } catch {
        reject(new Error(`unreadable wait response: ${body.slice(0, 200)}`));
      }
    });
    res.on("error", reject);
  });
}

/** Let the attach stream deliver what is still in flight, but never wait long for it. */
async function drain(state: RunState): Promise<void> {
  if (!state.attachEnded) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    state.attachEnded,
    new Promise<void>((r) => (timer = setTimeout(r, DRAIN_MS))),
  ]);
  clearTimeout(timer);
  state.attach?.destroy();
}

function engineDuration(
  startedAt: string | undefined,
  finishedAt: string | undefined,
): number | undefined {
  const start = parseDockerTime(startedAt);
  const end = parseDockerTime(finishedAt);
  if (start === undefined || end === undefined || end < start) return undefined;
  return Math.round(end - start);
}

/** Docker's RFC 3339 timestamps carry nanoseconds; keep them as fractional milliseconds. */
function parseDockerTime(value: string | undefined): number | undefined {
  if (!value || value.startsWith("0001-")) return undefined;
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(value);
  if (!m) return undefined;
  const whole = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(whole)) return undefined;
  const frac = m[2] ? Number(`0.${m[2]}`) * 1000 : 0;
  return whole + frac;
}

/** Remove every container carrying all the given labels (a reaper's sweep). Resolves with their ids. */
export async function removeLabelled(
  docker: Docker,
  labels: Record<string, string>,
): Promise<string[]> {
  const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
  if (filters.label.length === 0) throw new Error("removeLabelled needs at least one label");
  let list: Docker.ContainerInfo[];
  try {
    list = await docker.listContainers({ all: true, filters: JSON.stringify(filters) });
  } catch (err) {
    throw new InfrastructureError(`listing containers failed: ${describeDockerError(err)}`);
  }
  const removed: string[] = [];
  const failures: string[] = [];
  // Runs first, then the checkout boxes whose volumes the runs may still mount.
  const runs = list.filter((c) => !c.Labels?.[WORKSPACE_LABEL]);
  const boxes = list.filter((c) => c.Labels?.[WORKSPACE_LABEL]);
  for (const group of [runs, boxes])
    await Promise.all(
      group.map(async (c) => {
        try {
          await docker.getContainer(c.Id).remove({ force: true, v: true });
          removed.push(c.Id);
        } catch (err) {
          const status = statusOf(err);
          if (status === 404 || status === 409) removed.push(c.Id);
          else failures.push(`${c.Id.slice(0, 12)}: ${describeDockerError(err)}`);
        }
      }),
    );
  if (failures.length)
    throw new InfrastructureError(`removing labelled containers failed: ${failures.join("; ")}`);
  return removed;
}
