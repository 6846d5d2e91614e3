// Work directories on disk, filled by our own git: the checkout never depends on the run's image.
//
// A checkout box is a long-lived container of the runner image (it has git, and its /work is owned
// by uid 1000, so the anonymous volume mounted there starts out owned by 1000 too). It mounts the
// repository read-only at /mirror — exactly where the run's container mounts it — and that volume
// at /work, and does nothing but what the executor asks through `exec`: make a run directory,
// clone and check out a commit into it, measure it, wipe it. Each run gets its own directory
// `/work/<run>` of the box's volume:
//
//   <run>/        the run's /work and HOME     <run>/src   the checkout (a `clone --shared`)
//   <run>/tmp     the run's /tmp
//
// bound into the run's container (API ≥ 1.45: the volume with a subpath; older engines: a bind of
// the local volume's directory). Every file is owned by uid 1000, the uid every run uses, so any
// image works — with or without git, whatever its git configuration or users; `.git` of the
// checkout points at /mirror through its alternates, so an image that has git can use it too.
//
// The disk is the engine's, not memory: a build may write gigabytes. Where the engine's storage
// cannot cap a directory (only local volumes on xfs with project quotas can), the executor
// watches the directory's size and stops the run at its limit ("disk full", never a verdict on
// the commit); each file is also capped at that size by RLIMIT_FSIZE.
//
// One container creation per box, not per run: boxes are made once and driven with `exec`
// (about 50 ms each on an idle 2-core machine, against about 500 ms for a container). A directory
// a run used is kept for the box's next run (same job, or same executor): everything but the
// checkout is removed, the checkout's `.git` — which the run could have changed (hooks, config,
// filters) — is replaced by a fresh clone's, and only the files that differ from the next commit
// are written; writing and deleting every file of a large tree on each run costs seconds.
import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import { describeDockerError, statusOf } from "../docker/connect";
import { workDirMounts } from "./mounts";
import { type ExecResult, execToEnd } from "./exec";
import { removeContainer } from "./removal";
import { InfrastructureError } from "../errors";
import { SETUP_DONE_FILE } from "./run-script";

const BOX_UID = 1000;
const ROOT = "/work";

// $1 run dir, $2 sha ("" to clone only: a warm container gets its sha later).
const PREPARE_SCRIPT = [
  "set -e",
  'd="$1"',
  'mkdir -m 0755 -- "$d"',
  'mkdir -m 1777 -- "$d/tmp"',
  'git clone -q --shared --no-checkout -- /mirror "$d/src" 2>&1',
  'if [ -n "$2" ]; then git -C "$d/src" checkout -q --detach "$2" 2>&1; fi',
].join("\n");
// A run may leave directories it took the write permission from: their owner (uid 1000, the box's
// too) gives it back when a removal or the checkout fails, and tries again — only then, as walking
// a large tree costs. As with git on one machine, what stays as the run left it (a kept path, an
// unchanged file) keeps its modes.
const WRITABLE = 'writable() { chmod -R u+rwX -- "$@" 2>/dev/null || true; }';
// Checkout (of a fresh clone, or of a reused directory after RESET_SCRIPT): only the files that
// differ from what the index describes are written; whatever is not the commit's goes — but for
// the paths after $2, when $kept is set (see `reset`). A failed checkout (an unknown commit) ends
// the script with git's message.
const CHECKOUT_SCRIPT = [
  'd="$1"; c="$2"; shift 2',
  WRITABLE,
  'co() { git -C "$d/src" checkout -q -f --detach "$c" 2>&1; }',
  'co >/dev/null 2>&1 || { writable "$d/src"; co; } || exit 1',
  'if [ -z "${kept-}" ]; then set --; fi',
  'n=$#; while [ "$n" -gt 0 ]; do set -- "$@" -e "/$1"; shift; n=$((n - 1)); done',
  'cl() { git -C "$d/src" clean -q -ffdx "$@" 2>&1; }',
  'cl "$@" >/dev/null 2>&1 || { writable "$d/src"; cl "$@"; }',
].join("\n");
// Set before RESET_SCRIPT removes it: the directory's last setup succeeded (run-script.ts).
const KEPT_CHECK = `kept=; if [ -f "$1/${SETUP_DONE_FILE}" ]; then kept=1; fi`;

/**
 * bisect.yml's \`cache:\` paths a reused directory keeps in place when its last setup succeeded —
 * the next setup builds on them as a build on one machine would, where restoring them from the
 * cache would copy them back. Only plain names (no pattern characters for \`git clean -e\`).
 */
export function keptPaths(paths: readonly string[]): string[] {
  return paths
    .map((p) => p.replace(/^(\.\/)+/, "").replace(/\/+$/, ""))
    .filter((p) => /^[\w.+@-]+(\/[\w.+@-]+)*$/.test(p) && !p.split("/").includes(".."));
}
// $1 run dir, $2 the commit its files were checked out at. Makes a directory a previous run used
// ready for the next: everything but the checkout goes (tmp is emptied), the checkout's `.git`
// (which the run could change: hooks, config, filters) is replaced by a fresh clone's, whose index
// is set to that commit and refreshed against the files — so the next checkout rewrites only what
// differs. Each step is a process of its own in the box, so there are few of them.
const RESET_SCRIPT = [
  "set -e",
  'd="$1"',
  // tmp is emptied, not replaced: a sandbox (sandbox.ts) has this very directory as its /tmp.
  "leftovers() {",
  '  set -- "$d/src/.git" "$d/.fresh"',
  '  for f in "$d"/* "$d"/.[!.]* "$d"/..?*; do',
  '    case "$f" in "$d/src" | "$d/tmp") ;; *) if [ -e "$f" ] || [ -L "$f" ]; then set -- "$@" "$f"; fi ;; esac',
  "  done",
  '  if [ -d "$d/tmp" ] && [ ! -L "$d/tmp" ]; then',
  '    for f in "$d/tmp"/* "$d/tmp"/.[!.]* "$d/tmp"/..?*; do if [ -e "$f" ] || [ -L "$f" ]; then set -- "$@" "$f"; fi; done',
  '  else set -- "$@" "$d/tmp"; fi',
  '  rm -rf -- "$@"',
  "}",
  WRITABLE,
  // The run may have closed its own /work (the directory itself): opened again first.
  'if [ ! -r "$d" ] || [ ! -w "$d" ] || [ ! -x "$d" ]; then chmod u+rwx -- "$d"; fi',
  // Then src, so that nothing below follows a src the run replaced by a link.
  'if [ ! -d "$d/src" ] || [ -L "$d/src" ]; then rm -rf -- "$d/src"; mkdir -- "$d/src"; fi',
  'leftovers 2>/dev/null || { writable "$d"; leftovers; }',
  'if [ ! -d "$d/tmp" ]; then mkdir -- "$d/tmp"; fi',
  'chmod 1777 -- "$d/tmp"',
  'chmod 0755 -- "$d"',
  'git clone -q --shared --no-checkout -- /mirror "$d/.fresh" 2>&1',
  'mv -- "$d/.fresh/.git" "$d/src/.git"',
  'rmdir -- "$d/.fresh"',
  'git -C "$d/src" read-tree "$2" 2>&1',
  'git -C "$d/src" update-index -q --refresh >/dev/null 2>&1 || true',
].join("\n");
const WIPE_SCRIPT = `${WRITABLE}\nrm -rf -- "$1" 2>/dev/null || { writable "$1"; rm -rf -- "$1"; }`;
const USAGE_SCRIPT = 'du -skx -- "$1" 2>/dev/null | cut -f1';

export interface BoxOptions {
  /** Image with git whose /work belongs to uid 1000 (the runner image). */
  image: string;
  /** The repository's read-only mount at /mirror (the same as the run's). */
  mirrorMounts: Docker.MountSettings[];
  labels: Record<string, string>;
  /** Name of the engine, for messages. */
  engineName: string;
}

/** Where a run's directory is bound in the run's container. */
export interface RunDirMounts {
  mounts: Docker.MountSettings[];
}

export class CheckoutBox {
  /** Runs whose directories live here (created or being created). */
  users = 0;
  /** Directories earlier runs left, with the commit each holds: reused before new ones are made. */
  readonly free: Array<{ runId: string; sha: string }> = [];
  private dead = false;

  private constructor(
    readonly docker: Docker,
    readonly container: Docker.Container,
    private readonly volume: { name: string; source: string },
    private readonly engineName: string,
    private readonly subpathMounts: boolean,
  ) {}

  /** Create and start a box. */
  static async start(
    docker: Docker,
    options: BoxOptions,
    subpathMounts: boolean,
  ): Promise<CheckoutBox> {
    let container: Docker.Container;
    try {
      container = await docker.createContainer({
        Image: options.image,
        Cmd: ["sleep", "infinity"],
        Entrypoint: [],
        User: `${BOX_UID}:${BOX_UID}`,
        WorkingDir: ROOT,
        Labels: options.labels,
        Hostname: "bisect-checkout",
        HostConfig: {
          AutoRemove: false,
          CapDrop: ["ALL"],
          SecurityOpt: ["no-new-privileges"],
          ReadonlyRootfs: true,
          Tmpfs: { "/tmp": "rw,nosuid,nodev,size=16777216" },
          Memory: 512 * 1024 * 1024,
          MemorySwap: 512 * 1024 * 1024,
          PidsLimit: 64,
          NetworkMode: "none",
          // The volume without a name is the box's own: it goes with the box (`remove({ v: true })`).
          Mounts: [
            ...options.mirrorMounts,
            { Type: "volume", Target: ROOT, VolumeOptions: { Labels: options.labels } },
          ] as Docker.MountSettings[],
          LogConfig: { Type: "none", Config: {} },
          RestartPolicy: { Name: "no" },
        },
      });
    } catch (err) {
      if (statusOf(err) === 404)
        throw new InfrastructureError(
          `image ${options.image} is not on ${options.engineName} (build or copy it: npm run runner:image): ${describeDockerError(err)}`,
        );
      throw new InfrastructureError(
        `creating the checkout container on ${options.engineName} failed: ${describeDockerError(err)}`,
      );
    }
    try {
      await container.start();
      const info = await container.inspect();
      const mount = info.Mounts.find((m) => m.Destination === ROOT);
      if (!mount?.Name || !mount.Source)
        throw new Error(`the work volume of ${container.id.slice(0, 12)} is missing`);
      if (!subpathMounts && mount.Driver !== "local")
        throw new Error(
          `the work volume's driver is ${mount.Driver}; binding its directories needs "local" or Docker API 1.45`,
        );
      return new CheckoutBox(
        docker,
        container,
        { name: mount.Name, source: mount.Source },
        options.engineName,
        subpathMounts,
      );
    } catch (err) {
      await container.remove({ force: true, v: true }).catch(() => {});
      throw new InfrastructureError(
        `starting the checkout container on ${options.engineName} failed: ${describeDockerError(err)}`,
      );
    }
  }

  get alive(): boolean {
    return !this.dead;
  }

  /** A fresh run directory name. */
  static newRunId(): string {
    return `run-${randomBytes(8).toString("hex")}`;
  }

  /** The run directory's mounts in the run's container: /work and /tmp. */
  mountsFor(runId: string): Docker.MountSettings[] {
    const { name, source } = this.volume;
    return workDirMounts({ name, mountpoint: source }, runId, this.subpathMounts);
  }

  /** Make the run's directory and clone the repository into it; check out `sha` when given. */
  async prepare(runId: string, sha?: string): Promise<void> {
    const r = await this.exec([
      "sh",
      "-c",
      PREPARE_SCRIPT,
      "prepare",
      `${ROOT}/${runId}`,
      sha ?? "",
    ]);
    if (r.code !== 0)
      throw new InfrastructureError(
        `checkout${sha ? ` of ${sha}` : ""} failed on ${this.engineName}: ${lastLines(r.output)}`,
      );
  }

  /**
   * Make a directory an earlier run of this box used (checked out at `previous`) ready for another
   * run, checking out `sha` too when given — usually far cheaper than a fresh clone's checkout.
   */
  /**
   * Ready a directory an earlier run of the same job used for \`sha\` (RESET_SCRIPT, then the
   * checkout), keeping \`keep\` (keptPaths) in place when that run's setup succeeded.
   */
  async reset(runId: string, previous: string, sha?: string, keep: string[] = []): Promise<void> {
    const script = sha
      ? `${KEPT_CHECK}\n${RESET_SCRIPT}\nd0="$1"; c0="$3"; shift 3; set -- "$d0" "$c0" "$@"\n${CHECKOUT_SCRIPT}`
      : RESET_SCRIPT;
    const r = await this.exec([
      "sh",
      "-c",
      script,
      "reset",
      `${ROOT}/${runId}`,
      previous,
      sha ?? "",
      ...(sha ? keptPaths(keep) : []),
    ]);
    if (r.code !== 0)
      throw new InfrastructureError(
        `checkout${sha ? ` of ${sha}` : ""} failed on ${this.engineName}: ${lastLines(r.output)}`,
      );
  }

  async checkout(runId: string, sha: string): Promise<void> {
    const r = await this.exec(["sh", "-c", CHECKOUT_SCRIPT, "checkout", `${ROOT}/${runId}`, sha]);
    if (r.code !== 0)
      throw new InfrastructureError(
        `checkout of ${sha} failed on ${this.engineName}: ${lastLines(r.output)}`,
      );
  }

  /** Bytes the run's directory takes on disk (its /work and /tmp). */
  async usage(runId: string): Promise<number> {
    const r = await this.exec(["sh", "-c", USAGE_SCRIPT, "usage", `${ROOT}/${runId}`]);
    const kib = Number.parseInt(r.output.trim(), 10);
    if (r.code !== 0 || !Number.isFinite(kib))
      throw new InfrastructureError(`measuring a work directory on ${this.engineName} failed`);
    return kib * 1024;
  }

  /** Remove the run's directory and everything in it. */
  async wipe(runId: string): Promise<void> {
    const r = await this.exec(["sh", "-c", WIPE_SCRIPT, "wipe", `${ROOT}/${runId}`]);
    if (r.code !== 0)
      throw new InfrastructureError(
        `removing a work directory on ${this.engineName} failed: ${lastLines(r.output)}`,
      );
  }

  /** Remove the box and its volume. Idempotent. */
  async remove(): Promise<void> {
    this.dead = true;
    await removeContainer(this.container, this.engineName);
  }

  /** Run a command in the box; resolves with its exit code and (the tail of) its output. */
  async exec(cmd: string[]): Promise<ExecResult> {
    try {
      return await execToEnd(this.container, cmd, `${BOX_UID}:${BOX_UID}`);
    } catch (err) {
      const status = statusOf(err);
      // 404: the box is gone; 409: it is not running (removed by a clean-up, or the engine restarted).
      if (status === 404 || status === 409) this.dead = true;
      throw new InfrastructureError(
        `the checkout container on ${this.engineName} failed: ${describeDockerError(err)}`,
      );
    }
  }
}

function lastLines(text: string): string {
  return text.trim().split("\n").slice(-10).join("\n") || "no output";
}
