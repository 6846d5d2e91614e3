// The write gate across processes, on a real PostgreSQL: two gates on separate connection pools
// (as two worker processes have) never let writes of one installation reach the receiver less
// than the interval apart, leave other installations alone, and get past a dead holder.
import { once } from "node:events";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Knex } from "knex";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKnex } from "../../db/connection";
import { takeWriteGate } from "../../db/github-write-gates";
import { useTestDatabase } from "../../tests/helpers/database";
import { SharedWriteGate, WriteGate } from "./write-gate";

const db = useTestDatabase();

/** A local receiver noting when each request arrived, by installation (like GitHub would). */
async function receiver() {
  const arrivals: { installation: string; at: number }[] = [];
  const server: Server = createServer((req, res) => {
    arrivals.push({
      installation: req.url!.slice(1),
      at: performance.timeOrigin + performance.now(),
    });
    req.resume();
    req.on("end", () => res.end("{}"));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, arrivals, url };
}

const post = (url: string) =>
  new Promise<void>((resolve, reject) => {
    const req = request(url, { method: "POST", agent: false }, (res) => {
      res.resume();
      res.on("end", resolve);
    });
    req.on("error", reject);
    req.end("{}");
  });

const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

describe("SharedWriteGate", () => {
  let pools: Knex[];
  beforeAll(() => {
    pools = [
      createKnex(db.current.url, { poolMax: 3 }),
      createKnex(db.current.url, { poolMax: 3 }),
    ];
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.destroy()));
  });

  it("spaces one installation's writes from two processes by the interval, where they arrive", async () => {
    const { server, arrivals, url } = await receiver();
    try {
      // Two worker processes: each its own in-process gate, its own pool, the same table.
      const interval = 300;
      const workers = pools.map(
        (knex) =>
          new WriteGate(interval, undefined, undefined, new SharedWriteGate(knex, interval)),
      );
      await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          workers[i % 2]!.run(7001, async () => {
            // Some writes leave late (a new connection, a token refresh).
            if (i % 3 === 0) await new Promise((r) => setTimeout(r, 40));
            await post(`${url}/7001`);
          }),
        ),
      );
      const times = arrivals.filter((a) => a.installation === "7001").map((a) => a.at);
      expect(times).toHaveLength(8);
      for (const gap of gaps(times)) expect(gap).toBeGreaterThanOrEqual(interval);
    } finally {
      server.close();
    }
  });

  it("lets another installation write while one is held", async () => {
    const { server, arrivals, url } = await receiver();
    try {
      const [a, b] = pools.map((knex) => new SharedWriteGate(knex, 60_000));
      // Installation 7002's gate stays shut for a minute after this write...
      await a!.run(7002, () => post(`${url}/7002`));
      // ...and 7003 writes from the other process meanwhile.
      await b!.run(7003, () => post(`${url}/7003`));
      expect(arrivals.map((x) => x.installation)).toEqual(["7002", "7003"]);
    } finally {
      server.close();
    }
  });

  it("gets past a holder that died: its hold lapses after the lease", async () => {
    // A process took the gate for 500 ms and was killed before its write ended.
    expect(await takeWriteGate(pools[0]!, 7004, "dead:1", 500)).toMatchObject({ taken: true });
    expect(await takeWriteGate(pools[1]!, 7004, "other:1", 500)).toMatchObject({
      taken: false,
      held: true,
    });
    const gate = new SharedWriteGate(pools[1]!, 100);
    await expect(gate.run(7004, async () => "written")).resolves.toBe("written");
  });
});
