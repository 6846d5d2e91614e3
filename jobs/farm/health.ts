// runners__check: probe every host; down ⇄ active follows the answers, draining stays draining.
import { RunnerHost } from "../../db/models";
import { probeHost, recordProbe } from "./hosts";
import type { WorkerContext } from "../worker-context";

export interface HostHealth {
  name: string;
  state: string;
  ok: boolean;
  version?: string;
  error?: string;
}

export async function checkHosts(ctx: WorkerContext): Promise<HostHealth[]> {
  const hosts = await RunnerHost.query(ctx.knex).orderBy("id");
  return Promise.all(
    hosts.map(async (host) => {
      const result = await probeHost(host, ctx.config.RUNNER_IMAGE);
      // Undefined when the host was removed while it was being probed.
      const updated = (await recordProbe(ctx.knex, host, result)) as RunnerHost | undefined;
      return {
        name: host.name,
        state: updated?.state ?? "removed",
        ok: result.ok,
        version: result.version,
        error: result.error,
      };
    }),
  );
}
