import { describe, expect, it } from "vitest";
import { WriteGate } from "./write-gate";

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
});
