// One dockerode client per runner host, reused across runs (TLS material is read once).
import type Docker from "dockerode";
import type { RunnerHost } from "../../db/models";
import { connectDocker } from "../../runner/docker/connect";

const clients = new Map<string, Docker>();

export function dockerFor(
  host: Pick<RunnerHost, "dockerEndpoint" | "tlsPath"> & { sshHostKey?: string | null },
): Docker {
  const key = `${host.dockerEndpoint}\0${host.tlsPath ?? ""}\0${host.sshHostKey ?? ""}`;
  let client = clients.get(key);
  if (!client) {
    client = connectDocker(host.dockerEndpoint, {
      ...(host.tlsPath ? { tls: host.tlsPath } : {}),
      ...(host.sshHostKey ? { sshHostKey: host.sshHostKey } : {}),
    });
    clients.set(key, client);
  }
  return client;
}

/** Forget cached clients (after a host's endpoint or certificates changed). */
export function forgetDockerClients(): void {
  clients.clear();
}
