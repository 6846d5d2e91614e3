// A pool of resources made ahead of time for one key, each handed out at most once.
//
// The pool serves one key at a time (for the Docker executor: image, repository, limits, network,
// environment). It keeps `size` unclaimed items made or being made for that key. `take(key)` hands
// out a ready item, or else one still being made (it resolves once that is ready); an item is
// never handed out twice. Each taken item is replaced in the background — once no taken item is
// still being made, so that replacements never slow down the making of an item a run waits for,
// and at most `size` items are ever being made at once. `take` resolves with `undefined`
// when the pool cannot serve (another key, closed, nothing left, the item failed to be made): the
// caller then makes one itself, the way it would without a pool.
//
// A failed making is not retried by itself (an engine that refuses every container must not be
// asked again in a loop); the next `take` makes a replacement. `close()` stops all making and
// discards every unclaimed item, including those whose making ends after the close.

interface Slot<T> {
  promise: Promise<T | undefined>;
  item?: T;
  settled: boolean;
}

export interface WarmPoolHooks<T> {
  /** Throw away an item that will never be handed out (the pool is closed, it died, another key). */
  discard(item: T): Promise<void>;
  /** Whether an item that was made can still be handed out (e.g. its container is still waiting). */
  usable?(item: T): boolean;
  /** A making failed (for diagnostics; the pool itself just falls back). */
  onError?(error: unknown): void;
}

export class WarmPool<T> {
  private currentKey?: string;
  private make?: () => Promise<T>;
  /** Unclaimed slots for the current key. */
  private slots: Slot<T>[] = [];
  /** Every making and discarding still in flight, so `close` can wait for all of them. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Taken items still being made: replacements wait for them. */
  private takenMaking = 0;
  private closing?: Promise<void>;

  constructor(
    readonly size: number,
    private readonly hooks: WarmPoolHooks<T>,
  ) {
    if (!(Number.isInteger(size) && size >= 1))
      throw new RangeError(`warm pool size must be a positive integer, got ${size}`);
  }

  /** The key served, if any. */
  get key(): string | undefined {
    return this.currentKey;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Unclaimed items, ready or being made. */
  get available(): number {
    return this.slots.length;
  }

  /**
   * Serve `key` from now on, making items with `make`, and fill the pool. Unclaimed items of an
   * earlier key are discarded. Resolves once every item being made now is ready (or failed).
   */
  serve(key: string, make: () => Promise<T>): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (key !== this.currentKey) {
      const old = this.slots;
      this.slots = [];
      for (const slot of old) this.discardWhenSettled(slot);
      this.currentKey = key;
    }
    this.make = make;
    this.fill();
    return Promise.all(this.slots.map((s) => s.promise)).then(() => undefined);
  }

  /**
   * An item for `key` never handed out before, or `undefined` when the pool cannot serve it.
   * Prefers a ready item; otherwise waits for one being made.
   */
  async take(key: string): Promise<T | undefined> {
    for (;;) {
      if (this.closed || key !== this.currentKey) return undefined;
      const index = this.pick();
      if (index < 0) return undefined;
      const [slot] = this.slots.splice(index, 1);
      const making = !slot!.settled;
      if (making) this.takenMaking++;
      const item = await slot!.promise;
      if (making) this.takenMaking--;
      // Replace it (once no other taken item is still being made).
      if (!this.closed && key === this.currentKey) this.fill();
      if (item === undefined) return undefined; // its making failed: the caller makes one itself
      if (this.closed || key !== this.currentKey || !this.usable(item)) {
        this.track(this.hooks.discard(item).catch(() => {}));
        if (this.closed || key !== this.currentKey) return undefined;
        continue;
      }
      return item;
    }
  }

  /** Stop making items and discard every unclaimed one. Idempotent; claimed items are the caller's. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const slots = this.slots;
      this.slots = [];
      for (const slot of slots) this.discardWhenSettled(slot);
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    })();
    return this.closing;
  }

  private usable(item: T): boolean {
    return this.hooks.usable ? this.hooks.usable(item) : true;
  }

  /** A ready, usable slot first (dropping dead ones), else the oldest still being made. */
  private pick(): number {
    for (let i = 0; i < this.slots.length;) {
      const slot = this.slots[i]!;
      if (slot.settled && (slot.item === undefined || !this.usable(slot.item))) {
        this.slots.splice(i, 1);
        this.discardWhenSettled(slot);
        continue;
      }
      if (slot.settled) return i;
      i++;
    }
    return this.slots.findIndex((s) => !s.settled);
  }

  private fill(): void {
    if (this.takenMaking > 0) return;
    while (!this.closed && this.make && this.slots.length < this.size)
      this.slots.push(this.newSlot(this.make));
  }

  private newSlot(make: () => Promise<T>): Slot<T> {
    const slot: Slot<T> = {
      promise: undefined as unknown as Promise<T | undefined>,
      settled: false,
    };
    let making: Promise<T>;
    try {
      making = make();
    } catch (error) {
      making = Promise.reject(error);
    }
    slot.promise = making.then(
      (item) => {
        slot.item = item;
        slot.settled = true;
        return item;
      },
      (error: unknown) => {
        slot.settled = true;
        const i = this.slots.indexOf(slot);
        if (i >= 0) this.slots.splice(i, 1);
        this.hooks.onError?.(error);
        return undefined;
      },
    );
    this.track(slot.promise);
    return slot;
  }

  private discardWhenSettled(slot: Slot<T>): void {
    this.track(
      slot.promise
        .then((item) => (item === undefined ? undefined : this.hooks.discard(item)))
        .catch(() => {}),
    );
  }

  private track(promise: Promise<unknown>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }
}
