// Where a Docker executor's runs get their work directories: checkout boxes (see workspace.ts),
// one per repository mount — the executor's own, or shared by every executor on the same engine
// client that names the same workspace key — and the directories in them, reused run after run.
import type Docker from "dockerode";
import type { EngineFacts } from "./engine-facts";
import { APP_LABEL, PID_LABEL, WORKSPACE_LABEL } from "../labels";
import { CheckoutBox } from "./workspace";

/** Checkout boxes shared between executors (see `workspace`), per engine client. */
const sharedBoxes = new WeakMap<Docker, Map<string, Promise<CheckoutBox>>>();

/** How often a running run's work directory is measured against its limit. */
const DISK_POLL_MS = 1_000;

export interface WorkDirOptions {
  /** Name of the engine, for messages. */
  engineName: string;
  /** Image of the checkout boxes (git, /work owned by uid 1000). */
  image: string;
  /** This executor's id: the label value of its own boxes. */
  ownerId: string;
  /** Share boxes under this key, labelled with `labels` (they outlive the executor). */
  workspace?: { key: string; labels: Record<string, string> };
}

/** A run's hold on a work directory. */
export interface WorkDirHold {
  box?: CheckoutBox;
  runId?: string;
  /** The commit checked out in it. */
  checkedOut?: string;
}

export class WorkDirs {
  /** Set once the executor closes: released directories are wiped, idle own boxes removed. */
  closing = false;
  private readonly own = new Map<string, Promise<CheckoutBox>>();
  /** Work directories being wiped in the background. */
  private readonly wipes = new Set<Promise<void>>();

  constructor(
    private readonly docker: Docker,
    private readonly engine: EngineFacts,
    private readonly options: WorkDirOptions,
  ) {}

  /**
   * A run directory in a checkout box for the repository mount, cloned (and checked out at `sha`
   * when given). A box that has gone (removed by a clean-up, engine restarted) is replaced once.
   */
  async take(
    mirrorMounts: Docker.MountSettings[],
    sha?: string,
  ): Promise<{ box: CheckoutBox; runId: string }> {
    for (let attempt = 0; ; attempt++) {
      const box = await this.boxFor(mirrorMounts);
      const reused = box.free.pop();
      const runId = reused?.runId ?? CheckoutBox.newRunId();
      box.users++;
      try {
        if (reused) await box.reset(runId, reused.sha, sha);
        else await box.prepare(runId, sha);
        return { box, runId };
      } catch (err) {
        this.release({ box, runId });
        if (box.alive || attempt > 0) throw err;
      }
    }
  }

  /**
   * The run no longer needs its work directory: keep it for the box's next run (which cleans it
   * first), or wipe it in the background once closing (awaited by `settled`).
   */
  release(hold: WorkDirHold): void {
    const { box, runId, checkedOut } = hold;
    if (!box || !runId) return;
    hold.box = undefined;
    if (checkedOut && box.alive && !this.closing) {
      box.free.push({ runId, sha: checkedOut });
      box.users--;
      return;
    }
    const wipe = (box.alive ? box.wipe(runId) : Promise.resolve())
      .catch(() => {
        // The box is gone (its volume with it), or it will be removed with its owner.
      })
      .then(async () => {
        box.users--;
        if (box.users === 0 && this.closing && !this.options.workspace) await this.retire(box);
      });
    this.wipes.add(wipe);
    void wipe.finally(() => this.wipes.delete(wipe));
  }

  /** Resolves once no directory is being wiped. */
  async settled(): Promise<void> {
    while (this.wipes.size) await Promise.all([...this.wipes]);
  }

  /** Remove this executor's own boxes that no run in use holds. */
  async retireIdle(inUse: Set<CheckoutBox | undefined>): Promise<void> {
    await Promise.all(
      [...this.own.values()].map(async (p) => {
        const box = await p.catch(() => undefined);
        if (box && !inUse.has(box)) await this.retire(box);
      }),
    );
  }

  /**
   * Measure a running run's work directory every DISK_POLL_MS; `full` is called when it reaches
   * `limit`. A failed measurement is tried again at the next tick.
   */
  watch(hold: WorkDirHold, limit: number, full: () => void, ended: () => boolean): NodeJS.Timeout {
    const { box, runId } = hold;
    let measuring = false;
    const timer = setInterval(() => {
      if (!box || !runId || measuring || ended()) return;
      measuring = true;
      box
        .usage(runId)
        .then(
          (bytes) => {
            if (bytes >= limit) full();
          },
          () => {},
        )
        .finally(() => (measuring = false));
    }, DISK_POLL_MS);
    timer.unref?.();
    return timer;
  }

  private async retire(box: CheckoutBox): Promise<void> {
    for (const [key, p] of this.own)
      if ((await p.catch(() => undefined)) === box) this.own.delete(key);
    await box.remove().catch(() => {});
  }

  /** The checkout box for a repository mount: this executor's, or the shared one. */
  private boxFor(mirrorMounts: Docker.MountSettings[]): Promise<CheckoutBox> {
    const { image, workspace: shared, ownerId, engineName } = this.options;
    let boxes = this.own;
    if (shared) {
      boxes = sharedBoxes.get(this.docker) ?? new Map();
      sharedBoxes.set(this.docker, boxes);
    }
    const key = JSON.stringify([shared?.key ?? "", image, mirrorMounts]);
    const known = boxes.get(key);
    const make = () => {
      const labels = shared
        ? { ...shared.labels, [WORKSPACE_LABEL]: shared.key, ...APP_LABEL }
        : { [WORKSPACE_LABEL]: ownerId, [PID_LABEL]: String(process.pid), ...APP_LABEL };
      const made = this.engine
        .apiVersion()
        .then((version) =>
          CheckoutBox.start(
            this.docker,
            { image, mirrorMounts, labels, engineName },
            version >= 1.45,
          ),
        );
      boxes.set(key, made);
      made.catch(() => {
        if (boxes.get(key) === made) boxes.delete(key);
      });
      return made;
    };
    if (!known) return make();
    return known.then(
      (box) => (box.alive ? box : make()),
      () => make(),
    );
  }
}
