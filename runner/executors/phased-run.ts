// A run whose setup may reach the network while its test may not, or whose setup may write the
// repository's dependency cache while its test may only read it: two containers on one work
// directory, run one after the other. The setup container has the executor's network and the
// cache writable; the test container is created with no network at all (unless the whole run may
// reach it) and never gets one, and with the cache mounted read-only.
//
// Why two containers and not one whose network is cut (`docker network disconnect`) between the
// phases: the cut would need a handshake with the running container (stop before the test, wait
// for the cut, go on), and anything the setup left running — a daemon, an open connection — would
// live on into the test phase; a lost or failed disconnect would leave the test online. A test
// container made with network mode "none" is offline by construction, whatever happens. The cost
// is one more container per run (on the farm, a pair of sandboxes kept for the job's life).
//
// The setup's exports reach the test through the work directory (run-script.ts), as in one
// container. In sandboxes, a setup that exits 0 lets the test start at once, while the setup's
// sandbox settles; a settle that fails stops the test and fails the run. The wall-clock timeout covers both phases; `durationMs` is their sum, the log both
// phases' output in order (its tail).
import type Docker from "dockerode";
import { InfrastructureError } from "../errors";
import type { KillReason } from "./exit";
import { TailBuffer } from "./output";
import type { RunResult, RunSpec } from "./types";
import type { WorkDirHold } from "./work-dirs";

/** One phase: a container of its own (container-run.ts) or a run in a sandbox (sandbox-run.ts). */
export interface Phase {
  readonly container: Docker.Container;
  readonly exited: boolean;
  take(spec: RunSpec): void;
  start(): Promise<void>;
  wait(signal?: AbortSignal): Promise<RunResult>;
  kill(why: KillReason): void;
  stopStreams(): void;
  /**
   * The exit code before the phase's container is settled, where that can come sooner than
   * `wait` (a sandbox's). Its processes are gone by then.
   */
  exitCode?(signal?: AbortSignal): Promise<number>;
}

/**
 * Whether a spec's setup and test run in separate sandboxes: when only the setup may reach the
 * network, and when there is a dependency cache (writable for the setup, read-only for the test:
 * a mount cannot change inside a running container).
 */
export function isPhased(spec: RunSpec): boolean {
  return Boolean(spec.setup?.trim() && ((spec.setupNetwork && !spec.network) || spec.cacheVolume));
}

/** The networks of a phased run's two sandboxes: the setup's, then the test's. */
export function phaseNetworks(spec: RunSpec): { setup: boolean; test: boolean } {
  return { setup: Boolean(spec.network || spec.setupNetwork), test: Boolean(spec.network) };
}

export class PhasedRun implements WorkDirHold {
  box?: WorkDirHold["box"];
  runId?: string;
  checkedOut?: string;
  diskWatch?: NodeJS.Timeout;
  started = false;
  private phase: Phase;
  private deadline = 0;
  private result?: Promise<RunResult>;

  constructor(
    readonly spec: RunSpec,
    private readonly setup: Phase,
    private readonly test: Phase,
  ) {
    this.phase = setup;
  }

  /** The run's handle is the test container. */
  get container(): Docker.Container {
    return this.test.container;
  }

  get containers(): Docker.Container[] {
    return [this.setup.container, this.test.container];
  }

  /** The run is over: its last phase has ended. */
  get exited(): boolean {
    return this.phase === this.test && this.test.exited;
  }

  async start(): Promise<void> {
    this.started = true;
    this.deadline = Date.now() + this.spec.timeoutMs;
    await this.setup.start();
  }

  kill(why: KillReason): void {
    this.phase.kill(why);
  }

  stopStreams(): void {
    clearInterval(this.diskWatch);
    this.setup.stopStreams();
    this.test.stopStreams();
  }

  wait(signal?: AbortSignal): Promise<RunResult> {
    if (!this.started)
      return Promise.reject(new InfrastructureError(`run ${this.container.id} was not started`));
    this.result ??= this.both(signal).finally(() => clearInterval(this.diskWatch));
    return this.result;
  }

  private async both(signal?: AbortSignal): Promise<RunResult> {
    // A setup that exits 0 passed (a kill, a timeout or an abort never ends in 0): its sandbox
    // settles while the test starts in the other one.
    const early = await this.setup.exitCode?.(signal).catch(() => undefined);
    if (early === 0) return this.overlapped(signal);
    const first = await this.setup.wait(signal);
    const setupPassed =
      first.exitCode === 0 && !first.timedOut && !first.aborted && !first.diskFull;
    if (!setupPassed) return first;
    if (signal?.aborted) return { ...first, exitCode: null, aborted: true };
    const remaining = this.deadline - Date.now();
    if (remaining <= 0) return { ...first, exitCode: null, signal: "SIGKILL", timedOut: true };
    this.test.take({ ...this.spec, timeoutMs: remaining });
    this.phase = this.test;
    await this.test.start();
    const second = await this.test.wait(signal);
    return this.merged(first, second);
  }

  /** The test started while the setup's sandbox settles; a failed settle stops the test. */
  private async overlapped(signal?: AbortSignal): Promise<RunResult> {
    const setupDone = this.setup.wait(signal);
    const remaining = this.deadline - Date.now();
    if (signal?.aborted || remaining <= 0) {
      const first = await setupDone;
      return signal?.aborted
        ? { ...first, exitCode: null, aborted: true }
        : { ...first, exitCode: null, signal: "SIGKILL", timedOut: true };
    }
    this.test.take({ ...this.spec, timeoutMs: remaining });
    this.phase = this.test;
    const started = this.test.start();
    // Awaited below, once the setup's result is in; until then its failure is not unhandled.
    started.catch(() => {});
    const stopTest = async () => {
      await started.catch(() => {});
      this.test.kill("abort");
      await this.test.wait().catch(() => {});
    };
    let first: RunResult;
    try {
      first = await setupDone;
    } catch (err) {
      await stopTest();
      throw err;
    }
    if (first.exitCode !== 0 || first.timedOut || first.aborted || first.diskFull) {
      await stopTest();
      return first;
    }
    await started;
    return this.merged(first, await this.test.wait(signal));
  }

  /** One run's result from its two phases. */
  private merged(first: RunResult, second: RunResult): RunResult {
    const log = new TailBuffer(this.spec.logLimitBytes);
    log.push(Buffer.from(first.log));
    log.push(Buffer.from(second.log));
    return {
      ...second,
      durationMs: first.durationMs + second.durationMs,
      log: log.text(),
      logTruncated: first.logTruncated || second.logTruncated || log.truncated,
    };
  }
}
