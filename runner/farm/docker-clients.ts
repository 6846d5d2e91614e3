// One dockerode client per runner host, reused across runs (TLS material is read once).
import type Docker from "dockerode";
import type { RunnerHost } from "../../db/models";
import { connectDocker } from "../docker/connect";

const clients = new Map<string, Docker>();

export function dockerFor(host: Pick<RunnerHost, "dockerEndpoint" | "tlsPath">): Docker {
  const key = `${host.dockerEndpoint}\0${host.tlsPath ?? ""}`;
  let client = clients.get(key);
  if (!client) {
    client = connectDocker(host.dockerEndpoint, host.tlsPath ? { tls: host.tlsPath } : {});
    clients.set(key, client);
  }
  return client;
}

/** Forget cached clients (after a host's endpoint or certificates changed). */
export function forgetDockerClients(): void {
  clients.clear();
}
