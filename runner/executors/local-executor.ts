/**
 * The local executor — for TRUSTED local use only (a developer bisecting their own repository,
 * `npm run bisect`, tests). The command runs as a plain child process of this one, with this
 * user's rights and this machine's network: there is no isolation, no memory, CPU or process
 * limit, and no protection of the host. Never give it a command from someone else; untrusted
 * commands go to the Docker executor.
 *
 * A run gets a temporary directory: the commit is checked out into `<tmp>/src` with
 * `git clone --shared --no-checkout <repo>` + `git checkout --detach <sha>` (the source repository
 * is only read), HOME is `<tmp>`, and the environment is PATH, HOME and `spec.env` only. The setup
 * and the command run under `sh` in a process group of their own; the wall-clock timeout and the
 * abort signal kill the whole group, and so does the end of the command (nothing it left running
 * in the background survives the run). A failed setup exits 125, as in the Docker executor.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { settlesWithin } from "./exit";
import { TailBuffer } from "./output";
import { runScript } from "./run-script";
import { InfrastructureError } from "../errors";
import { type Executor, type RunHandle, type RunResult, type RunSpec } from "./types";

/** After the command exits: how long the output pipes may take to close. */
const DRAIN_MS = 2_000;

export interface LocalExecutorOptions {
  /** Parent of the per-run temporary directories, default the OS temp dir. */
  tmpRoot?: string;
}

interface LocalRun {
  spec: RunSpec;
  dir: string;
  child?: ChildProcess;
  startedAt: number;
  output: TailBuffer;
  exit?: Promise<{ code: number | null; signal: NodeJS.Signals | null; endedAt: number }>;
  closed?: Promise<void>;
  timer?: NodeJS.Timeout;
  timedOut: boolean;
  aborted: boolean;
  result?: Promise<RunResult>;
}

function gitQuiet(args: string[], cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      args,
      {
        cwd,
        maxBuffer: 16 * 1024 * 1024,
        env: onlyEnv({
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: process.env.HOME ?? "/",
          GIT_TERMINAL_PROMPT: "0",
          LC_ALL: "C",
        }),
      },
      (err, _stdout, stderr) => {
        if (err)
          reject(
            new Error((String(stderr).trim() || err.message).split("\n").slice(-5).join("\n")),
          );
        else resolve();
      },
    );
  });
}

export class LocalExecutor implements Executor {
  readonly name = "local";
  private readonly runs = new Map<string, LocalRun>();

  constructor(private readonly options: LocalExecutorOptions = {}) {}

  async prepare(spec: RunSpec): Promise<RunHandle> {
    if (spec.repo.kind !== "host-path")
      throw new InfrastructureError("the local executor needs a host-path repository");
    if (!/^[0-9a-f]{7,64}$/i.test(spec.sha))
      throw new InfrastructureError(`sha must be hexadecimal: ${JSON.stringify(spec.sha)}`);
    if (!(spec.timeoutMs > 0)) throw new InfrastructureError("timeoutMs must be > 0");
    for (const name of Object.keys(spec.env ?? {})) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
        throw new InfrastructureError(`invalid environment name ${JSON.stringify(name)}`);
    }
    const dir = await mkdtemp(path.join(this.options.tmpRoot ?? tmpdir(), "bisect-run-"));
    const src = path.join(dir, "src");
    try {
      await gitQuiet(["clone", "-q", "--shared", "--no-checkout", "--", spec.repo.path, src]);
      await gitQuiet(
        ["-c", "advice.detachedHead=false", "checkout", "-q", "--detach", spec.sha],
        src,
      );
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw new InfrastructureError(`checkout of ${spec.sha} failed: ${(err as Error).message}`);
    }
    const id = randomUUID();
    this.runs.set(id, {
      spec,
      dir,
      startedAt: 0,
      output: new TailBuffer(spec.logLimitBytes),
      timedOut: false,
      aborted: false,
    });
    return { id };
  }

  async start(run: RunHandle): Promise<void> {
    const state = this.state(run);
    if (state.child) throw new InfrastructureError(`run ${run.id} was already started`);
    const { spec } = state;
    const child = spawn(
      "sh",
      [
        "-c",
        runScript(path.join(state.dir, ".bisect-setup-env")),
        "bisect-run",
        spec.setup ?? "",
        spec.command,
      ],
      {
        cwd: path.join(state.dir, "src"),
        env: onlyEnv({
          PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
          HOME: state.dir,
          ...spec.env,
        }),
        detached: true, // its own process group, so the whole group can be killed
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    state.child = child;
    state.startedAt = Date.now();
    const onData = (chunk: Buffer) => state.output.push(chunk);
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    state.closed = new Promise((resolve) => child.on("close", () => resolve()));
    state.exit = new Promise((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", (code, signal) => {
        const endedAt = Date.now();
        // Whatever the command left running in its group ends with it.
        killGroup(child);
        resolve({ code, signal, endedAt });
      });
    });
    state.exit.catch(() => {});
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", (err) =>
        reject(new InfrastructureError(`starting sh failed: ${err.message}`)),
      );
    });
    state.timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) {
        state.timedOut = true;
        killGroup(child);
      }
    }, spec.timeoutMs);
    state.timer.unref?.();
  }

  wait(run: RunHandle, signal?: AbortSignal): Promise<RunResult> {
    const state = this.state(run);
    const child = state.child;
    if (!child || !state.exit)
      return Promise.reject(new InfrastructureError(`run ${run.id} was not started`));
    const onAbort = () => {
      if (child.exitCode === null && child.signalCode === null) {
        state.aborted = true;
        killGroup(child);
      }
    };
    if (signal) {
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    }
    state.result ??= this.collect(state);
    return state.result.finally(() => signal?.removeEventListener("abort", onAbort));
  }

  async destroy(run: RunHandle): Promise<void> {
    const state = this.runs.get(run.id);
    if (!state) return;
    clearTimeout(state.timer);
    const child = state.child;
    // Only a live leader's group: once it has exited (and its group was killed then), its pid may be reused.
    if (child && child.exitCode === null && child.signalCode === null) killGroup(child);
    this.runs.delete(run.id);
    await rm(state.dir, { recursive: true, force: true, maxRetries: 3 });
  }

  private state(run: RunHandle): LocalRun {
    const state = this.runs.get(run.id);
    if (!state) throw new InfrastructureError(`unknown run ${run.id}`);
    return state;
  }

  private async collect(state: LocalRun): Promise<RunResult> {
    let exit: { code: number | null; signal: NodeJS.Signals | null; endedAt: number };
    try {
      exit = await state.exit!;
    } catch (err) {
      throw new InfrastructureError(`the command's process failed: ${(err as Error).message}`);
    } finally {
      clearTimeout(state.timer);
    }
    if (state.closed) await settlesWithin(state.closed, DRAIN_MS);
    return {
      exitCode: exit.code,
      signal: exit.signal,
      timedOut: state.timedOut,
      oomKilled: false,
      aborted: state.aborted,
      durationMs: exit.endedAt - state.startedAt,
      log: state.output.text(),
      logTruncated: state.output.truncated,
    };
  }
}

/** Exactly these variables: nothing of this process's environment is inherited. */
function onlyEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  return vars as NodeJS.ProcessEnv;
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // ESRCH: the group is already gone.
  }
}
