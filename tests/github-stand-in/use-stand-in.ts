// A GitHub stand-in for one test file: started in beforeAll, closed in afterAll.
import { afterAll, beforeAll } from "vitest";
import { startGitHubStandIn, type StandIn, type StandInOptions } from "./server";

/**
 * Starts a stand-in before the file's tests and closes it after them, and returns its handle.
 * `options` may be a function: it is called in beforeAll, after the hooks registered before this
 * call, so it can use what they prepared. The handle forwards to the running stand-in; reading it
 * before beforeAll or after afterAll throws.
 */
export function useStandIn(
  options: StandInOptions | (() => StandInOptions | Promise<StandInOptions>) = {},
): StandIn {
  let current: StandIn | undefined;
  beforeAll(async () => {
    current = await startGitHubStandIn(typeof options === "function" ? await options() : options);
  });
  afterAll(async () => {
    const running = current;
    current = undefined;
    await running?.close();
  });
  return new Proxy({} as StandIn, {
    get(_target, key) {
      if (!current)
        throw new Error("The GitHub stand-in is not running (useStandIn starts it in beforeAll).");
      const value: unknown = Reflect.get(current, key, current);
      return typeof value === "function" ? value.bind(current) : value;
    },
  });
}
