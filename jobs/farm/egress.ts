// Where a run granted network goes on a runner host. By default (RUNNER_RUN_NETWORK=filtered) the
// worker keeps each host's egress filter itself, as it keeps the runner image there: the internal
// network (no route out, no traffic between containers) and the proxy on its gateway that lets
// through only RUNNER_EGRESS_ALLOW (runner/egress). Any other setting names a Docker network the
// operator set up, with RUNNER_EGRESS_PROXY for its proxy.
import type { RunnerHost } from "../../db/models";
import { ensureHostEgress, type HostEgress } from "../../runner/egress/egress";
import { DEFAULT_EGRESS_ALLOW, parseEgressAllow } from "../../runner/egress/squid-config";
import { InfrastructureError } from "../../runner/errors";
import type { WorkerContext } from "../worker-context";
import { dockerFor } from "./docker-clients";

export const FILTERED = "filtered";
/** The filtered network on every host (and its proxy, `bisect-egress-proxy-<network>`). */
export const EGRESS_NETWORK = "bisect-egress";

export interface RunNetwork {
  /** The Docker network mode of the run's networked container. */
  networkMode: string;
  /** The proxy it is given as HTTP_PROXY / HTTPS_PROXY, if any. */
  egressProxy?: string;
}

/** The network a networked run on `host` joins, its filter set up there first when it is ours. */
export async function runNetworkOn(ctx: WorkerContext, host: RunnerHost): Promise<RunNetwork> {
  const { config } = ctx;
  if (config.RUNNER_RUN_NETWORK !== FILTERED)
    return { networkMode: config.RUNNER_RUN_NETWORK, egressProxy: config.RUNNER_EGRESS_PROXY };
  let allow;
  try {
    allow = parseEgressAllow(config.RUNNER_EGRESS_ALLOW ?? DEFAULT_EGRESS_ALLOW.join(","));
  } catch (error) {
    throw new InfrastructureError(`RUNNER_EGRESS_ALLOW: ${(error as Error).message}`);
  }
  const docker = dockerFor(host);
  const options = { network: EGRESS_NETWORK, allow, port: config.RUNNER_EGRESS_PORT };
  let egress: HostEgress;
  try {
    egress = await ensureHostEgress(docker, options);
  } catch {
    // Two runs setting up the same host at once: the second finds the first one's filter.
    egress = await ensureHostEgress(docker, options);
  }
  return { networkMode: egress.network, egressProxy: egress.proxyUrl };
}
