import { once } from "node:events";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { WriteGate } from "./write-gate";

/** A local receiver that notes when each request arrived (its own clock), like GitHub would. */
async function receiver(): Promise<{ server: Server; url: string; arrivals: number[] }> {
  const arrivals: number[] = [];
  const server = createServer((req, res) => {
    arrivals.push(performance.timeOrigin + performance.now());
    req.resume();
    req.on("end", () => res.end("{}"));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, arrivals };
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

describe("WriteGate", () => {
  it("spaces writes of one installation by the interval, in arrival order, and leaves others alone", async () => {
    let clock = 10_000;
    const slept: number[] = [];
    const gate = new WriteGate(
      1000,
      () => clock,
      async (ms) => {
        slept.push(ms);
      },
    );
    await Promise.all([gate.wait(1), gate.wait(1), gate.wait(1), gate.wait(2)]);
    expect(slept).toEqual([1000, 2000]);
    clock += 5000;
    await gate.wait(1);
    expect(slept).toEqual([1000, 2000]);
    clock += 100;
    await gate.wait(1);
    expect(slept).toEqual([1000, 2000, 900]);
  });

  it("really waits", async () => {
    const gate = new WriteGate(50);
    const started = Date.now();
    await gate.wait("a");
    await gate.wait("a");
    await gate.wait("a");
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
  });

  it("runs writes of one key one after another, each an interval after the previous one ended", async () => {
    let clock = 0;
    const gate = new WriteGate(
      1000,
      () => clock,
      async (ms) => {
        clock += ms;
      },
    );
    const log: string[] = [];
    const write = (name: string, takes: number) => async () => {
      log.push(`${name} starts at ${clock}`);
      clock += takes;
      return name;
    };
    expect(
      await Promise.all([
        gate.run(1, write("a", 300)),
        gate.run(1, write("b", 0)),
        gate.run(2, write("c", 0)),
      ]),
    ).toEqual(["a", "b", "c"]);
    expect(log).toEqual(["a starts at 0", "c starts at 300", "b starts at 1300"]);
    await expect(gate.run(1, async () => Promise.reject(new Error("refused")))).rejects.toThrow(
      "refused",
    );
    await gate.run(1, write("d", 0));
    expect(log.at(-1)).toBe("d starts at 3300");
  });

  it("keeps writes of one installation a full interval apart where they arrive, even when one leaves late", async () => {
    const { server, url, arrivals } = await receiver();
    try {
      const gate = new WriteGate(1000);
      // The first write leaves 80 ms after it was allowed to (a new connection, a token refresh);
      // the second leaves at once.
      await Promise.all([
        gate.run(42, async () => {
          await new Promise((r) => setTimeout(r, 80));
          await post(url);
        }),
        gate.run(42, () => post(url)),
      ]);
      expect(arrivals).toHaveLength(2);
      expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(1000);
    } finally {
      server.close();
    }
  });
});
