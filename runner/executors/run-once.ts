// One run from start to finish: prepare → start → wait → destroy, the container (or work dir)
// removed whatever happens.
import { type Executor, type RunHandle, type RunResult, type RunSpec } from "./types";

/**
 * Run `spec` once on `executor` and always clean up. Rejects with the first failure; when only
 * the clean-up fails, rejects with that (the resource may be left for the reaper).
 */
export async function runOnce(
  executor: Executor,
  spec: RunSpec,
  signal?: AbortSignal,
): Promise<RunResult> {
  if (signal?.aborted) {
    // Nothing was created: report the abort without touching the backend.
    return {
      exitCode: null,
      signal: null,
      timedOut: false,
      oomKilled: false,
      aborted: true,
      durationMs: 0,
      log: "",
      logTruncated: false,
    };
  }
  let handle: RunHandle | undefined;
  let result: RunResult | undefined;
  let failure: unknown;
  try {
    handle = await executor.prepare(spec);
    await executor.start(handle);
    result = await executor.wait(handle, signal);
  } catch (err) {
    failure = err;
  } finally {
    if (handle) {
      try {
        await executor.destroy(handle);
      } catch (err) {
        failure ??= err;
      }
    }
  }
  if (failure !== undefined) throw failure;
  return result!;
}
