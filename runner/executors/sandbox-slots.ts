// A job's sandboxes (sandbox.ts), kept between its runs: one slot per run in flight, each slot a
// sandbox — or, for a run whose setup is online and whose test is not, a pair of them — and the
// work directory they share. A run takes an idle slot of its key (the job's key and everything a
// container is made of but the run's own environment, which each run's exec sets), or a new one;
// once it has ended and its sandboxes were settled, the slot waits for the job's next run. So a
// job creates containers for its first runs only, and never one on a later run's path.
//
// Phased runs reuse a pair: the setup's sandbox has the executor's network and a writable cache,
// the test's is made with no network at all and a read-only cache, as phased-run.ts wants. A
// network cut in one sandbox would leave the test online whenever the cut failed; a pair keeps
// "offline by construction" and still creates nothing per run. Everything the setup left running
// is killed when its script ends (sandbox.ts's run wrapper), before the test starts; the rest of
// the setup sandbox's settle runs while the test starts (phased-run.ts).
//
// Slots are never shared between keys, so never between jobs: the key starts with the job's. They
// carry the job's labels, so whatever removes a job's containers (cancel, finish, the reaper)
// removes them too, and `bisect-bot.sandbox` naming their keeper (a worker) for the reaper. A slot
// idle for `idleMs` is removed by this process; a slot whose run failed to settle, or whose reset
// failed, is removed at once. Slots live in this process: another process makes its own.
import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import { APP_LABEL, SANDBOX_LABEL } from "../labels";
import {
  type ContainerInput,
  type ContainerPlan,
  poolKey,
  readOnlyCacheEnv,
} from "./container-recipe";
import { isPhased, PhasedRun, phaseNetworks } from "./phased-run";
import { removeContainer } from "./removal";
import { KEEPER_COMMAND, KEEPER_USER, Sandbox } from "./sandbox";
import { SandboxRun } from "./sandbox-run";
import type { RunSpec } from "./types";
import type { WorkDirHold, WorkDirs } from "./work-dirs";

/** How long an unused slot is kept by default. */
export const SANDBOX_IDLE_MS = 5 * 60_000;

export interface SandboxOptions {
  /** The job's key: slots are shared only by executors naming the same one (never across jobs). */
  key: string;
  /** Labels of the sandboxes (e.g. the job's), besides app and `bisect-bot.sandbox`. */
  labels: Record<string, string>;
  /** Who keeps them (e.g. the worker's id), the value of `bisect-bot.sandbox`; default the pid. */
  owner?: string;
  /** Remove a slot unused for this long, default SANDBOX_IDLE_MS. */
  idleMs?: number;
}

interface Slot extends WorkDirHold {
  jobKey: string;
  key: string;
  sandboxes: Sandbox[];
  /** Resolves once the last run's sandboxes were settled: true when they may run again. */
  ready: Promise<boolean>;
  discard(): Promise<void>;
  idleTimer?: NodeJS.Timeout;
}

/** Idle slots per engine client and key. */
const idleSlots = new WeakMap<Docker, Map<string, Slot[]>>();

function idleOf(docker: Docker): Map<string, Slot[]> {
  let map = idleSlots.get(docker);
  if (!map) idleSlots.set(docker, (map = new Map()));
  return map;
}

/** Remove every idle slot of a job's key on this engine client (its job has ended). */
export async function closeSandboxes(docker: Docker, jobKey: string): Promise<void> {
  const map = idleOf(docker);
  const gone: Slot[] = [];
  for (const [key, slots] of map) {
    const keep = slots.filter((s) => s.jobKey !== jobKey);
    gone.push(...slots.filter((s) => s.jobKey === jobKey));
    if (keep.length) map.set(key, keep);
    else map.delete(key);
  }
  await Promise.all(gone.map((s) => s.discard()));
}

export interface SandboxHooks {
  /** Create a hardened container (the executor's). */
  create(
    plan: ContainerPlan,
    input: Omit<ContainerInput, "networkMode">,
  ): Promise<Docker.Container>;
}

type SandboxState = SandboxRun | PhasedRun;

export class SandboxSlots {
  private readonly held = new Map<SandboxState, { slot: Slot; runs: SandboxRun[] }>();
  /** Every run this made, held or already given back. */
  private readonly made = new WeakSet<SandboxState>();

  constructor(
    private readonly docker: Docker,
    private readonly engine: string,
    private readonly workDirs: WorkDirs,
    private readonly options: SandboxOptions,
    private readonly hooks: SandboxHooks,
  ) {}

  /**
   * A run of `spec` in an idle slot (its work directory reset to `spec.sha`), or in a new one.
   * `plan` is the run's container plan, `base` the same without the spec's environment.
   */
  async prepare(spec: RunSpec, plan: ContainerPlan, base: ContainerPlan): Promise<SandboxState> {
    const phased = isPhased(spec);
    const key = JSON.stringify([this.options.key, phased, poolKey(base)]);
    let slot = this.takeIdle(key);
    if (slot) {
      try {
        // One exec removes what the last run left and writes only the files that differ from the
        // last commit's (a job's next run usually takes its slot at once: a reset started when
        // the slot came back would be on this path anyway, as a second exec). Meanwhile the last
        // run's settle ends (and a sandbox still starting starts), then the sandboxes are asked
        // whether they still run: a clean-up may have removed them.
        const [, running] = await Promise.all([
          slot.box!.reset(
            slot.runId!,
            slot.checkedOut!,
            spec.sha,
            spec.cacheVolume ? (spec.cachePaths ?? []) : [],
          ),
          slot.ready.then(async (ready) => {
            if (!ready) throw new Error("a sandbox was not settled");
            const states = await Promise.all(slot!.sandboxes.map((s) => s.container.inspect()));
            return states.every((info) => info.State.Running);
          }),
        ]);
        if (!running) throw new Error("a sandbox has stopped");
        slot.checkedOut = spec.sha;
      } catch {
        // A box removed under it, a directory the last run made unusable: start afresh.
        await slot.discard();
        slot = undefined;
      }
    }
    slot ??= await this.make(key, spec, base, phased);
    const hold = { box: slot.box, runId: slot.runId, checkedOut: slot.checkedOut };
    const runs = slot.sandboxes.map(
      (sandbox, i) =>
        new SandboxRun(
          sandbox,
          phased ? (i === 0 ? "setup" : "test") : "run",
          (phased && i === 1) || plan.cacheReadOnly ? readOnlyCacheEnv(plan.env) : plan.env,
          spec,
        ),
    );
    for (const run of runs) Object.assign(run, hold);
    const state: SandboxState = phased
      ? Object.assign(new PhasedRun(spec, runs[0]!, runs[1]!), hold)
      : runs[0]!;
    this.held.set(state, { slot, runs });
    this.made.add(state);
    return state;
  }

  /** Whether `state` is a run of a slot (given back or not). */
  owns(state: object): state is SandboxState {
    return this.made.has(state as SandboxState);
  }

  /**
   * The run is over: its slot waits for the job's next run, which first waits for every phase
   * that started to be settled; a slot whose settle fails is removed then, and at once when
   * `discard` or when a sandbox is already known to be unusable.
   */
  async release(state: SandboxState, discard = false): Promise<void> {
    const entry = this.held.get(state);
    if (!entry) return;
    this.held.delete(state);
    const { slot, runs } = entry;
    state.stopStreams();
    if (discard || slot.sandboxes.some((s) => s.broken)) return slot.discard();
    const settles = runs.filter((r) => r.started).map((r) => r.settled);
    // A sandbox whose run never started may still be starting (sandbox.ts `started`).
    const starts = slot.sandboxes.map((s) =>
      s.started.then(
        () => true,
        () => false,
      ),
    );
    slot.ready = Promise.all([...settles, ...starts]).then(
      (oks) => oks.every(Boolean) && slot.sandboxes.every((s) => !s.broken),
    );
    this.giveBack(slot);
  }

  /** Remove this executor's job's idle slots. */
  close(): Promise<void> {
    return closeSandboxes(this.docker, this.options.key);
  }

  private takeIdle(key: string): Slot | undefined {
    const map = idleOf(this.docker);
    const list = map.get(key);
    const slot = list?.pop();
    if (list && list.length === 0) map.delete(key);
    if (slot) clearTimeout(slot.idleTimer);
    return slot;
  }

  private giveBack(slot: Slot): void {
    // What the run left stays until the job's next run resets the directory (its processes are
    // gone: the sandbox was settled); an idle slot that expires is wiped.
    const map = idleOf(this.docker);
    const list = map.get(slot.key) ?? [];
    list.push(slot);
    map.set(slot.key, list);
    // Removed by whoever finds it unusable first: this, or the run that took it (prepare).
    const drop = () => {
      const now = map.get(slot.key);
      const i = now?.indexOf(slot) ?? -1;
      if (i < 0) return;
      now!.splice(i, 1);
      if (now!.length === 0) map.delete(slot.key);
      clearTimeout(slot.idleTimer);
      void slot.discard();
    };
    void slot.ready.then((ok) => ok || drop());
    slot.idleTimer = setTimeout(drop, this.options.idleMs ?? SANDBOX_IDLE_MS);
    slot.idleTimer.unref?.();
  }

  private async make(
    key: string,
    spec: RunSpec,
    base: ContainerPlan,
    phased: boolean,
  ): Promise<Slot> {
    const { box, runId } = await this.workDirs.take(base.mounts, spec.sha);
    const workMounts = box.mountsFor(runId);
    const labels = {
      ...this.options.labels,
      [SANDBOX_LABEL]: this.options.owner ?? `pid-${process.pid}`,
      ...APP_LABEL,
    };
    // The setup's (online, cache writable) and the test's (offline, cache read-only), or one.
    const networks = phaseNetworks(spec);
    const roles = phased
      ? [
          { network: networks.setup, cacheReadOnly: false },
          { network: networks.test, cacheReadOnly: true },
        ]
      : [{ network: base.network, cacheReadOnly: false }];
    // Made at once; started at once too, but only the first is waited for: a phased run's test
    // sandbox finishes starting while the setup runs (its run waits for `started`).
    const made = await Promise.allSettled(
      roles.map(async (role, i) => {
        const container = await this.hooks.create(
          { ...base, network: role.network },
          {
            Cmd: KEEPER_COMMAND,
            labels,
            stdin: true,
            workMounts,
            cacheReadOnly: role.cacheReadOnly,
            init: true,
            user: KEEPER_USER,
          },
        );
        const sandbox = new Sandbox(this.docker, container, this.engine);
        const started = sandbox.start();
        if (i === 0) await started;
        return sandbox;
      }),
    );
    const sandboxes = made.flatMap((m) => (m.status === "fulfilled" ? [m.value] : []));
    const slot: Slot = {
      jobKey: this.options.key,
      key,
      box,
      runId,
      checkedOut: spec.sha,
      sandboxes,
      ready: Promise.resolve(true),
      discard: async () => {
        clearTimeout(slot.idleTimer);
        await Promise.all(
          sandboxes.map((s) => removeContainer(s.container, this.engine).catch(() => {})),
        );
        for (const s of sandboxes) s.broken = true;
        // Wiped, not kept: its sandboxes are gone.
        this.workDirs.release({ box: slot.box, runId: slot.runId });
      },
    };
    const failed = made.find((m) => m.status === "rejected");
    if (failed) {
      await slot.discard();
      throw failed.reason;
    }
    return slot;
  }
}

/** A handle id for a run in a sandbox (the sandbox's container serves many runs). */
export const sandboxRunId = () => `sandbox-run-${randomBytes(8).toString("hex")}`;
