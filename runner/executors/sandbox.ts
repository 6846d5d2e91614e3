// A sandbox: one hardened container (container-recipe.ts, the same as a fresh run's) that a job
// keeps for several runs, one at a time, each an `exec` in it — no container creation per run.
//
// PID 1 is the engine's init (tini, `Init: true`), which reaps orphans; its only child is a keeper
// (`sh` reading a stdin nobody writes to) that holds the container up. Both run as another uid
// than the runs (KEEPER_USER, not root, no capabilities either): they outlive every run, so a run
// must be able neither to signal them nor to trace them and make them act in a later run. A run is
// `sandboxCommand`: the checkout step with the run's marker (as in a fresh container), then a
// shell without the marker that runs the run's script as a child and, once it has ended, kills
// every other process but init and the keeper — the end of a fresh container's run, where the
// container's end takes everything with it. Without that, a background process holding the
// output open would keep the run going.
//
// Between runs `settle` makes sure nothing of the last run remains but its files: every process
// but init and the keeper is killed (again), /dev/shm and /dev/mqueue are emptied, System V IPC
// objects removed, and /tmp must still be the work directory's tmp (a run could replace it). The
// work directory itself (the checkout, HOME, /tmp) is reset by the checkout box before the next
// run (workspace.ts). A sandbox whose settle fails is never used again. Everything runs as uid
// 1000 with only the shell's builtins (and `sleep`, `rm`, `ipcrm` when the image has them), so any
// image works; a process of the same uid can always be killed, and no run has any capability.
//
// An out-of-memory kill of a process is counted by the container's memory cgroup (`oom_kill`);
// the container survives it, so a run's OOM is the counter moving during the run.
import type Docker from "dockerode";
import { describeDockerError, statusOf } from "../docker/connect";
import { InfrastructureError } from "../errors";
import { type ExecResult, execToEnd } from "./exec";
import { removeContainer } from "./removal";
import { CONTAINER_SCRIPTS } from "./run-script";
import { RUNNER_UID } from "./container-recipe";

/** The uid:gid of a sandbox's init and keeper ("nobody"): never the runs' own. */
export const KEEPER_USER = "65534:65534";

/** The keeper: PID 1's only child, blocked on a stdin that stays open and empty. */
export const KEEPER_COMMAND = ["sh", "-c", "read -r x; exit 0"];

// reap K: SIGKILL every process but PID 1, K (the keeper) and the calling shell, until none is
// left (zombies go as soon as init reaps them). No single quote: embedded in one below.
const REAP_FUNCTION = [
  "reap() {",
  "  i=0",
  '  while [ "$i" -lt 400 ]; do',
  "    left=0",
  "    for p in /proc/[0-9]*; do",
  "      p=${p#/proc/}",
  '      case "$p" in 1|"$1"|"$$") continue ;; esac',
  '      kill -9 "$p" 2>/dev/null && left=1',
  "    done",
  '    [ "$left" = 0 ] && return 0',
  "    i=$((i+1))",
  '    if [ "$i" -gt 5 ]; then sleep 0.01 2>/dev/null || :; fi',
  "  done",
  "  return 1",
  "}",
].join("\n");

// Sets o to the memory cgroup's OOM kills so far (empty: the engine does not say).
const OOM_READ = [
  "o=",
  "for f in /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events; do",
  '  [ -r "$f" ] || continue',
  '  while read -r key value; do [ "$key" = oom_kill ] && o="$value"; done < "$f"',
  '  [ -n "$o" ] && break',
  "done",
].join("\n");

const OOM_COUNTER = [OOM_READ, 'echo "oom_kill ${o:-unknown}"'].join("\n");

/**
 * The last line of a run's output, written by its wrapper once every process of the run is gone:
 * the OOM counter then and, after an exit code that a full disk may explain, the work directory's
 * size in KiB — so that the run's result waits neither for the sandbox's settle nor for a
 * measure from outside. It is taken off the log. A run could print such a line itself, or stop the
 * wrapper from printing it; either way it only changes its own verdict, which its exit code
 * decides anyway. Without the line (or without `du` in the image), the result waits for the
 * settle's counter and the checkout box's measure.
 */
export const RUN_END = "bisect-run-end";

// $1 keeper, $2 the run's script, then its arguments. The script runs as a child, never as this
// shell, so that what it leaves running is killed here once it ends.
const RUN_WRAPPER = [
  REAP_FUNCTION,
  'k="$1"; s="$2"; shift 2',
  'sh -c "$s" bisect-run "$@"; r=$?',
  'reap "$k"',
  OOM_READ,
  // mayBeDiskFull's codes (exit.ts).
  'u=; if [ "$r" -gt 0 ] && [ "$r" -lt 128 ] && [ "$r" -ne 125 ]; then',
  "  u=$(du -skx /work 2>/dev/null); u=${u%%[!0-9]*}",
  "fi",
  `printf "\\n${RUN_END} oom_kill %s work_kib %s\\n" "\${o:-unknown}" "\${u:--}"`,
  'exit "$r"',
].join("\n");

export interface RunEnd {
  /** Its length in bytes, to take it off the log. */
  length: number;
  /** The memory cgroup's OOM kills when the run had ended (null: the engine does not say). */
  oomKills: number | null;
  /** The work directory's size in KiB (null: not measured). */
  workKib: number | null;
}

/** The run's end line (`RUN_END`) at the end of `tail`. */
export function runEndOf(tail: string): RunEnd | undefined {
  const m = new RegExp(`\\n${RUN_END} oom_kill (\\d+|unknown) work_kib (\\d+|-)\\n$`).exec(tail);
  if (!m) return undefined;
  return {
    length: Buffer.byteLength(m[0]),
    oomKills: m[1] === "unknown" ? null : Number(m[1]),
    workKib: m[2] === "-" ? null : Number(m[2]),
  };
}

const LEFTOVERS = "/dev/shm/* /dev/shm/.[!.]* /dev/shm/..?* /dev/mqueue/*";

// $1 keeper. Prints `oom_kill N` last; exits 1 (with why) when the sandbox cannot be made clean.
const SETTLE_SCRIPT = [
  REAP_FUNCTION,
  'reap "$1" || { echo "processes survive SIGKILL"; exit 1; }',
  `for f in ${LEFTOVERS}; do if [ -e "$f" ] || [ -L "$f" ]; then rm -rf -- "$f" 2>/dev/null; fi; done`,
  `for f in ${LEFTOVERS}; do if [ -e "$f" ] || [ -L "$f" ]; then echo "cannot remove $f"; exit 1; fi; done`,
  "ipc() {",
  "  for t in shm sem msg; do",
  '    [ -r "/proc/sysvipc/$t" ] || continue',
  '    n=0; while IFS= read -r line; do n=$((n+1)); done < "/proc/sysvipc/$t"',
  '    [ "$n" -le 1 ] || return 1',
  "  done",
  "}",
  'ipc || { ipcrm -a 2>/dev/null; ipc; } || { echo "System V IPC objects remain"; exit 1; }',
  '[ /tmp -ef /work/tmp ] || { echo "/tmp is no longer the work directory\'s"; exit 1; }',
  OOM_COUNTER,
].join("\n");

// Prints the keeper's pid (PID 1's one child) and the OOM counter once the sandbox has started.
const PROBE_SCRIPT = [
  "k=",
  "for p in /proc/[0-9]*; do",
  "  p=${p#/proc/}",
  '  case "$p" in 1|"$$") continue ;; esac',
  '  [ -z "$k" ] || { echo "more than one process"; exit 1; }',
  '  k="$p"',
  "done",
  '[ -n "$k" ] || { echo "no keeper yet"; exit 2; }',
  'echo "keeper $k"',
  OOM_COUNTER,
].join("\n");

/** What a sandbox runs: all of it, the setup phase or the test phase (run-script.ts). */
export type SandboxScript = "run" | "setup" | "test";

/**
 * The exec of one run: $1 marker (the checkout step's, gone from /proc once it execs away), then
 * the keeper, the script and its arguments.
 */
export function sandboxCommand(
  marker: string,
  keeper: number,
  script: SandboxScript,
  args: string[],
): string[] {
  const text = [
    CONTAINER_SCRIPTS.enterCheckout,
    "shift 1",
    `exec sh -c '${RUN_WRAPPER}' bisect-sandbox "$@"`,
  ].join("\n");
  return [
    "sh",
    "-c",
    text,
    "bisect-run",
    marker,
    String(keeper),
    CONTAINER_SCRIPTS[script],
    ...args,
  ];
}

export class Sandbox {
  /** Set once it must not run anything again (a settle failed, its container went). */
  broken = false;
  /** The memory cgroup's OOM kills so far (null: the engine does not say). */
  oomKills: number | null = null;
  /**
   * Resolves once the container has started (`start`); rejects with why it could not. A run
   * awaits it first, so a sandbox needed only later (a phased run's test's) starts meanwhile.
   */
  started: Promise<void> = Promise.resolve();
  private keeper = 0;

  constructor(
    readonly docker: Docker,
    readonly container: Docker.Container,
    /** Name of the engine, for messages. */
    readonly engine: string,
  ) {}

  /** Start the (created) container and learn its keeper (`started`). Removes it when that fails. */
  start(): Promise<void> {
    this.started = this.startOnce();
    this.started.catch(() => {});
    return this.started;
  }

  private async startOnce(): Promise<void> {
    try {
      await this.container.start();
      for (let attempt = 0; ; attempt++) {
        const r = await this.exec(["sh", "-c", PROBE_SCRIPT, "bisect-probe"]);
        const keeper = /^keeper (\d+)$/m.exec(r.output);
        if (r.code === 0 && keeper) {
          this.keeper = Number(keeper[1]);
          this.oomKills = oomKillsOf(r.output);
          return;
        }
        if (r.code !== 2 || attempt >= 50) throw new Error(r.output.trim() || "no output");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } catch (err) {
      await this.remove().catch(() => {});
      throw new InfrastructureError(
        `starting a sandbox on ${this.engine} failed: ${describeDockerError(err)}`,
      );
    }
  }

  /** The exec's command for a run (see `sandboxCommand`). */
  command(marker: string, script: SandboxScript, args: string[]): string[] {
    return sandboxCommand(marker, this.keeper, script, args);
  }

  /** Kill every process of the last run (e.g. at its timeout). Resolves once they are gone. */
  async kill(): Promise<void> {
    await this.exec([
      "sh",
      "-c",
      `${REAP_FUNCTION}\nreap "$1"`,
      "bisect-kill",
      String(this.keeper),
    ]);
  }

  /**
   * Make the sandbox clean for its next run (see the top of this file); resolves with the OOM
   * kills since the last settle (null when unknown). Marks it broken when it cannot.
   */
  async settle(): Promise<number | null> {
    let r: ExecResult;
    try {
      r = await this.exec(["sh", "-c", SETTLE_SCRIPT, "bisect-settle", String(this.keeper)]);
    } catch (err) {
      this.broken = true;
      throw err;
    }
    if (r.code !== 0) this.broken = true;
    const now = oomKillsOf(r.output);
    const before = this.oomKills;
    this.oomKills = now;
    return now === null || before === null ? null : now - before;
  }

  /** Remove the container. Idempotent. */
  async remove(): Promise<void> {
    this.broken = true;
    await removeContainer(this.container, this.engine);
  }

  /** Run one of our own commands in the sandbox, as the run's uid. */
  async exec(cmd: string[]): Promise<ExecResult> {
    try {
      return await execToEnd(this.container, cmd, `${RUNNER_UID}:${RUNNER_UID}`);
    } catch (err) {
      const status = statusOf(err);
      if (status === 404 || status === 409) this.broken = true;
      throw new InfrastructureError(
        `the sandbox on ${this.engine} failed: ${describeDockerError(err)}`,
      );
    }
  }
}

function oomKillsOf(output: string): number | null {
  const m = /^oom_kill (\d+)$/m.exec(output);
  return m ? Number(m[1]) : null;
}
