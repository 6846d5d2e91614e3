// The runner-host registry: registration, health probes and the state they imply.
import type { Knex } from "knex";
import { RunnerHost, type RunnerHostState } from "../../db/models";
import { describeDockerError, pingEngine } from "../../runner/docker/connect";
import { dockerFor } from "./docker-clients";

export interface HostRegistration {
  name: string;
  dockerEndpoint: string;
  tlsPath?: string | null;
  capacity: number;
  labels?: Record<string, string>;
  source: "env" | "admin";
}

/**
 * Adds a host, or (for the host configured from the environment) brings its endpoint and capacity
 * up to date. A host an operator added is never overwritten by the environment.
 */
export async function registerHost(knex: Knex, host: HostRegistration): Promise<RunnerHost> {
  const row = {
    name: host.name,
    dockerEndpoint: host.dockerEndpoint,
    tlsPath: host.tlsPath ?? null,
    capacity: host.capacity,
    labels: host.labels ?? {},
    source: host.source,
  };
  const existing = await RunnerHost.query(knex).findOne({ name: host.name });
  if (!existing) return RunnerHost.query(knex).insert(row).returning("*");
  if (existing.source === "env" && host.source === "env") {
    return existing.$query(knex).patchAndFetch({
      dockerEndpoint: row.dockerEndpoint,
      tlsPath: row.tlsPath,
      capacity: row.capacity,
    });
  }
  return existing;
}

export interface ProbeResult {
  ok: boolean;
  version?: string;
  imagePresent?: boolean;
  error?: string;
}

/** Version + ping + the runner image: what a host must answer to take work. */
export async function probeHost(
  host: RunnerHost,
  image: string,
  timeoutMs = 5_000,
): Promise<ProbeResult> {
  try {
    const docker = dockerFor(host);
    await pingEngine(docker, timeoutMs, host.name);
    const version = (await docker.version()) as { Version?: string };
    const imagePresent = await docker
      .getImage(image)
      .inspect()
      .then(
        () => true,
        () => false,
      );
    if (!imagePresent)
      return {
        ok: false,
        version: version.Version,
        imagePresent,
        error: `image ${image} is not present`,
      };
    return { ok: true, version: version.Version, imagePresent };
  } catch (error) {
    return { ok: false, error: describeDockerError(error) };
  }
}

/** active ⇄ down by probe results; draining stays draining (it only finishes its work). */
export function nextState(current: RunnerHostState, ok: boolean): RunnerHostState {
  if (current === "draining") return "draining";
  return ok ? "active" : "down";
}

export async function recordProbe(
  knex: Knex,
  host: RunnerHost,
  result: ProbeResult,
): Promise<RunnerHost> {
  const state = nextState(host.state, result.ok);
  return host.$query(knex).patchAndFetch({
    state,
    lastError: result.ok ? null : (result.error ?? "unreachable"),
    ...(result.ok ? { lastSeenAt: new Date() } : {}),
  });
}

/** Marks a host down at once (a run found its engine unreachable); the health check brings it back. */
export async function markDown(knex: Knex, hostId: number, error: string): Promise<void> {
  await RunnerHost.query(knex)
    .patch({ state: "down", lastError: error })
    .where({ id: hostId })
    .whereNot({ state: "draining" });
}
