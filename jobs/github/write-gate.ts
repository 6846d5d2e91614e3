// Spaces out content-creating requests per installation (GitHub asks for at least a second
// between them). A worker process serialises its own writes per installation in arrival order
// (WriteGate); with a SharedWriteGate behind it, every worker process on the database takes turns
// too (docs/decisions/005-github-intake.md).
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Knex } from "knex";
import { releaseWriteGate, takeWriteGate } from "../../db/github-write-gates";

/** What spaces the writes of every process: one write at a time per key, the gate's own interval after the previous one's end. */
export interface GateAcrossProcesses {
  run<T>(key: number, write: () => Promise<T>): Promise<T>;
}

export class WriteGate {
  private readonly next = new Map<string, number>();
  /** Per key: settles with the time the latest write (queued or running) ended. */
  private readonly tails = new Map<string, Promise<number>>();
  private readonly ended = new Map<string, number>();

  constructor(
    readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
    /** Other processes' writes: each write of this process also takes this gate. */
    private readonly shared?: GateAcrossProcesses,
  ) {}

  /** Resolves when this caller may write for `key`; callers are served in arrival order. */
  async wait(key: string | number): Promise<void> {
    const now = this.now();
    const id = String(key);
    const slot = Math.max(now, this.next.get(id) ?? 0);
    this.next.set(id, slot + this.intervalMs);
    if (this.next.size > 1000) this.forgetIdle(now);
    if (slot > now) await this.sleep(slot - now);
  }

  /**
   * Runs `write` for `key` once the previous write of that key has *ended* (its response is back,
   * so GitHub had received it) and `intervalMs` more have passed; in arrival order. Spacing the
   * starts instead lets a write that leaves late (a new connection, a slow token) reach GitHub
   * less than the interval before the next one.
   */
  async run<T>(key: string | number, write: () => Promise<T>): Promise<T> {
    const id = String(key);
    const previous = this.tails.get(id) ?? Promise.resolve(this.ended.get(id) ?? -Infinity);
    let release!: (endedAt: number) => void;
    const mine = new Promise<number>((resolve) => (release = resolve));
    this.tails.set(id, mine);
    try {
      const allowedAt = (await previous) + this.intervalMs;
      // A timer may fire a little early: wait until the clock says so.
      for (let now = this.now(); now < allowedAt; now = this.now())
        await this.sleep(allowedAt - now);
      return await (this.shared && typeof key === "number" ? this.shared.run(key, write) : write());
    } finally {
      const at = this.now();
      release(at);
      if (this.tails.get(id) === mine) {
        this.tails.delete(id);
        this.ended.set(id, at);
        if (this.ended.size > 1000) {
          for (const [k, t] of this.ended) if (t + this.intervalMs < at) this.ended.delete(k);
        }
      }
    }
  }

  private forgetIdle(now: number): void {
    for (const [id, at] of this.next) if (at < now) this.next.delete(id);
  }
}

/**
 * The write gate in PostgreSQL (db/github-write-gates.ts): a write holds its installation's row for
 * at most `leaseMs` (a dead process's hold lapses), and releasing it opens the gate `intervalMs`
 * later on the database's clock. A waiting write sleeps until the gate opens, or polls every
 * `pollMs` while another write is under way.
 */
export class SharedWriteGate implements GateAcrossProcesses {
  private readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  private writes = 0;

  constructor(
    private readonly knex: Knex,
    readonly intervalMs = 1100,
    private readonly leaseMs = 60_000,
    private readonly pollMs = 50,
  ) {}

  async run<T>(installationId: number, write: () => Promise<T>): Promise<T> {
    // One holder name per write: a release can only ever end its own hold.
    const holder = `${this.holder}:${++this.writes}`;
    for (;;) {
      const attempt = await takeWriteGate(this.knex, installationId, holder, this.leaseMs);
      if (attempt.taken) break;
      const wait = attempt.held ? this.pollMs : Math.max(1, Math.ceil(attempt.opensInMs));
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    try {
      return await write();
    } finally {
      // Not released (the database is away): the hold lapses after leaseMs, later but never sooner.
      await releaseWriteGate(this.knex, installationId, holder, this.intervalMs).catch(() => {});
    }
  }
}
