// One run's container once it exists: attaching to it and starting it (or handing a warm one its
// assignment), its wall-clock timeout and kills, and collecting how it ended.
import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import { describeDockerError } from "../docker/connect";
import { InfrastructureError } from "../errors";
import {
  drain,
  engineDuration,
  type ExitStatus,
  flagOnceKilled,
  type KillReason,
  mayBeDiskFull,
  readExit,
  runResultOf,
  waitNextExit,
} from "./exit";
import { DockerDemuxer, TailBuffer } from "./output";
import { warmAssignment } from "./run-script";
import type { RunResult, RunSpec } from "./types";
import type { WorkDirHold } from "./work-dirs";

/** A fresh checkout-failure marker: known only to the run's checkout step and to us. */
export const newMarker = () => `bisect-runner-checkout-failed-${randomBytes(16).toString("hex")}`;

export class ContainerRun implements WorkDirHold {
  box?: WorkDirHold["box"];
  runId?: string;
  checkedOut?: string;
  /** A warm container gets its spec when a run takes it. */
  spec: RunSpec;
  output: TailBuffer;
  started = false;
  /** Start of the command (a warm container: of its assignment), Date.now(). */
  startedAt = 0;
  exited = false;
  /** When the exit was seen, Date.now(). */
  exitedAt?: number;
  timedOut = false;
  aborted = false;
  /** Stopped (or found) at its work directory's size limit. */
  diskFull = false;
  diskWatch?: NodeJS.Timeout;
  private timer?: NodeJS.Timeout;
  private attach?: Duplex;
  private attachEnded?: Promise<void>;
  private exit?: Promise<ExitStatus>;
  private readonly kills: Promise<void>[] = [];
  private result?: Promise<RunResult>;

  constructor(
    private readonly docker: Docker,
    readonly container: Docker.Container,
    /** Name of the engine, for messages. */
    private readonly engine: string,
    readonly marker: string,
    /** A warm container: started ahead of time, waiting for its assignment on stdin. */
    readonly warm: boolean,
    spec?: RunSpec,
  ) {
    this.spec = spec as RunSpec;
    this.output = new TailBuffer(spec?.logLimitBytes ?? 0);
  }

  get containers(): Docker.Container[] {
    return [this.container];
  }

  /** Give a warm container its run (before `start`). */
  take(spec: RunSpec): void {
    this.spec = spec;
    this.output = new TailBuffer(spec.logLimitBytes);
  }

  /** Start the command (a warm container: hand it its assignment) and its wall-clock timeout. */
  async start(): Promise<void> {
    this.started = true;
    if (this.warm) {
      await this.assign();
    } else {
      try {
        await this.launch(false);
      } catch (err) {
        throw new InfrastructureError(
          `starting the container on ${this.engine} failed: ${describeDockerError(err)}`,
        );
      }
      this.startedAt = Date.now();
    }
    this.timer = setTimeout(() => this.kill("timeout"), this.spec.timeoutMs);
    this.timer.unref?.();
  }

  /**
   * Attach (stdout, stderr and, for a warm container, stdin) and register the exit wait, both in
   * place before the container starts: no output is lost, and the wait (condition next-exit,
   * registered once its response headers arrive) cannot miss the exit. Then start it.
   */
  async launch(stdin: boolean): Promise<void> {
    const { container } = this;
    try {
      const [attach, waitResponse] = await Promise.all([
        container.attach({
          stream: true,
          stdin,
          stdout: true,
          stderr: true,
          hijack: true,
        }) as Promise<Duplex>,
        waitNextExit(this.docker, container.id),
      ]);
      this.attach = attach;
      const demux = new DockerDemuxer((payload) => this.output.push(payload));
      this.attachEnded = new Promise<void>((resolve) => {
        attach.on("data", (chunk: Buffer) => demux.write(chunk));
        attach.on("end", resolve);
        attach.on("close", resolve);
        attach.on("error", () => resolve());
      });
      this.exit = readExit(waitResponse);
      const exited = () => {
        this.exited = true;
        this.exitedAt = Date.now();
      };
      this.exit.then(exited, exited);
      await container.start();
    } catch (err) {
      this.stopStreams();
      throw err;
    }
  }

  /** Hand a warm container its run: setup and command on stdin. The clock starts here. */
  private async assign(): Promise<void> {
    const { spec, attach } = this;
    if (this.exited || !attach || attach.destroyed || !attach.writable) throw this.endedEarly();
    const assignment = warmAssignment(spec.setup ?? "", spec.command);
    this.startedAt = Date.now();
    try {
      await new Promise<void>((resolve, reject) =>
        attach.write(assignment, (err) => (err ? reject(err) : resolve())),
      );
    } catch (err) {
      throw new InfrastructureError(
        `handing the run to a warm container on ${this.engine} failed: ${describeDockerError(err)}`,
      );
    }
  }

  /** The run's result once it has ended; `signal` aborts it. */
  wait(signal?: AbortSignal): Promise<RunResult> {
    if (!this.started || !this.exit)
      return Promise.reject(new InfrastructureError(`run ${this.container.id} was not started`));
    const onAbort = () => this.kill("abort");
    if (signal) {
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    }
    this.result ??= this.collect();
    return this.result.finally(() => signal?.removeEventListener("abort", onAbort));
  }

  /** Kill the container unless it has already exited; flag why only when the kill took effect. */
  kill(why: KillReason): void {
    if (this.exited) return;
    // A failed kill (404/409): it ended by itself meanwhile; anything else surfaces in wait/inspect.
    this.kills.push(flagOnceKilled(this, why, this.container.kill({ signal: "SIGKILL" })));
  }

  stopStreams(): void {
    clearTimeout(this.timer);
    clearInterval(this.diskWatch);
    this.attach?.destroy();
  }

  private endedEarly(): InfrastructureError {
    return new InfrastructureError(
      `the warm container ${this.container.id.slice(0, 12)} on ${this.engine} ended before its assignment`,
    );
  }

  private async collect(): Promise<RunResult> {
    let exit: ExitStatus;
    try {
      exit = await this.exit!;
    } catch (err) {
      throw new InfrastructureError(
        `waiting for the container on ${this.engine} failed: ${describeDockerError(err)}`,
      );
    } finally {
      clearTimeout(this.timer);
      clearInterval(this.diskWatch);
    }
    const endedAt = Date.now();
    await Promise.all(this.kills);
    let info: Docker.ContainerInspectInfo;
    // A failure that may be the disk's, not the commit's: measured once more.
    const measuring =
      !this.diskFull && this.box && this.runId && mayBeDiskFull(exit.statusCode)
        ? this.box.usage(this.runId).catch(() => 0)
        : Promise.resolve(0);
    try {
      info = await this.container.inspect();
      if ((await measuring) >= this.spec.limits.workBytes) this.diskFull = true;
    } catch (err) {
      throw new InfrastructureError(
        `inspecting the container on ${this.engine} failed: ${describeDockerError(err)}`,
      );
    }
    await drain(this.attachEnded, this.attach);
    const exitedAt = this.exitedAt ?? endedAt;
    if (this.warm && exitedAt < this.startedAt) throw this.endedEarly();
    return runResultOf(
      {
        exitCode: info.State.ExitCode ?? exit.statusCode,
        oomKilled: info.State.OOMKilled === true,
        // A warm container started long before its run: its command's time counts from the assignment.
        durationMs: this.warm
          ? exitedAt - this.startedAt
          : (engineDuration(info.State.StartedAt, info.State.FinishedAt) ??
            endedAt - this.startedAt),
        log: this.output.text(),
        logTruncated: this.output.truncated,
        timedOut: this.timedOut,
        aborted: this.aborted,
        diskFull: this.diskFull,
        marker: this.marker,
      },
      { sha: this.spec.sha, engine: this.engine },
    );
  }
}
