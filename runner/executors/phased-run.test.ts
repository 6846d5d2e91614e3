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
  /** A started phased run waiting for its result, and its setup exited with `setupExit`. */
  const running = async (setupExit: number) => {
    const events: string[] = [];
    const setup = fakePhase("setup", events);
    const test = fakePhase("test", events);
    const run = new PhasedRun(
      spec({ timeoutMs: 60_000, logLimitBytes: 4096 }),
      setup.phase,
      test.phase,
    );
    await run.start();
    const done = run.wait();
    done.catch(() => {});
    setup.exit(setupExit);
    const until = (event: string) => expect.poll(() => events).toContain(event);
    return { events, setup, test, done, until };
  };

  it("starts the test once the setup exits 0, while the setup's sandbox settles", async () => {
    const { setup, test, done, until } = await running(0);
    await until("test started");
    setup.settle(result({ log: "setup\n" }));
    test.settle(result({ exitCode: 1, log: "test\n" }));
    expect(await done).toMatchObject({ exitCode: 1, log: "setup\ntest\n", durationMs: 20 });
  });

  it("stops the test and fails the run when the setup's sandbox cannot be settled", async () => {
    const { setup, test, done, until } = await running(0);
    await until("test started");
    setup.fail(new Error("processes survive SIGKILL"));
    await until("test killed (abort)");
    test.settle(result({ exitCode: null, aborted: true }));
    await expect(done).rejects.toThrow("processes survive SIGKILL");
  });

  it("never starts the test after a setup that failed", async () => {
    const { events, setup, done } = await running(2);
    setup.settle(result({ exitCode: 125, log: "setup failed\n" }));
    expect(await done).toMatchObject({ exitCode: 125 });
    expect(events).not.toContain("test started");
  });
});
