import { describe, expect, it } from "vitest";
import { WarmPool } from "./warm-pool";

interface Item {
  n: number;
  key: string;
  dead?: boolean;
}

/** A pool whose makings are resolved by hand, recording what was made and discarded. */
function harness(size: number) {
  let made = 0;
  const pending: { resolve: (item: Item) => void; reject: (e: Error) => void; key: string }[] = [];
  const discarded: number[] = [];
  const errors: unknown[] = [];
  let inMaking = 0;
  let maxInMaking = 0;
  const pool = new WarmPool<Item>(size, {
    discard: async (item) => {
      discarded.push(item.n);
    },
    usable: (item) => !item.dead,
    onError: (e) => errors.push(e),
  });
  const make = (key: string) => () =>
    new Promise<Item>((resolve, reject) => {
      inMaking++;
      maxInMaking = Math.max(maxInMaking, inMaking);
      pending.push({
        resolve: (item) => {
          inMaking--;
          resolve(item);
        },
        reject: (e) => {
          inMaking--;
          reject(e);
        },
        key,
      });
    });
  /** Finish every making in flight (in order), with fresh items. */
  const finishAll = async () => {
    for (const p of pending.splice(0)) p.resolve({ n: ++made, key: p.key });
    await flush();
  };
  return {
    pool,
    make,
    pending,
    discarded,
    errors,
    finishAll,
    get made() {
      return made;
    },
    get maxInMaking() {
      return maxInMaking;
    },
  };
}

const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe("WarmPool", () => {
  it("serves nothing before it knows its key, nor another key", async () => {
    const h = harness(2);
    expect(await h.pool.take("a")).toBeUndefined();
    void h.pool.serve("a", h.make("a"));
    expect(h.pending).toHaveLength(2);
    await h.finishAll();
    expect(await h.pool.take("b")).toBeUndefined();
    expect(h.pool.available).toBe(2);
  });

  it("hands each item out once and replaces it, never making more than size at once", async () => {
    const h = harness(2);
    const filled = h.pool.serve("a", h.make("a"));
    await h.finishAll();
    await filled;
    const seen = new Set<number>();
    for (let round = 0; round < 5; round++) {
      const [x, y] = await Promise.all([h.pool.take("a"), h.pool.take("a")]);
      expect(x).toBeDefined();
      expect(y).toBeDefined();
      for (const item of [x!, y!]) {
        expect(seen.has(item.n)).toBe(false);
        seen.add(item.n);
      }
      // Both were replaced in the background.
      expect(h.pending).toHaveLength(2);
      await h.finishAll();
    }
    expect(h.maxInMaking).toBe(2);
    expect(h.discarded).toEqual([]);
  });

  it("lets a take wait for an item still being made, and replaces it only once it is ready", async () => {
    const h = harness(1);
    void h.pool.serve("a", h.make("a"));
    const taking = h.pool.take("a");
    await flush();
    expect(h.pending).toHaveLength(1); // no replacement yet: it would compete with the first
    await h.finishAll();
    expect(await taking).toMatchObject({ n: 1 });
    expect(h.pending).toHaveLength(1);
    // Nothing unclaimed left being made for a second take: it waits for the replacement.
    const second = h.pool.take("a");
    await h.finishAll();
    expect(await second).toMatchObject({ n: 2 });
  });

  it("makes no replacement while a taken item is still being made", async () => {
    const h = harness(2);
    void h.pool.serve("a", h.make("a"));
    const first = h.pool.take("a");
    const second = h.pool.take("a");
    await flush();
    expect(h.pending).toHaveLength(2);
    h.pending.shift()!.resolve({ n: 1, key: "a" });
    expect(await first).toMatchObject({ n: 1 });
    await flush();
    expect(h.pending).toHaveLength(1); // the second one's making has the engine to itself
    h.pending.shift()!.resolve({ n: 2, key: "a" });
    expect(await second).toMatchObject({ n: 2 });
    await flush();
    expect(h.pending).toHaveLength(2); // now both are replaced
    expect(h.maxInMaking).toBe(2);
  });

  it("falls back when a making fails, and does not retry by itself", async () => {
    const h = harness(1);
    void h.pool.serve("a", h.make("a"));
    h.pending.shift()!.reject(new Error("no image"));
    await flush();
    expect(h.errors).toHaveLength(1);
    expect(h.pending).toHaveLength(0);
    expect(await h.pool.take("a")).toBeUndefined(); // nothing left: the caller makes its own
    // The next serve (or take of a failed one) makes a replacement.
    void h.pool.serve("a", h.make("a"));
    expect(h.pending).toHaveLength(1);
    const taking = h.pool.take("a");
    h.pending.shift()!.reject(new Error("still no image"));
    expect(await taking).toBeUndefined();
    expect(h.pending).toHaveLength(1); // one replacement for the one taken, no loop
  });

  it("discards dead unclaimed items instead of handing them out", async () => {
    const items: Item[] = [];
    const discarded: number[] = [];
    let n = 0;
    const pool = new WarmPool<Item>(2, {
      discard: async (item) => {
        discarded.push(item.n);
      },
      usable: (item) => !item.dead,
    });
    await pool.serve("a", async () => {
      const item = { n: ++n, key: "a" };
      items.push(item);
      return item;
    });
    items[0]!.dead = true;
    const taken = await pool.take("a");
    expect(taken!.n).toBe(2);
    await flush();
    expect(discarded).toEqual([1]);
  });

  it("discards the old key's items when told to serve another key", async () => {
    const h = harness(2);
    void h.pool.serve("a", h.make("a"));
    await h.finishAll();
    void h.pool.serve("b", h.make("b"));
    await flush();
    expect(h.discarded.sort()).toEqual([1, 2]);
    expect(await h.pool.take("a")).toBeUndefined();
    await h.finishAll();
    expect(await h.pool.take("b")).toMatchObject({ key: "b" });
  });

  it("closes: discards every unclaimed item, even one made after the close, and serves no more", async () => {
    const h = harness(3);
    void h.pool.serve("a", h.make("a"));
    h.pending.shift()!.resolve({ n: 100, key: "a" });
    await flush();
    const taken = await h.pool.take("a"); // claimed: the caller's, not discarded
    expect(taken!.n).toBe(100);
    const closing = h.pool.close();
    expect(h.pool.close()).toBe(closing);
    await h.finishAll(); // the makings in flight end after the close
    await closing;
    expect(h.discarded.sort((x, y) => x - y)).toEqual([1, 2, 3]);
    expect(await h.pool.take("a")).toBeUndefined();
    await h.pool.serve("a", h.make("a"));
    expect(h.pending).toHaveLength(0);
  });

  it("discards an item a take was waiting for when the pool closes meanwhile", async () => {
    const h = harness(1);
    void h.pool.serve("a", h.make("a"));
    const taking = h.pool.take("a");
    const closing = h.pool.close();
    await h.finishAll();
    expect(await taking).toBeUndefined();
    await closing;
    expect(h.discarded).toEqual([1]);
  });

  it("refuses a size below 1", () => {
    expect(() => new WarmPool(0, { discard: async () => {} })).toThrow(RangeError);
  });
});
