// One executor contract, several backends (Docker on any host, a local process, a scripted fake).
//
// Lifecycle of one run:   prepare(spec) → start(run) → wait(run) → destroy(run)
//
// Invariants every backend keeps:
// - `prepare` creates everything the run needs (container, work dir) but starts nothing. It may
//   fail; the caller still calls `destroy` on whatever handle it got, or none if it threw.
// - `start` begins the command; `wait` resolves once it has ended — by itself, by the wall-clock
//   timeout (killed, `timedOut`), by the abort signal (killed, `aborted`) — with the collected
//   output tail. `wait` never rejects for the command's own failure: a non-zero exit, a signal,
//   an OOM kill are results. It rejects only when the backend itself fails (InfrastructureError).
// - `destroy` removes every resource of the run (container, tmpfs, temp dir). It is idempotent,
//   safe after a failed `prepare` or `start`, and never throws for an already-removed resource.
// - Every resource carries the labels of `spec.labels` so a reaper can find what a crash left.
//   Exception: a resource made ahead of time for any run of a pool (the Docker executor's warm
//   pool) carries the pool's labels instead — app, `bisect-bot.pool`, `bisect-bot.pid` and the
//   pool's own — since per-run labels cannot be added once it exists; and a job's sandbox, which
//   serves many runs, carries the labels its executor was given for them (the job's).
// - No secret (clone token, app key) is ever part of `spec.env` or the command's environment.

export interface Limits {
  /** Memory and memory+swap (no swap), bytes. */
  memoryBytes: number;
  /** CPU quota in billionths of a CPU (1e9 = one core). */
  nanoCpus: number;
  /** Maximum number of processes. */
  pids: number;
  /**
   * Size of the writable work dir (the checkout, HOME and /tmp), bytes. On disk, not in memory: a
   * run that reaches it is stopped and reported `diskFull`.
   */
  workBytes: number;
}

export const defaultLimits: Limits = {
  memoryBytes: 1024 * 1024 * 1024,
  nanoCpus: 1_000_000_000,
  pids: 256,
  workBytes: 1024 * 1024 * 1024,
};

/** Where the repository comes from. Never carries a credential. */
export type RepoSource =
  /** A git directory (bare or not) on the engine's host, mounted read-only. */
  | { kind: "host-path"; path: string }
  /** A Docker volume holding a bare mirror (the farm's per-host cache), mounted read-only. */
  | { kind: "volume"; name: string; subpath?: string };

export interface RunSpec {
  /** Labels put on every resource (app, job, step). */
  labels: Record<string, string>;
  repo: RepoSource;
  sha: string;
  /** Optional setup run before the test in the same checkout (build, install). */
  setup?: string;
  /** The test command, run by `sh -c` in the checkout. */
  command: string;
  /** Extra non-secret environment for the command. */
  env?: Record<string, string>;
  timeoutMs: number;
  limits: Limits;
  /** Network access for the setup and the command (off unless the repository opts in). */
  network: boolean;
  /**
   * Network access for the setup only: the setup runs in a sandbox of its own with network, the
   * command in another without any, both on the same work directory. Ignored when `network` is
   * true or there is no setup.
   */
  setupNetwork?: boolean;
  /** Output kept per run (the tail), bytes. */
  logLimitBytes: number;
  /**
   * A Docker volume holding the repository's dependency caches on this host (never another
   * repository's), mounted at /cache; the tools' cache variables point there. Writable in the
   * setup; read-only in the test when the test has a container of its own. Docker executor only.
   */
  cacheVolume?: string;
  /**
   * Paths of the checkout (bisect.yml's `cache:`) restored from the cache volume before the setup
   * and saved to it after a setup that succeeded. Only with `cacheVolume` and a setup.
   */
  cachePaths?: string[];
  /** Docker image (ignored by the local executor). */
  image?: string;
}

export interface RunResult {
  /** The command's exit code; null when it died by a signal or never ran. */
  exitCode: number | null;
  /** Signal name when the command died by one (SIGKILL after a timeout, OOM…). */
  signal: string | null;
  timedOut: boolean;
  oomKilled: boolean;
  aborted: boolean;
  /** Stopped at (or failed at) its work directory's size limit. */
  diskFull?: boolean;
  /** From start to end of the command, ms. */
  durationMs: number;
  /** The last `logLimitBytes` of stdout+stderr, interleaved. */
  log: string;
  logTruncated: boolean;
}

export interface RunHandle {
  readonly id: string;
}

export interface Executor {
  readonly name: string;
  prepare(spec: RunSpec): Promise<RunHandle>;
  start(run: RunHandle): Promise<void>;
  wait(run: RunHandle, signal?: AbortSignal): Promise<RunResult>;
  destroy(run: RunHandle): Promise<void>;
}
