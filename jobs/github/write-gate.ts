// Spaces out content-creating requests per installation (GitHub asks for at least a second
// between them). In-process: a worker process serialises its own writes per installation; with
// several worker processes each keeps its own spacing (see docs/decisions/005-github-intake.md).

export class WriteGate {
  private readonly next = new Map<string, number>();

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

  private forgetIdle(now: number): void {
    for (const [id, at] of this.next) if (at < now) this.next.delete(id);
  }
}
