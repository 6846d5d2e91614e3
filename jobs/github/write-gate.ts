// Spaces out content-creating requests per installation (GitHub asks for at least a second
// between them). In-process: a worker process serialises its own writes per installation; with
// several worker processes each keeps its own spacing (see docs/decisions/005-github-intake.md).

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
      return await write();
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
