// One run (or one phase of a phased run) in a sandbox: an `exec` of the run's script, its output,
// its wall-clock timeout and kills, and how it ended — then the sandbox settled for the next run.
import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import { describeDockerError } from "../docker/connect";
import { InfrastructureError } from "../errors";
import { newMarker } from "./container-run";
import { exitOf } from "./exec";
import {
  flagOnceKilled,
  type KillReason,
  killUntilEnded,
  mayBeDiskFull,
  runResultOf,
} from "./exit";
import { DockerDemuxer, TailBuffer } from "./output";
import type { Phase } from "./phased-run";
import { RUNNER_UID } from "./container-recipe";
import { type RunEnd, runEndOf, type Sandbox, type SandboxScript } from "./sandbox";
import type { RunResult, RunSpec } from "./types";
import type { WorkDirHold } from "./work-dirs";

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Enough for the wrapper's end line. */
const LAST_BYTES = 64;

export class SandboxRun implements Phase, WorkDirHold {
  box?: WorkDirHold["box"];
  runId?: string;
  checkedOut?: string;
  spec: RunSpec;
  started = false;
  exited = false;
  timedOut = false;
  aborted = false;
  diskFull = false;
  /**
   * Resolves once the sandbox was settled after this run: true when it may run again. The run's
   * result does not wait for it when the run's end line has the OOM counter; the sandbox's next
   * run does.
   */
  settled: Promise<boolean> = Promise.resolve(false);
  diskWatch?: NodeJS.Timeout;
  private output: TailBuffer;
  /** The last bytes received, where the wrapper's end line is looked for. */
  private last = Buffer.alloc(0);
  private readonly marker = newMarker();
  private exec?: Docker.Exec;
  private stream?: Duplex;
  private ended?: Promise<void>;
  private startedAt = 0;
  private endedAt = 0;
  private timer?: NodeJS.Timeout;
  private readonly kills: Promise<void>[] = [];
  private result?: Promise<RunResult>;
  /** The exit code, known before the sandbox has settled (see `exitCode`). */
  private readonly exit = deferred<number>();

  constructor(
    readonly sandbox: Sandbox,
    private readonly script: SandboxScript,
    /** The full environment of the run (the sandbox was made without the spec's own). */
    private readonly env: Record<string, string>,
    spec: RunSpec,
  ) {
    this.spec = spec;
    this.output = new TailBuffer(spec.logLimitBytes);
    this.exit.promise.catch(() => {});
  }

  get container(): Docker.Container {
    return this.sandbox.container;
  }

  take(spec: RunSpec): void {
    this.spec = spec;
    this.output = new TailBuffer(spec.logLimitBytes);
    this.last = Buffer.alloc(0);
  }

  private received(payload: Buffer): void {
    this.output.push(payload);
    const both = this.last.length ? Buffer.concat([this.last, payload]) : payload;
    this.last = Buffer.from(both.subarray(Math.max(0, both.length - LAST_BYTES)));
  }

  /** The wrapper's end line, taken off the log (undefined: there is none). */
  private takeRunEnd(): RunEnd | undefined {
    const end = runEndOf(this.last.toString("latin1"));
    if (end) this.output.dropEnd(end.length);
    return end;
  }

  private args(): string[] {
    const { setup = "", command } = this.spec;
    if (this.script === "setup") return [setup];
    if (this.script === "test") return [command];
    return [setup, command];
  }

  async start(): Promise<void> {
    this.started = true;
    const { sandbox } = this;
    // A sandbox still starting (the test's of a slot's first run) is waited for; one that could
    // not start was removed (broken) and says why.
    await sandbox.started;
    try {
      this.exec = await sandbox.container.exec({
        Cmd: sandbox.command(this.marker, this.script, this.args()),
        Env: Object.entries(this.env).map(([k, v]) => `${k}=${v}`),
        WorkingDir: "/work",
        User: `${RUNNER_UID}:${RUNNER_UID}`,
        AttachStdout: true,
        AttachStderr: true,
      });
      this.startedAt = Date.now();
      const stream = (await this.exec.start({ hijack: true, stdin: false })) as Duplex;
      this.stream = stream;
      const demux = new DockerDemuxer((payload) => this.received(payload));
      this.ended = new Promise<void>((resolve) => {
        const done = () => {
          if (!this.exited) {
            this.exited = true;
            this.endedAt = Date.now();
          }
          resolve();
        };
        stream.on("data", (chunk: Buffer) => demux.write(chunk));
        stream.on("end", done);
        stream.on("close", done);
        stream.on("error", done);
      });
    } catch (err) {
      sandbox.broken = true;
      throw new InfrastructureError(
        `starting a run in the sandbox on ${sandbox.engine} failed: ${describeDockerError(err)}`,
      );
    }
    this.timer = setTimeout(() => this.kill("timeout"), this.spec.timeoutMs);
    this.timer.unref?.();
  }

  wait(signal?: AbortSignal): Promise<RunResult> {
    if (!this.started || !this.ended)
      return Promise.reject(new InfrastructureError(`run in ${this.container.id} was not started`));
    const onAbort = () => this.kill("abort");
    if (signal) {
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    }
    this.result ??= this.collect();
    return this.result.finally(() => signal?.removeEventListener("abort", onAbort));
  }

  /**
   * The run's exit code as soon as the engine has it, while the sandbox may still be settling
   * (`wait` has the whole result). The run's own processes are gone by then: the run wrapper
   * killed them when its script ended.
   */
  exitCode(signal?: AbortSignal): Promise<number> {
    this.wait(signal).catch(() => {});
    return this.exit.promise;
  }

  /** Kill the run's processes unless it has ended; flag why only when the kill took effect. */
  kill(why: KillReason): void {
    if (this.exited || !this.ended) return;
    // A failed kill: the sandbox is gone, the run ended with it (the next run gets another one).
    const kill = killUntilEnded(() => this.sandbox.kill(), this.ended);
    this.kills.push(flagOnceKilled(this, why, kill));
  }

  stopStreams(): void {
    clearTimeout(this.timer);
    clearInterval(this.diskWatch);
    this.stream?.destroy();
  }

  private async collect(): Promise<RunResult> {
    await this.ended;
    clearTimeout(this.timer);
    clearInterval(this.diskWatch);
    await Promise.all(this.kills);
    const { sandbox } = this;
    const oomBefore = sandbox.oomKills;
    let exitCode: number | null;
    let oomKills: number | null;
    // The exit code, the settle and (for a failure that a full disk may explain) the work
    // directory's size, all at once: the run has ended, so settling cannot change its exit code.
    const settling = sandbox.settle();
    settling.catch(() => {});
    this.settled = settling.then(
      () => !sandbox.broken,
      () => false,
    );
    let full: Promise<boolean> = Promise.resolve(false);
    try {
      const info = await exitOf(() => this.exec!.inspect());
      if (info.running) {
        // The output stream was lost, not the run: nothing of it can be trusted.
        sandbox.broken = true;
        throw new Error("the run's output stream ended before the run");
      }
      // No exit code: the sandbox itself went down under the run (it killed its keeper).
      exitCode = info.exitCode ?? 137;
      this.exit.resolve(exitCode);
      const end = this.takeRunEnd();
      const { box, runId } = this;
      const { workBytes } = this.spec.limits;
      if (!this.diskFull && mayBeDiskFull(exitCode)) {
        if (end?.workKib != null) full = Promise.resolve(end.workKib * 1024 >= workBytes);
        else if (box && runId)
          full = box
            .usage(runId)
            .then((bytes) => bytes >= workBytes)
            .catch(() => false);
      }
      // The last phase's result need not wait for the settle: one that fails after the run's
      // end leaves the result standing and only keeps the sandbox from running again (the
      // slot's next run waits for `settled`). A setup's does wait: its failure stops the test,
      // which shares the work directory (phased-run.ts).
      oomKills =
        this.script !== "setup" && end?.oomKills != null && oomBefore !== null
          ? end.oomKills - oomBefore
          : await settling;
    } catch (err) {
      sandbox.broken = true;
      this.exit.reject(err);
      throw new InfrastructureError(
        `collecting a run in the sandbox on ${sandbox.engine} failed: ${describeDockerError(err)}`,
      );
    }
    if (await full) this.diskFull = true;
    return runResultOf(
      {
        exitCode,
        oomKilled: (oomKills ?? 0) > 0,
        durationMs: this.endedAt - this.startedAt,
        log: this.output.text(),
        logTruncated: this.output.truncated,
        timedOut: this.timedOut,
        aborted: this.aborted,
        diskFull: this.diskFull,
        marker: this.marker,
      },
      { sha: this.spec.sha, engine: sandbox.engine },
    );
  }
}
