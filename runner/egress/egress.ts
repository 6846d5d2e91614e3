// The egress of networked runs on a runner host: an internal Docker network (no route out, no
// traffic between its containers) and the filtering proxy (squid, squid-config.ts), the only way
// out. A run on that network gets HTTP_PROXY / HTTPS_PROXY pointing at the proxy; what it may
// reach is the operator's allow-list, never the repository's choice.
import type Docker from "dockerode";
import { describeDockerError, statusOf } from "../docker/connect";
import { InfrastructureError } from "../errors";
import { APP_LABEL, EGRESS_LABEL } from "../labels";
import { contextHash, ensureRunnerImage, type EnsureImageResult } from "../image";
import { type EgressAllow, squidConfig } from "./squid-config";

export const EGRESS_IMAGE = "bisect-egress:latest";
/** Label on the egress network and proxy (value: their role). */
export { EGRESS_LABEL };
const ICC = "com.docker.network.bridge.enable_icc";

const DOCKERFILE = [
  "FROM debian:bookworm-slim",
  "RUN apt-get update && apt-get install -y --no-install-recommends squid && rm -rf /var/lib/apt/lists/*",
  "",
].join("\n");

/** Build (or copy from `source`) the proxy's image: Debian's squid, nothing else. */
export function ensureEgressImage(
  docker: Docker,
  options: { source?: Docker; networkMode?: string } = {},
): Promise<EnsureImageResult> {
  const files = [{ name: "Dockerfile", content: DOCKERFILE, mode: 0o644 }];
  return ensureRunnerImage(docker, {
    tag: EGRESS_IMAGE,
    context: { files, hash: contextHash(files) },
    ...options,
  });
}

/**
 * The network of that name, inspected. Docker lets two creators race to two networks of one name
 * (CheckDuplicate is ignored by current engines): every caller keeps the same one — the earliest
 * made — and removes the others, so racing workers agree.
 */
async function networkNamed(
  docker: Docker,
  name: string,
): Promise<Docker.NetworkInspectInfo | null> {
  let found: Docker.NetworkInspectInfo[];
  try {
    found = (await docker.listNetworks({ filters: JSON.stringify({ name: [name] }) })).filter(
      (n) => n.Name === name,
    );
  } catch (err) {
    throw new InfrastructureError(`listing networks failed: ${describeDockerError(err)}`);
  }
  if (found.length === 0) return null;
  found.sort((a, b) => a.Created.localeCompare(b.Created) || a.Id.localeCompare(b.Id));
  const [kept, ...extra] = found;
  for (const n of extra)
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => {});
  try {
    return await docker.getNetwork(kept!.Id).inspect();
  } catch (err) {
    throw new InfrastructureError(`inspecting network ${name} failed: ${describeDockerError(err)}`);
  }
}

/**
 * The internal network networked runs join: created when missing; an existing one is used only
 * when it is internal and without inter-container traffic, else this refuses to go on. Returns it,
 * inspected.
 */
export async function ensureEgressNetwork(
  docker: Docker,
  name: string,
): Promise<Docker.NetworkInspectInfo> {
  const check = (info: Docker.NetworkInspectInfo) => {
    if (info.Internal !== true || info.Options?.[ICC] !== "false")
      throw new InfrastructureError(
        `network ${name} is not internal with ${ICC}=false: refusing to run with network on it`,
      );
    return info;
  };
  const existing = await networkNamed(docker, name);
  if (existing) return check(existing);
  try {
    await docker.createNetwork({
      Name: name,
      Driver: "bridge",
      Internal: true,
      Options: { [ICC]: "false" },
      Labels: { ...APP_LABEL, [EGRESS_LABEL]: "network" },
    });
  } catch (err) {
    // Made meanwhile by another worker: check what is there.
    if (statusOf(err) !== 409)
      throw new InfrastructureError(`creating network ${name} failed: ${describeDockerError(err)}`);
  }
  const made = await networkNamed(docker, name);
  if (!made) throw new InfrastructureError(`network ${name} vanished after it was made`);
  return check(made);
}

export interface EgressProxyOptions {
  allow: EgressAllow;
  /** Where squid listens: `address:port` (e.g. the egress network's gateway) or a port. */
  listen: string;
  /** The proxy's network mode, e.g. "host" (it listens on an address of the host). */
  networkMode: string;
  name: string;
  labels?: Record<string, string>;
  /** Host names the proxy resolves without DNS (`name:address`), e.g. a mirror's. */
  extraHosts?: string[];
}

/**
 * Start the proxy container and resolve once squid accepts connections. It runs as squid's own
 * user with every capability dropped and a read-only root; the configuration comes in its
 * environment. Restarted by the engine if it dies.
 */
export async function startEgressProxy(
  docker: Docker,
  options: EgressProxyOptions,
): Promise<Docker.Container> {
  let container: Docker.Container;
  try {
    container = await docker.createContainer({
      name: options.name,
      Image: EGRESS_IMAGE,
      User: "proxy",
      Entrypoint: [],
      Cmd: [
        "sh",
        "-c",
        'printf "%s" "$SQUID_CONF" > /tmp/squid.conf && exec squid -N -f /tmp/squid.conf',
      ],
      Env: [`SQUID_CONF=${squidConfig(options.allow, options.listen)}`],
      Labels: { ...options.labels, ...APP_LABEL, [EGRESS_LABEL]: "proxy" },
      HostConfig: {
        NetworkMode: options.networkMode,
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        ReadonlyRootfs: true,
        Tmpfs: { "/tmp": "rw,nosuid,nodev,size=16777216", "/run": "rw,nosuid,nodev,size=1048576" },
        Memory: 256 * 1024 * 1024,
        PidsLimit: 256,
        ExtraHosts: options.extraHosts ?? [],
        RestartPolicy: { Name: "unless-stopped" },
      },
    });
    await container.start();
  } catch (err) {
    throw new InfrastructureError(
      `starting the egress proxy ${options.name} failed: ${describeDockerError(err)}`,
    );
  }
  await untilAccepting(container);
  return container;
}

/** Wait for squid's "Accepting HTTP Socket connections" in its log (or its exit). */
async function untilAccepting(container: Docker.Container): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const log = (await container.logs({ stdout: true, stderr: true })).toString("utf8");
    if (log.includes("Accepting HTTP Socket connections")) return;
    const info = await container.inspect();
    if (!info.State.Running && info.State.Restarting !== true)
      throw new InfrastructureError(
        `the egress proxy exited: ${log.trim().split("\n").slice(-5).join("\n")}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new InfrastructureError("the egress proxy did not start listening");
}

/** A runner host's egress: the internal network and the proxy listening on its gateway. */
export interface HostEgress {
  network: string;
  /** What runs on the network set HTTP_PROXY to: `http://<gateway>:<port>`. */
  proxyUrl: string;
}

/**
 * Set up a runner host's egress: the proxy's image, the internal network, and the proxy (on the
 * host's network, listening only on the internal network's gateway address, so runs reach it and
 * nothing else there does). A proxy already running with the same rules is kept; one with other
 * rules is replaced.
 */
export async function ensureHostEgress(
  docker: Docker,
  options: { network: string; allow: EgressAllow; port: number; buildNetworkMode?: string },
): Promise<HostEgress> {
  await ensureEgressImage(docker, { networkMode: options.buildNetworkMode });
  const info = await ensureEgressNetwork(docker, options.network);
  const gateway = info.IPAM?.Config?.find((c) => c.Gateway && !c.Gateway.includes(":"))?.Gateway;
  if (!gateway) throw new InfrastructureError(`network ${options.network} has no IPv4 gateway`);
  const listen = `${gateway}:${options.port}`;
  const rules = contextHash([{ name: "squid.conf", content: squidConfig(options.allow, listen) }]);
  const name = `bisect-egress-proxy-${options.network}`;
  try {
    const existing = await docker.getContainer(name).inspect();
    if (existing.State.Running && existing.Config.Labels?.[`${EGRESS_LABEL}.rules`] === rules)
      return { network: options.network, proxyUrl: `http://${listen}` };
    await docker.getContainer(name).remove({ force: true });
  } catch (err) {
    if (statusOf(err) !== 404)
      throw new InfrastructureError(`replacing ${name} failed: ${describeDockerError(err)}`);
  }
  await startEgressProxy(docker, {
    allow: options.allow,
    listen,
    networkMode: "host",
    name,
    labels: { [`${EGRESS_LABEL}.rules`]: rules },
  });
  return { network: options.network, proxyUrl: `http://${listen}` };
}
