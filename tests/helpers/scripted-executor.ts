// An executor that runs nothing: each run ends as its script says (an exit code, a host failure,
// or a run that lasts until it is stopped). It lets the farm's bookkeeping — take-over, retries,
// cancellation, the shutdown hand-back — be tested on PostgreSQL alone. It records every run it
// was given and which are still alive, so a test can check that nothing is left behind.
import { InfrastructureError } from "../../runner/errors";
import type { Executor, RunHandle, RunResult, RunSpec } from "../../runner/executors/types";

export type ScriptedRun =
  | { exit: number; log?: string }
  /** The host fails before the run starts (an engine that stopped answering). */
  | { infrastructure: string }
  /** Runs until stopped: the abort signal ends it as aborted. */
  | { hang: true };

interface Run extends RunHandle {
  spec: RunSpec;
  outcome: ScriptedRun;
}

export class ScriptedExecutor implements Executor {
  /** Every run prepared, in order (its commit is `spec.sha`). */
  readonly prepared: RunSpec[] = [];
  /** Runs prepared and not yet destroyed. */
  readonly alive = new Set<string>();
  private next = 0;

  constructor(
    readonly name: string,
    private readonly script: (spec: RunSpec) => ScriptedRun,
  ) {}

  async prepare(spec: RunSpec): Promise<Run> {
    const outcome = this.script(spec);
    if ("infrastructure" in outcome) throw new InfrastructureError(outcome.infrastructure);
    const run = { id: `${this.name}-${++this.next}`, spec, outcome };
    this.prepared.push(spec);
    this.alive.add(run.id);
    return run;
  }

  async start(): Promise<void> {}

  async wait(handle: RunHandle, signal?: AbortSignal): Promise<RunResult> {
    const { outcome } = handle as Run;
    const result = (over: Partial<RunResult>): RunResult => ({
      exitCode: null,
      signal: null,
      timedOut: false,
      oomKilled: false,
      aborted: false,
      durationMs: 1,
      log: "",
      logTruncated: false,
      ...over,
    });
    if ("exit" in outcome) return result({ exitCode: outcome.exit, log: outcome.log ?? "" });
    if (signal?.aborted) return result({ aborted: true });
    await new Promise<void>((resolve) => signal?.addEventListener("abort", () => resolve()));
    return result({ aborted: true, signal: "SIGKILL" });
  }

  async destroy(handle: RunHandle): Promise<void> {
    this.alive.delete(handle.id);
  }
}
