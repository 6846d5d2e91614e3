// The runner host configured by the environment (RUNNER_DOCKER_HOST, else DOCKER_HOST, else the
// local socket) is registered when a worker starts, so a first run needs no extra step; its
// runner image is built there in the background when missing.
import { existsSync } from "node:fs";
import type { Config } from "../../config/env";
import { ensureRunnerImage } from "../../runner/image";
import { dockerFor } from "./docker-clients";
import { registerHost } from "./hosts";
import type { WorkerContext } from "../worker-context";

export function envRunnerEndpoint(
  config: Config,
  env: Record<string, string | undefined> = process.env,
): { endpoint: string; tlsPath: string | null } | null {
  const endpoint =
    config.RUNNER_DOCKER_HOST ??
    env.DOCKER_HOST ??
    (existsSync("/var/run/docker.sock") ? "unix:///var/run/docker.sock" : null);
  if (!endpoint) return null;
  return { endpoint, tlsPath: config.RUNNER_DOCKER_CERT_PATH ?? env.DOCKER_CERT_PATH ?? null };
}

export async function registerEnvHost(
  ctx: WorkerContext,
  log: (message: string) => void,
): Promise<void> {
  const found = envRunnerEndpoint(ctx.config);
  if (!found) {
    log(
      "no runner host configured (RUNNER_DOCKER_HOST / DOCKER_HOST): add one with `npm run admin -- runners add`",
    );
    return;
  }
  const host = await registerHost(ctx.knex, {
    name: ctx.config.RUNNER_NAME,
    dockerEndpoint: found.endpoint,
    tlsPath: found.tlsPath,
    capacity: ctx.config.RUNNER_CAPACITY,
    source: "env",
  });
  // Building the image can take minutes the first time; the host counts as down until it exists.
  void ensureRunnerImage(dockerFor(host), { tag: ctx.config.RUNNER_IMAGE }).then(
    (r) => r.action !== "present" && log(`runner image ${r.tag} ${r.action} on ${host.name}`),
    (e: Error) => log(`runner image on ${host.name} not ready: ${e.message}`),
  );
}
