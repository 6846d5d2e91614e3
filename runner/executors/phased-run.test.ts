import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { isPhased, type Phase, PhasedRun, phaseNetworks } from "./phased-run";
import type { RunResult, RunSpec } from "./types";

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

const result = (over: Partial<RunResult>): RunResult => ({
  exitCode: 0,
  signal: null,
  timedOut: false,
  oomKilled: false,
  aborted: false,
  durationMs: 10,
  log: "",
  logTruncated: false,
  ...over,
});

/** A phase whose exit code and settled result arrive when the test says so. */
function fakePhase(name: string, events: string[]) {
  let settle!: (r: RunResult) => void;
  let fail!: (e: unknown) => void;
  let exit!: (code: number) => void;
  const settled = new Promise<RunResult>((res, rej) => {
    settle = res;
    fail = rej;
  });
  const exited = new Promise<number>((res) => (exit = res));
  const phase: Phase = {
    container: { id: name } as Docker.Container,
    exited: false,
    take: () => {},
    start: async () => void events.push(`${name} started`),
    wait: () => settled,
    kill: (why) => void events.push(`${name} killed (${why})`),
    stopStreams: () => {},
    exitCode: () => exited,
  };
  return { phase, settle, fail, exit };
}

describe("a phased run in sandboxes", () => {
  const phased = (events: string[]) => {
    const setup = fakePhase("setup", events);
    const test = fakePhase("test", events);
    const run = new PhasedRun(
      spec({ timeoutMs: 60_000, logLimitBytes: 4096 }),
      setup.phase,
      test.phase,
    );
    return { setup, test, run };
  };
  const until = async (events: string[], event: string) => {
    await expect.poll(() => events).toContain(event);
  };

  it("starts the test once the setup exits 0, while the setup's sandbox settles", async () => {
    const events: string[] = [];
    const { setup, test, run } = phased(events);
    await run.start();
    const done = run.wait();
    setup.exit(0);
    await until(events, "test started");
    setup.settle(result({ log: "setup\n" }));
    test.settle(result({ exitCode: 1, log: "test\n" }));
    expect(await done).toMatchObject({ exitCode: 1, log: "setup\ntest\n", durationMs: 20 });
  });

  it("stops the test and fails the run when the setup's sandbox cannot be settled", async () => {
    const events: string[] = [];
    const { setup, test, run } = phased(events);
    await run.start();
    const done = run.wait();
    setup.exit(0);
    await until(events, "test started");
    setup.fail(new Error("processes survive SIGKILL"));
    await until(events, "test killed (abort)");
    test.settle(result({ exitCode: null, aborted: true }));
    await expect(done).rejects.toThrow("processes survive SIGKILL");
  });

  it("never starts the test after a setup that failed", async () => {
    const events: string[] = [];
    const { setup, run } = phased(events);
    await run.start();
    const done = run.wait();
    setup.exit(2);
    setup.settle(result({ exitCode: 125, log: "setup failed\n" }));
    expect(await done).toMatchObject({ exitCode: 125 });
    expect(events).not.toContain("test started");
  });
});
