// The Docker executor: one fresh, hardened container per run, on any engine dockerode reaches.
//
// The container: the runner image, uid 1000:1000, every capability dropped, no-new-privileges,
// read-only root, a size-limited tmpfs at /work (the checkout and HOME) and a small one at /tmp,
// memory = memory+swap, CPU quota, pids limit, no network unless the spec asks for it, no log
// driver (output is streamed through an attach and only its tail is kept), never AutoRemove.
// The repository is mounted read-only at /mirror and checked out inside the container:
//
//   git clone -q --shared --no-checkout /mirror /work/src && git -C /work/src checkout -q --detach <sha>
//
// then the optional setup and `sh -c <command>` run in /work/src. A failed checkout is reported
// as an InfrastructureError (the mirror lacks the commit, the mount is unreadable…), never as a
// verdict: the checkout step prints a per-run random marker only it knows and exits with a reserved
// code, so a test command cannot pass its own failure off as the infrastructure's. A failed setup
// exits 125, git bisect's "cannot test this commit", with a line saying so in the log.
//
// Round trips per run: create; attach + wait registration (in parallel); start; inspect; remove.
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import { describeDockerError, statusOf } from "../docker/connect.js";
import { DEFAULT_RUNNER_IMAGE } from "../image.js";
import { DockerDemuxer, TailBuffer } from "./output.js";
import {
  type Executor,
  InfrastructureError,
  type RepoSource,
  type RunHandle,
  type RunResult,
  type RunSpec,
} from "./types.js";

/** The label every container of this product carries. */
export const APP_LABEL = { app: "bisect-bot" } as const;

/** Where things live inside the container. */
export const CONTAINER_PATHS = {
  mirror: "/mirror",
  work: "/work",
  checkout: "/work/src",
  tmp: "/tmp",
} as const;

const RUNNER_UID = 1000;
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** Exit code of the checkout step when it fails (together with the run's marker). */
const CHECKOUT_FAILED = 213;
/** Exit code reported when the setup command fails (git bisect run's "skip"). */
export const SETUP_FAILED_EXIT = 125;
/** How long to let the output stream drain after the container has exited. */
const DRAIN_MS = 2_000;

// $1 marker, $2 mirror dir, $3 sha, $4 setup, $5 command. The checkout runs first; then the shell
// replaces itself (so the marker is gone from /proc before any repository code runs) with one that
// runs the setup and the command as children — the command never runs as PID 1.
const ENTRY_SCRIPT = [
  'if ! out=$(git clone -q --shared --no-checkout -- "$2" /work/src 2>&1 && git -C /work/src checkout -q --detach "$3" 2>&1); then',
  '  printf "%s\\n%s\\n" "$out" "$1" >&2',
  `  exit ${CHECKOUT_FAILED}`,
  "fi",
  `cd /work/src || { printf "cannot enter /work/src\\n%s\\n" "$1" >&2; exit ${CHECKOUT_FAILED}; }`,
  "shift 3",
  "exec sh -c '" +
    'if [ -n "$1" ]; then sh -c "$1"; r=$?; if [ "$r" -ne 0 ]; then ' +
    `echo "bisect-runner: setup failed with exit code $r" >&2; exit ${SETUP_FAILED_EXIT}; fi; fi; ` +
    'sh -c "$2"; exit $?' +
    '\' bisect-run "$@"',
].join("\n");

export interface DockerExecutorOptions {
  /** Name of this executor (e.g. the runner host's), default "docker". */
  name?: string;
  /** Image when the spec names none, default `bisect-runner:latest`. */
  image?: string;
  /** Network mode for specs with `network: true`, default "bridge". */
  networkMode?: string;
  /** Size of the /tmp tmpfs, default 64 MiB. It counts against the memory limit, like /work. */
  tmpBytes?: number;
}

interface ExitInfo {
  exitCode: number | null;
  oomKilled: boolean;
  durationMs: number;
  log: string;
  logTruncated: boolean;
}

interface RunState {
  container: Docker.Container;
  spec: RunSpec;
  marker: string;
  output: TailBuffer;
  started: boolean;
  startedAt: number;
  exited: boolean;
  timedOut: boolean;
  aborted: boolean;
  timer?: NodeJS.Timeout;
  attach?: Duplex;
  attachEnded?: Promise<void>;
  exit?: Promise<{ statusCode: number | null; error?: string }>;
  kills: Promise<void>[];
  result?: Promise<RunResult>;
}

const isSha = (s: string) => /^[0-9a-f]{7,64}$/i.test(s);
const isEnvName = (s: string) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(s);

export class DockerExecutor implements Executor {
  readonly name: string;
  private readonly runs = new Map<string, RunState>();
  private readonly volumes = new Map<string, { mountpoint: string; driver: string }>();
  private apiVersion?: Promise<number>;

  constructor(
    readonly docker: Docker,
    private readonly options: DockerExecutorOptions = {},
  ) {
    this.name = options.name ?? "docker";
  }

  async prepare(spec: RunSpec): Promise<RunHandle> {
    validateSpec(spec);
    const image = spec.image ?? this.options.image ?? DEFAULT_RUNNER_IMAGE;
    const { mounts, mirrorDir } = await this.mirrorMount(spec.repo);
    const marker = `bisect-runner-checkout-failed-${randomBytes(16).toString("hex")}`;
    const { limits } = spec;
    const tmpBytes = Math.min(this.options.tmpBytes ?? 64 * 1024 * 1024, limits.workBytes);
    const ids = `uid=${RUNNER_UID},gid=${RUNNER_UID}`;
    const env = { PATH, HOME: CONTAINER_PATHS.work, ...spec.env };
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer({
        Image: image,
        Cmd: [
          "sh",
          "-c",
          ENTRY_SCRIPT,
          "bisect-checkout",
          marker,
          mirrorDir,
          spec.sha,
          spec.setup ?? "",
          spec.command,
        ],
        Entrypoint: [],
        User: `${RUNNER_UID}:${RUNNER_UID}`,
        WorkingDir: CONTAINER_PATHS.work,
        Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
        Labels: { ...spec.labels, ...APP_LABEL },
        Hostname: "bisect",
        AttachStdin: false,
        AttachStdout: true,
        AttachStderr: true,
        OpenStdin: false,
        Tty: false,
        HostConfig: {
          AutoRemove: false,
          Privileged: false,
          CapDrop: ["ALL"],
          SecurityOpt: ["no-new-privileges"],
          ReadonlyRootfs: true,
          Tmpfs: {
            [CONTAINER_PATHS.work]: `rw,exec,nosuid,nodev,size=${limits.workBytes},${ids},mode=0755`,
            [CONTAINER_PATHS.tmp]: `rw,exec,nosuid,nodev,size=${tmpBytes},mode=1777`,
          },
          Memory: limits.memoryBytes,
          MemorySwap: limits.memoryBytes,
          NanoCpus: limits.nanoCpus,
          PidsLimit: limits.pids,
          Ulimits: [{ Name: "core", Soft: 0, Hard: 0 }],
          OomScoreAdj: 500,
          NetworkMode: spec.network ? (this.options.networkMode ?? "bridge") : "none",
          Mounts: mounts,
          LogConfig: { Type: "none", Config: {} },
          RestartPolicy: { Name: "no" },
        },
      });
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) {
        throw new InfrastructureError(
          `image ${image} is not on ${this.name} (build or copy it: npm run runner:image): ${describeDockerError(err)}`,
        );
      }
      if (spec.repo.kind === "volume") this.volumes.delete(spec.repo.name);
      throw new InfrastructureError(
        `creating the container on ${this.name} failed: ${describeDockerError(err)}`,
      );
    }
    this.runs.set(container.id, {
      container,
      spec,
      marker,
      output: new TailBuffer(spec.logLimitBytes),
      started: false,
      startedAt: 0,
      exited: false,
      timedOut: false,
      aborted: false,
      kills: [],
    });
    return { id: container.id };
  }

  async start(run: RunHandle): Promise<void> {
    const state = this.state(run);
    if (state.started) throw new InfrastructureError(`run ${run.id} was already started`);
    state.started = true;
    const { container } = state;
    try {
      // Both streams are in place before the container starts: no output is lost, and the wait
      // (condition next-exit, registered once its response headers arrive) cannot miss the exit.
      const [attach, waitResponse] = await Promise.all([
        container.attach({
          stream: true,
          stdout: true,
          stderr: true,
          hijack: true,
        }) as Promise<Duplex>,
        this.waitNextExit(container.id),
      ]);
      state.attach = attach;
      const demux = new DockerDemuxer((payload) => state.output.push(payload));
      state.attachEnded = new Promise<void>((resolve) => {
        attach.on("data", (chunk: Buffer) => demux.write(chunk));
        attach.on("end", resolve);
        attach.on("close", resolve);
        attach.on("error", () => resolve());
      });
      state.exit = readExit(waitResponse);
      state.exit.then(
        () => (state.exited = true),
        () => (state.exited = true),
      );
      await container.start();
    } catch (err) {
      this.stopStreams(state);
      throw new InfrastructureError(
        `starting the container on ${this.name} failed: ${describeDockerError(err)}`,
      );
    }
    state.startedAt = Date.now();
    state.timer = setTimeout(() => this.kill(state, "timeout"), state.spec.timeoutMs);
    state.timer.unref?.();
  }

  wait(run: RunHandle, signal?: AbortSignal): Promise<RunResult> {
    const state = this.state(run);
    if (!state.started || !state.exit)
      return Promise.reject(new InfrastructureError(`run ${run.id} was not started`));
    const onAbort = () => this.kill(state, "abort");
    if (signal) {
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    }
    state.result ??= this.collect(state);
    return state.result.finally(() => signal?.removeEventListener("abort", onAbort));
  }

  async destroy(run: RunHandle): Promise<void> {
    const state = this.runs.get(run.id);
    if (state) this.stopStreams(state);
    const container = state?.container ?? this.docker.getContainer(run.id);
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await container.remove({ force: true, v: true });
        lastError = undefined;
        break;
      } catch (err) {
        const status = statusOf(err);
        // 404: already gone. 409: a removal is already in progress.
        if (status === 404 || status === 409) {
          lastError = undefined;
          break;
        }
        lastError = err;
        await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
    }
    this.runs.delete(run.id);
    if (lastError)
      throw new InfrastructureError(
        `removing container ${run.id} on ${this.name} failed: ${describeDockerError(lastError)}`,
      );
  }

  private state(run: RunHandle): RunState {
    const state = this.runs.get(run.id);
    if (!state) throw new InfrastructureError(`unknown run ${run.id} on ${this.name}`);
    return state;
  }

  private async collect(state: RunState): Promise<RunResult> {
    let exit: { statusCode: number | null; error?: string };
    try {
      exit = await state.exit!;
    } catch (err) {
      throw new InfrastructureError(
        `waiting for the container on ${this.name} failed: ${describeDockerError(err)}`,
      );
    } finally {
      clearTimeout(state.timer);
    }
    const endedAt = Date.now();
    await Promise.all(state.kills);
    let info: Docker.ContainerInspectInfo;
    try {
      info = await state.container.inspect();
    } catch (err) {
      throw new InfrastructureError(
        `inspecting the container on ${this.name} failed: ${describeDockerError(err)}`,
      );
    }
    await drain(state);
    const raw: ExitInfo = {
      exitCode: info.State.ExitCode ?? exit.statusCode,
      oomKilled: info.State.OOMKilled === true,
      durationMs:
        engineDuration(info.State.StartedAt, info.State.FinishedAt) ?? endedAt - state.startedAt,
      log: state.output.text(),
      logTruncated: state.output.truncated,
    };
    if (raw.exitCode === CHECKOUT_FAILED && raw.log.includes(state.marker)) {
      const detail = raw.log.split(state.marker).join("").trim().split("\n").slice(-10).join("\n");
      throw new InfrastructureError(
        `checkout of ${state.spec.sha} failed on ${this.name}: ${detail || "no output"}`,
      );
    }
    const killed = state.timedOut || state.aborted;
    const bySignal = killed || (raw.oomKilled && raw.exitCode === 137);
    return {
      exitCode: bySignal ? null : raw.exitCode,
      signal: bySignal ? "SIGKILL" : null,
      timedOut: state.timedOut,
      oomKilled: raw.oomKilled,
      aborted: state.aborted,
      durationMs: raw.durationMs,
      log: raw.log,
      logTruncated: raw.logTruncated,
    };
  }

  /** Kill the container unless it has already exited; flag why only when the kill took effect. */
  private kill(state: RunState, why: "timeout" | "abort"): void {
    if (state.exited) return;
    const killing = state.container.kill({ signal: "SIGKILL" }).then(
      () => {
        if (why === "timeout") state.timedOut = true;
        else state.aborted = true;
      },
      () => {
        // 404/409: it ended by itself in the meantime. Anything else surfaces in wait/inspect.
      },
    );
    state.kills.push(killing);
  }

  private stopStreams(state: RunState): void {
    clearTimeout(state.timer);
    state.attach?.destroy();
  }

  /** POST /containers/{id}/wait?condition=next-exit, resolved once the engine has registered it. */
  private waitNextExit(id: string): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      this.docker.modem.dial(
        {
          path: `/containers/${id}/wait?`,
          method: "POST",
          options: { _query: { condition: "next-exit" }, _body: {} },
          isStream: true,
          statusCodes: {
            200: true,
            400: "bad parameter",
            404: "no such container",
            500: "server error",
          },
        },
        (err: unknown, res: unknown) => (err ? reject(err) : resolve(res as IncomingMessage)),
      );
    });
  }

  /** The read-only /mirror mount for a repository source, and the repository's path inside it. */
  private async mirrorMount(
    repo: RepoSource,
  ): Promise<{ mounts: Docker.MountSettings[]; mirrorDir: string }> {
    const target = CONTAINER_PATHS.mirror;
    if (repo.kind === "host-path") {
      if (!repo.path.startsWith("/"))
        throw new InfrastructureError(`repository path must be absolute: ${repo.path}`);
      return {
        mounts: [
          {
            Type: "bind",
            Source: repo.path,
            Target: target,
            ReadOnly: true,
            BindOptions: { Propagation: "rprivate" },
          },
        ],
        mirrorDir: target,
      };
    }
    const subpath = repo.subpath?.replace(/^\/+|\/+$/g, "") ?? "";
    if (
      subpath &&
      subpath.split("/").some((part) => part === ".." || part === "." || part === "")
    ) {
      throw new InfrastructureError(`invalid volume subpath: ${repo.subpath}`);
    }
    const volume = await this.inspectVolume(repo.name);
    if (!subpath) {
      return {
        mounts: [
          {
            Type: "volume",
            Source: repo.name,
            Target: target,
            ReadOnly: true,
            VolumeOptions: { NoCopy: true } as Docker.MountSettings["VolumeOptions"],
          },
        ],
        mirrorDir: target,
      };
    }
    if ((await this.engineApiVersion()) >= 1.45) {
      // Only the repository's own directory is visible, not the other mirrors in the volume.
      return {
        mounts: [
          {
            Type: "volume",
            Source: repo.name,
            Target: target,
            ReadOnly: true,
            VolumeOptions: {
              NoCopy: true,
              Subpath: subpath,
            } as Docker.MountSettings["VolumeOptions"],
          },
        ],
        mirrorDir: target,
      };
    }
    // Older engines cannot mount a volume's subdirectory; a local volume's directory can be bound.
    if (volume.driver !== "local" || !volume.mountpoint.startsWith("/")) {
      throw new InfrastructureError(
        `volume ${repo.name}: mounting subpath ${subpath} needs Docker API 1.45 or a local volume (driver ${volume.driver})`,
      );
    }
    return {
      mounts: [
        {
          Type: "bind",
          Source: `${volume.mountpoint}/${subpath}`,
          Target: target,
          ReadOnly: true,
          // The engine insists on slave propagation for binds from inside its own data root.
          BindOptions: { Propagation: "rslave" },
        },
      ],
      mirrorDir: target,
    };
  }

  private async inspectVolume(name: string): Promise<{ mountpoint: string; driver: string }> {
    const known = this.volumes.get(name);
    if (known) return known;
    try {
      const info = await this.docker.getVolume(name).inspect();
      const facts = { mountpoint: info.Mountpoint, driver: info.Driver };
      this.volumes.set(name, facts);
      return facts;
    } catch (err) {
      if (statusOf(err) === 404)
        throw new InfrastructureError(`volume ${name} does not exist on ${this.name}`);
      throw new InfrastructureError(
        `inspecting volume ${name} on ${this.name} failed: ${describeDockerError(err)}`,
      );
    }
  }

  private engineApiVersion(): Promise<number> {
    this.apiVersion ??= this.docker.version().then(
      (v) => Number.parseFloat(v.ApiVersion) || 0,
      (err: unknown) => {
        this.apiVersion = undefined;
        throw new InfrastructureError(
          `asking ${this.name} for its version failed: ${describeDockerError(err)}`,
        );
      },
    );
    return this.apiVersion;
  }
}

function validateSpec(spec: RunSpec): void {
  const problems: string[] = [];
  if (!isSha(spec.sha)) problems.push(`sha must be hexadecimal: ${JSON.stringify(spec.sha)}`);
  if (!spec.command.trim()) problems.push("command is empty");
  if (!(spec.timeoutMs > 0)) problems.push("timeoutMs must be > 0");
  if (!(spec.logLimitBytes >= 0)) problems.push("logLimitBytes must be ≥ 0");
  const { limits } = spec;
  if (!(limits.memoryBytes >= 6 * 1024 * 1024)) problems.push("limits.memoryBytes must be ≥ 6 MiB");
  if (!(limits.nanoCpus > 0)) problems.push("limits.nanoCpus must be > 0");
  if (!(limits.pids > 0)) problems.push("limits.pids must be > 0");
  if (!(limits.workBytes > 0)) problems.push("limits.workBytes must be > 0");
  for (const name of Object.keys(spec.env ?? {}))
    if (!isEnvName(name)) problems.push(`invalid environment name ${JSON.stringify(name)}`);
  for (const [k, v] of Object.entries(spec.labels))
    if (!k || typeof v !== "string") problems.push(`invalid label ${JSON.stringify(k)}`);
  if (problems.length) throw new InfrastructureError(`invalid run spec: ${problems.join("; ")}`);
}

function readExit(res: IncomingMessage): Promise<{ statusCode: number | null; error?: string }> {
  return new Promise((resolve, reject) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => (body += chunk));
    res.on("end", () => {
      try {
        const parsed = JSON.parse(body) as {
          StatusCode?: number;
          Error?: { Message?: string } | null;
        };
        resolve({
          statusCode: typeof parsed.StatusCode === "number" ? parsed.StatusCode : null,
          error: parsed.Error?.Message,
        });
      } catch {
        reject(new Error(`unreadable wait response: ${body.slice(0, 200)}`));
      }
    });
    res.on("error", reject);
  });
}

/** Let the attach stream deliver what is still in flight, but never wait long for it. */
async function drain(state: RunState): Promise<void> {
  if (!state.attachEnded) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    state.attachEnded,
    new Promise<void>((r) => (timer = setTimeout(r, DRAIN_MS))),
  ]);
  clearTimeout(timer);
  state.attach?.destroy();
}

function engineDuration(
  startedAt: string | undefined,
  finishedAt: string | undefined,
): number | undefined {
  const start = parseDockerTime(startedAt);
  const end = parseDockerTime(finishedAt);
  if (start === undefined || end === undefined || end < start) return undefined;
  return Math.round(end - start);
}

/** Docker's RFC 3339 timestamps carry nanoseconds; keep them as fractional milliseconds. */
function parseDockerTime(value: string | undefined): number | undefined {
  if (!value || value.startsWith("0001-")) return undefined;
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(value);
  if (!m) return undefined;
  const whole = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(whole)) return undefined;
  const frac = m[2] ? Number(`0.${m[2]}`) * 1000 : 0;
  return whole + frac;
}

/** Remove every container carrying all the given labels (a reaper's sweep). Resolves with their ids. */
export async function removeLabelled(
  docker: Docker,
  labels: Record<string, string>,
): Promise<string[]> {
  const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
  if (filters.label.length === 0) throw new Error("removeLabelled needs at least one label");
  let list: Docker.ContainerInfo[];
  try {
    list = await docker.listContainers({ all: true, filters: JSON.stringify(filters) });
  } catch (err) {
    throw new InfrastructureError(`listing containers failed: ${describeDockerError(err)}`);
  }
  const removed: string[] = [];
  const failures: string[] = [];
  await Promise.all(
    list.map(async (c) => {
      try {
        await docker.getContainer(c.Id).remove({ force: true, v: true });
        removed.push(c.Id);
      } catch (err) {
        const status = statusOf(err);
        if (status === 404 || status === 409) removed.push(c.Id);
        else failures.push(`${c.Id.slice(0, 12)}: ${describeDockerError(err)}`);
      }
    }),
  );
  if (failures.length)
    throw new InfrastructureError(`removing labelled containers failed: ${failures.join("; ")}`);
  return removed;
}
