// The Docker executor: one fresh, hardened container per run, on any engine dockerode reaches —
// or, with `sandboxes`, a job's sandbox kept between its runs (sandbox-slots.ts), in which each
// run is an exec and no container is created once the job's first runs have made them.
// This file is the run's lifecycle; the container itself is container-recipe.ts, its mounts
// mounts.ts, its work directory work-dirs.ts and workspace.ts, reading its end exit.ts.
//
// The commit is put in the run's work directory by a checkout box before the container is made;
// the container then runs the optional setup and `sh -c <command>` in /work/src (run-script.ts).
// A failed setup exits 125, git bisect's "cannot test this commit", with a line saying so in the
// log. Round trips per run: create; attach + wait registration (in parallel); start; inspect;
// remove.
//
// Warm pool (opt-in, `warmPool: { size }`): containers created and started ahead of time, identical
// to the ones above (image, hardening, limits, read-only mirror mount) but for their labels — the
// pool's (app, `bisect-bot.pool`, `bisect-bot.pid`, plus the pool's own), since per-run labels
// cannot be set after create. Each one is attached (stdin, stdout, stderr) with its exit wait
// registered, has a work directory cloned (without checkout: that needs the sha) and blocks
// reading its assignment from stdin. `prepare` takes a warm container whose key (image,
// repository, limits, network, environment) matches the spec — otherwise it creates one as above
// — and a replacement is made in the background; `start` writes the setup and command to its
// stdin. A warm container runs exactly one assignment and is removed by `destroy` like any other.
// Its checkout-failure marker is its own, given at create time as an argument of the entry
// script: the script execs away before any repository code runs, so the marker is no longer in
// /proc by then. The timeout and `durationMs` count from the assignment. `close()` removes every
// container of the pool that is not in use. A warm container sees the mirror as mounted when it
// was made: updates in place (a fetch) are visible, a directory replaced by another is not.
import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import { describeDockerError, statusOf } from "../docker/connect";
import { InfrastructureError } from "../errors";
import { DEFAULT_RUNNER_IMAGE } from "../image";
import {
  type ContainerInput,
  type ContainerPlan,
  containerPlan,
  createOptions,
  poolKey,
  validateSpec,
} from "./container-recipe";
import { ContainerRun, newMarker } from "./container-run";
import { proxyEnv } from "../egress/proxy-env";
import { ensureCacheVolume } from "./cache-volume";
import { EngineFacts } from "./engine-facts";
import { APP_LABEL, PID_LABEL, POOL_LABEL } from "../labels";
import { mirrorMount } from "./mounts";
import { quietAgent } from "./quiet-agent";
import { removeContainer } from "./removal";
import { isPhased, PhasedRun, phaseNetworks } from "./phased-run";
import { entryCommand, setupPhaseCommand, testPhaseCommand, warmEntryCommand } from "./run-script";
import type { Executor, RunHandle, RunResult, RunSpec } from "./types";
import { WarmPool } from "./warm-pool";
import { type SandboxOptions, SandboxSlots, sandboxRunId } from "./sandbox-slots";
import type { SandboxRun } from "./sandbox-run";
import { WorkDirs } from "./work-dirs";

export interface DockerExecutorOptions {
  /** Name of this executor (e.g. the runner host's), default "docker". */
  name?: string;
  /** Image when the spec names none, default `bisect-runner:latest`. */
  image?: string;
  /** Network mode for specs with `network: true`, default "bridge". */
  networkMode?: string;
  /**
   * The egress proxy of `networkMode` (an internal network whose only way out is the proxy,
   * runner/egress): containers with network get HTTP_PROXY / HTTPS_PROXY set to it.
   */
  egressProxy?: string;
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
  /**
   * Run in a job's sandboxes, kept between its runs and shared by every executor on the same
   * engine client that names the same key (sandbox-slots.ts). Not with a warm pool.
   */
  sandboxes?: SandboxOptions;
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

export class DockerExecutor implements Executor {
  readonly name: string;
  /** Identifies this executor's warm pool on the engine (label `bisect-bot.pool`). */
  readonly poolId: string;
  private readonly runs = new Map<string, ContainerRun | PhasedRun | SandboxRun>();
  /** Cache volumes known to exist (or being made). */
  private readonly caches = new Map<string, Promise<void>>();
  private readonly engine: EngineFacts;
  private readonly workDirs: WorkDirs;
  private readonly pool?: WarmPool<ContainerRun>;
  private readonly sandboxes?: SandboxSlots;
  private closing?: Promise<void>;

  constructor(
    readonly docker: Docker,
    private readonly options: DockerExecutorOptions = {},
  ) {
    this.name = options.name ?? "docker";
    this.poolId = randomBytes(8).toString("hex");
    quietAgent(docker);
    this.engine = new EngineFacts(docker, this.name);
    this.workDirs = new WorkDirs(docker, this.engine, {
      engineName: this.name,
      image: options.checkoutImage ?? options.image ?? DEFAULT_RUNNER_IMAGE,
      ownerId: this.poolId,
      workspace: options.workspace,
    });
    if (options.sandboxes && !options.warmPool)
      this.sandboxes = new SandboxSlots(docker, this.name, this.workDirs, options.sandboxes, {
        create: (plan, input) => this.create(plan, input),
      });
    if (options.warmPool) {
      this.pool = new WarmPool<ContainerRun>(options.warmPool.size, {
        discard: async (state) => {
          state.stopStreams();
          try {
            await removeContainer(state.container, this.name);
          } finally {
            this.workDirs.release(state);
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
    // A run whose setup is online uses two containers made for it (phased-run.ts), never warm ones.
    if (!this.pool || this.pool.closed || isPhased(spec)) return;
    validateSpec(spec);
    const plan = await this.plan(spec);
    await this.pool.serve(poolKey(plan), () => this.makeWarm(plan));
  }

  /**
   * Remove every warm container not in use, and make no more; remove this executor's checkout
   * boxes once no run uses them. Idempotent; runs in use are unaffected.
   */
  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        await this.closePool();
        await this.sandboxes?.close();
        await this.workDirs.settled();
        // Boxes still used by runs in use go when their last run is destroyed.
        await this.workDirs.retireIdle(new Set([...this.runs.values()].map((s) => s.box)));
      })();
      this.workDirs.closing = true;
    }
    await this.closing;
    // Runs destroyed since the first close: their directories, and boxes left without runs.
    await this.workDirs.settled();
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
        .map((c) => removeContainer(this.docker.getContainer(c.Id), this.name)),
    );
  }

  /** Same as `close`. */
  drain(): Promise<void> {
    return this.close();
  }

  async prepare(spec: RunSpec): Promise<RunHandle> {
    validateSpec(spec);
    const plan = await this.plan(spec);
    if (this.sandboxes) {
      // The sandbox is made without the run's own environment; the run's exec sets it.
      const base = containerPlan({ ...spec, env: undefined }, plan.image, plan);
      const state = await this.sandboxes.prepare(spec, plan, base);
      const id = sandboxRunId();
      this.runs.set(id, state);
      return { id };
    }
    if (this.pool && !this.pool.closed && !isPhased(spec)) {
      const key = poolKey(plan);
      if (this.pool.key === undefined) void this.pool.serve(key, () => this.makeWarm(plan));
      const warm = await this.pool.take(key);
      if (warm) {
        warm.take(spec);
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
    const { box, runId } = await this.workDirs.take(plan.mounts, spec.sha);
    const hold = { box, runId, checkedOut: spec.sha };
    const made: ContainerRun[] = [];
    const make = async (
      cmd: (marker: string) => string[],
      network = plan.network,
      cacheReadOnly = false,
    ) => {
      const marker = newMarker();
      const container = await this.create(
        { ...plan, network },
        {
          Cmd: cmd(marker),
          labels: { ...spec.labels, ...APP_LABEL },
          stdin: false,
          workMounts: box.mountsFor(runId),
          cacheReadOnly,
        },
      );
      const run = new ContainerRun(this.docker, container, this.name, marker, false, spec);
      made.push(Object.assign(run, hold));
      return run;
    };
    let state: ContainerRun | PhasedRun;
    try {
      if (isPhased(spec)) {
        // The setup online and the cache writable; the test offline unless the whole run may
        // reach the network, the cache read-only (phased-run.ts).
        const networks = phaseNetworks(spec);
        const setup = await make((m) => setupPhaseCommand(m, spec.setup!), networks.setup);
        const test = await make((m) => testPhaseCommand(m, spec.command), networks.test, true);
        state = Object.assign(new PhasedRun(spec, setup, test), hold);
      } else {
        state = await make((m) => entryCommand(m, spec.setup ?? "", spec.command));
      }
    } catch (err) {
      await Promise.all(made.map((r) => removeContainer(r.container, this.name).catch(() => {})));
      this.workDirs.release({ box, runId });
      throw err;
    }
    this.runs.set(state.container.id, state);
    return { id: state.container.id };
  }

  async start(run: RunHandle): Promise<void> {
    const state = this.state(run);
    if (state.started) throw new InfrastructureError(`run ${run.id} was already started`);
    await state.start();
    // At its limit the run is stopped and reported "disk full". (Each file is also capped by
    // RLIMIT_FSIZE at create.)
    if (state.box && state.runId)
      state.diskWatch = this.workDirs.watch(
        state,
        state.spec.limits.workBytes,
        () => state.kill("disk"),
        () => state.exited,
      );
  }

  /** Create, attach, register the exit wait and start a warm container that waits for its run. */
  private async makeWarm(plan: ContainerPlan): Promise<ContainerRun> {
    const marker = newMarker();
    const { box, runId } = await this.workDirs.take(plan.mounts);
    let container: Docker.Container;
    try {
      container = await this.create(plan, {
        Cmd: warmEntryCommand(marker),
        labels: this.poolLabels,
        stdin: true,
        workMounts: box.mountsFor(runId),
      });
    } catch (err) {
      this.workDirs.release({ box, runId });
      throw err;
    }
    const state = new ContainerRun(this.docker, container, this.name, marker, true);
    Object.assign(state, { box, runId });
    try {
      await state.launch(true);
    } catch (err) {
      state.stopStreams();
      await removeContainer(container, this.name).finally(() => this.workDirs.release(state));
      throw new InfrastructureError(
        `starting a warm container on ${this.name} failed: ${describeDockerError(err)}`,
      );
    }
    return state;
  }

  /** The image, mounts and environment of a container for `spec` (no engine call for host paths). */
  private async plan(spec: RunSpec): Promise<ContainerPlan> {
    const image = spec.image ?? this.options.image ?? DEFAULT_RUNNER_IMAGE;
    if (spec.cacheVolume) {
      const name = spec.cacheVolume;
      this.caches.set(
        name,
        this.caches.get(name) ??
          ensureCacheVolume(this.docker, name, {
            image: this.options.checkoutImage ?? this.options.image ?? DEFAULT_RUNNER_IMAGE,
            labels: spec.labels,
            engine: this.name,
          }).catch((err: unknown) => {
            this.caches.delete(name);
            throw err;
          }),
      );
      await this.caches.get(name);
    }
    return containerPlan(spec, image, await mirrorMount(spec.repo, this.engine));
  }

  /** Create the hardened container (container-recipe.ts). */
  private async create(
    plan: ContainerPlan,
    run: Omit<ContainerInput, "networkMode">,
  ): Promise<Docker.Container> {
    const networkMode = this.options.networkMode ?? "bridge";
    const proxy = this.options.egressProxy;
    const networkEnv = proxy ? proxyEnv(proxy) : undefined;
    try {
      return await this.docker.createContainer(
        createOptions(plan, { ...run, networkMode, networkEnv }),
      );
    } catch (err) {
      if (statusOf(err) === 404) {
        throw new InfrastructureError(
          `image ${plan.image} is not on ${this.name} (build or copy it: npm run runner:image): ${describeDockerError(err)}`,
        );
      }
      if (plan.repo.kind === "volume") this.engine.forgetVolume(plan.repo.name);
      throw new InfrastructureError(
        `creating the container on ${this.name} failed: ${describeDockerError(err)}`,
      );
    }
  }

  async wait(run: RunHandle, signal?: AbortSignal): Promise<RunResult> {
    const state = this.state(run);
    const result = await state.wait(signal);
    // A sandbox's run is over and its sandbox settled: the slot serves the job's next run at once,
    // not once the caller gets round to `destroy` (a next run prepared meanwhile would make a slot).
    // (`destroy` then finds it given back: releasing twice is a no-op.)
    if (this.sandboxes?.owns(state)) void this.sandboxes.release(state).catch(() => {});
    return result;
  }

  async destroy(run: RunHandle): Promise<void> {
    const state = this.runs.get(run.id);
    if (state && this.sandboxes?.owns(state)) {
      this.runs.delete(run.id);
      await this.sandboxes.release(state);
      return;
    }
    state?.stopStreams();
    const containers = (state as ContainerRun | PhasedRun | undefined)?.containers ?? [
      this.docker.getContainer(run.id),
    ];
    try {
      await Promise.all(containers.map((c) => removeContainer(c, this.name)));
    } finally {
      this.runs.delete(run.id);
      if (state) this.workDirs.release(state);
    }
  }

  private state(run: RunHandle): ContainerRun | PhasedRun | SandboxRun {
    const state = this.runs.get(run.id);
    if (!state) throw new InfrastructureError(`unknown run ${run.id} on ${this.name}`);
    return state;
  }
}
