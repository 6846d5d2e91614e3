// bench:real's runs over several runner hosts at once, as the farm spreads a job's steps: each run
// goes to the host with the fewest runs in flight, with that host's own dependency cache (a
// repository's cache is per host). Each host is a DockerExecutor in sandbox mode, so a host makes
// sandboxes for its first runs only.
import type { DockerExecutor } from "../../../runner/executors/docker-executor";
import type { Executor, RunHandle, RunResult, RunSpec } from "../../../runner/executors/types";

export interface SpreadHost {
  executor: DockerExecutor;
  /** This host's cache volume for the repository (none: the spec's own). */
  cacheVolume?: string;
}

export class SpreadExecutor implements Executor {
  readonly name = "spread";
  private readonly inFlight: number[];
  /** Host of each run until destroyed; `counted`: runs still counted in `inFlight`. */
  private readonly placed = new Map<string, number>();
  private readonly counted = new Set<string>();

  constructor(private readonly hosts: readonly SpreadHost[]) {
    this.inFlight = hosts.map(() => 0);
  }

  async prepare(spec: RunSpec): Promise<RunHandle> {
    const i = this.inFlight.indexOf(Math.min(...this.inFlight));
    const host = this.hosts[i]!;
    this.inFlight[i]!++;
    try {
      const handle = await host.executor.prepare(
        host.cacheVolume ? { ...spec, cacheVolume: host.cacheVolume } : spec,
      );
      this.placed.set(handle.id, i);
      this.counted.add(handle.id);
      return handle;
    } catch (error) {
      this.inFlight[i]!--;
      throw error;
    }
  }

  start(run: RunHandle): Promise<void> {
    return this.host(run).start(run);
  }

  async wait(run: RunHandle, signal?: AbortSignal): Promise<RunResult> {
    try {
      return await this.host(run).wait(run, signal);
    } finally {
      // The host's slot is free once the run's result is in (its sandbox is handed back then).
      this.uncount(run);
    }
  }

  async destroy(run: RunHandle): Promise<void> {
    this.uncount(run);
    const executor = this.host(run);
    this.placed.delete(run.id);
    await executor.destroy(run);
  }

  private uncount(run: RunHandle): void {
    if (this.counted.delete(run.id)) this.inFlight[this.placed.get(run.id)!]!--;
  }

  private host(run: RunHandle): Executor {
    const i = this.placed.get(run.id);
    if (i === undefined) throw new Error(`run ${run.id} was not placed by this executor`);
    return this.hosts[i]!.executor;
  }
}
