// An executor wrapper that records when each phase of every run began and ended.
import type { Executor, RunHandle, RunResult, RunSpec } from "../../../runner/executors/types";

export interface RunTiming {
  sha: string;
  /** ms since the wrapper was created. */
  prepareStart: number;
  prepareEnd?: number;
  startEnd?: number;
  waitEnd?: number;
  destroyEnd?: number;
  /** The command's own duration as the executor reports it. */
  durationMs?: number;
  exitCode?: number | null;
}

export class TimingExecutor implements Executor {
  readonly name: string;
  readonly timings: RunTiming[] = [];
  private readonly byHandle = new Map<string, RunTiming>();
  private readonly t0 = performance.now();

  constructor(private readonly inner: Executor) {
    this.name = inner.name;
  }

  /** ms since the wrapper was created (the clock of `timings`). */
  now() {
    return performance.now() - this.t0;
  }

  async prepare(spec: RunSpec): Promise<RunHandle> {
    const timing: RunTiming = { sha: spec.sha, prepareStart: this.now() };
    this.timings.push(timing);
    const handle = await this.inner.prepare(spec);
    timing.prepareEnd = this.now();
    this.byHandle.set(handle.id, timing);
    return handle;
  }

  async start(run: RunHandle): Promise<void> {
    await this.inner.start(run);
    const t = this.byHandle.get(run.id);
    if (t) t.startEnd = this.now();
  }

  async wait(run: RunHandle, signal?: AbortSignal): Promise<RunResult> {
    const result = await this.inner.wait(run, signal);
    const t = this.byHandle.get(run.id);
    if (t) {
      t.waitEnd = this.now();
      t.durationMs = result.durationMs;
      t.exitCode = result.exitCode;
    }
    return result;
  }

  async destroy(run: RunHandle): Promise<void> {
    await this.inner.destroy(run);
    const t = this.byHandle.get(run.id);
    if (t) t.destroyEnd = this.now();
  }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
}
