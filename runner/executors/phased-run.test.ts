import { describe, expect, it } from "vitest";
import { isPhased, phaseNetworks } from "./phased-run";
import type { RunSpec } from "./types";

const spec = (over: Partial<RunSpec>) => ({ setup: "make", ...over }) as RunSpec;

describe("phased runs", () => {
  it.each([
    ["setup online, test offline", { setupNetwork: true }, true],
    ["a dependency cache", { cacheVolume: "c" }, true],
    ["a dependency cache, network for the whole run", { cacheVolume: "c", network: true }, true],
    ["no cache, both offline", {}, false],
    ["no cache, network for the whole run", { network: true, setupNetwork: true }, false],
    ["a cache but no setup (all test)", { cacheVolume: "c", setup: "  " }, false],
  ])("%s: %s", (_, over, phased) => {
    expect(isPhased(spec(over))).toBe(phased);
  });

  it("keeps the test offline unless the whole run may reach the network", () => {
    expect(phaseNetworks(spec({ setupNetwork: true }))).toEqual({ setup: true, test: false });
    expect(phaseNetworks(spec({ cacheVolume: "c" }))).toEqual({ setup: false, test: false });
    expect(phaseNetworks(spec({ cacheVolume: "c", network: true }))).toEqual({
      setup: true,
      test: true,
    });
  });
});
