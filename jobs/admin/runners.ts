// Admin: the runner hosts. A host is checked before it may take work (connection, ping, version,
// runner image — copied from an active host that has it, or built), drained before it leaves.
import type Docker from "dockerode";
import type { Knex } from "knex";
import { RunnerHost } from "../../db/models";
import {
  connectDocker,
  describeDockerError,
  parseEndpoint,
  pingEngine,
  redactEndpoint,
} from "../../runner/docker/connect";
import { dockerFor } from "../farm/docker-clients";
import { probeHost, recordProbe } from "../farm/hosts";
import { openLeaseCounts } from "../farm/leases";
import { ensureRunnerImage, runnerBuildContext, RUNNER_HASH_LABEL } from "../../runner/image";
import type { WorkerContext } from "../worker-context";
import type { ArgsOf } from "./commands";
import { AdminError } from "./errors";

export interface HostView {
  name: string;
  /** Without user info. */
  endpoint: string;
  state: string;
  source: string;
  capacity: number;
  slotsInUse: number;
  labels: Record<string, string>;
  lastSeenAt: string | null;
  lastError: string | null;
}

export interface HostCheck {
  check: "name" | "connection" | "ping" | "host key" | "version" | "image" | "probe";
  ok: boolean;
  detail: string;
}

export interface AddResult {
  added: boolean;
  host: HostView | null;
  checks: HostCheck[];
}

export interface ProbeView {
  name: string;
  state: string;
  ok: boolean;
  version: string | null;
  error: string | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function view(host: RunnerHost, slotsInUse: number): HostView {
  return {
    name: host.name,
    endpoint: redactEndpoint(host.dockerEndpoint),
    state: host.state,
    source: host.source,
    capacity: host.capacity,
    slotsInUse,
    labels: host.labels ?? {},
    lastSeenAt: iso(host.lastSeenAt),
    lastError: host.lastError,
  };
}

async function findHost(knex: Knex, name: string): Promise<RunnerHost> {
  const host = await RunnerHost.query(knex).findOne({ name });
  if (!host) {
    const names = (await RunnerHost.query(knex).orderBy("name").select("name")).map((h) => h.name);
    throw new AdminError(
      `no runner host named ${name}${names.length ? ` (hosts: ${names.join(", ")})` : " (there are none)"}`,
    );
  }
  return host;
}

async function openLeasesOf(knex: Knex, hostId: number): Promise<number> {
  return (await openLeaseCounts(knex)).get(hostId) ?? 0;
}

export async function listRunners(knex: Knex): Promise<{ hosts: HostView[] }> {
  const [hosts, open] = await Promise.all([
    RunnerHost.query(knex).orderBy("name"),
    openLeaseCounts(knex),
  ]);
  return { hosts: hosts.map((h) => view(h, open.get(h.id) ?? 0)) };
}

function describeTransport(endpoint: string, tlsDir: string | undefined): string {
  const ep = parseEndpoint(endpoint);
  if (ep.kind === "unix") return `local socket ${ep.socketPath}`;
  if (ep.kind === "ssh") return `ssh to ${ep.host}:${ep.port}`;
  return tlsDir
    ? `TLS with a client certificate to ${ep.host}:${ep.port}`
    : `plain tcp to the loopback address ${ep.host}:${ep.port}`;
}

/** An active host holding the current runner image, to copy it from (no registry involved). */
async function imageSource(
  knex: Knex,
  tag: string,
): Promise<{ name: string; docker: Docker } | null> {
  const hash = runnerBuildContext().hash;
  for (const host of await RunnerHost.query(knex).modify("active").orderBy("id")) {
    try {
      const docker = dockerFor(host);
      const info = await docker.getImage(tag).inspect();
      if (info.Config?.Labels?.[RUNNER_HASH_LABEL] === hash) return { name: host.name, docker };
    } catch {
      // unreachable or without the image: try the next one
    }
  }
  return null;
}

/**
 * Checks the engine and registers it as an active host. Nothing is registered when a check fails:
 * the AdminError's result lists the checks and which one failed.
 */
export async function addRunner(
  ctx: WorkerContext,
  args: ArgsOf<"runners.add">,
  signal?: AbortSignal,
): Promise<AddResult> {
  const { knex, config } = ctx;
  const checks: HostCheck[] = [];
  const refuse = (check: HostCheck["check"], detail: string): never => {
    checks.push({ check, ok: false, detail });
    throw new AdminError(`runner host ${args.name} not added: ${detail}`, {
      added: false,
      host: null,
      checks,
    } satisfies AddResult);
  };
  const pass = (check: HostCheck["check"], detail: string) =>
    checks.push({ check, ok: true, detail });

  const existing = await RunnerHost.query(knex).findOne({ name: args.name });
  if (existing)
    refuse(
      "name",
      `a runner host named ${args.name} already exists (${existing.state}, ${redactEndpoint(existing.dockerEndpoint)})`,
    );
  const sameEngine = await RunnerHost.query(knex).findOne({ dockerEndpoint: args.endpoint });
  if (sameEngine)
    refuse("name", `${redactEndpoint(args.endpoint)} is already registered as ${sameEngine.name}`);
  pass("name", `${args.name} is free`);

  const target = {
    dockerEndpoint: args.endpoint,
    tlsPath: args.tlsDir ?? null,
    sshHostKey: args.sshHostKey ?? null,
  };
  const ssh = endpointKind(args.endpoint) === "ssh";
  let docker: Docker;
  let seenKey: string | null = null;
  try {
    // An ssh host without a given key: the key it presents now is the one pinned (and printed).
    docker =
      ssh && !target.sshHostKey
        ? connectDocker(args.endpoint, {
            sshHostKey: { capture: (fingerprint) => (seenKey = fingerprint) },
          })
        : dockerFor(target);
    pass("connection", describeTransport(args.endpoint, args.tlsDir));
  } catch (error) {
    return refuse("connection", describeDockerError(error));
  }

  try {
    await pingEngine(docker, 5_000, args.name);
    pass("ping", "the engine answers");
  } catch (error) {
    refuse("ping", (error as Error).message);
  }
  if (ssh) {
    target.sshHostKey ??= seenKey;
    if (!target.sshHostKey) refuse("connection", "the ssh host presented no host key");
    pass(
      "host key",
      `pinned ${target.sshHostKey}${args.sshHostKey ? "" : " (as seen now: compare it with the host's)"}`,
    );
    docker = dockerFor(target);
  }

  try {
    const v = (await docker.version()) as {
      Version?: string;
      ApiVersion?: string;
      Os?: string;
      Arch?: string;
    };
    if (v.Os && v.Os !== "linux")
      refuse("version", `the engine runs ${v.Os} containers; the runner image needs Linux`);
    pass(
      "version",
      `Docker ${v.Version ?? "?"} (API ${v.ApiVersion ?? "?"}, ${v.Os ?? "?"}/${v.Arch ?? "?"})`,
    );
  } catch (error) {
    if (error instanceof AdminError) throw error;
    refuse("version", `the engine did not say its version: ${describeDockerError(error)}`);
  }

  try {
    const source = await imageSource(knex, config.RUNNER_IMAGE);
    const image = await ensureRunnerImage(docker, {
      tag: config.RUNNER_IMAGE,
      source: source?.docker,
      signal,
    });
    const how = {
      present: "present",
      copied: `copied from ${source?.name}`,
      tagged: "named from the same build already on the host",
      built: "built on the host",
    }[image.action];
    pass("image", `${image.tag} ${how} (${image.id.slice(0, 19)})`);
  } catch (error) {
    refuse(
      "image",
      `the runner image ${config.RUNNER_IMAGE} could not be made available: ${describeDockerError(error)}`,
    );
  }

  // The same probe the health check runs every minute: what passes here stays active there.
  const probe = await probeHost({ ...target, name: args.name } as RunnerHost, config.RUNNER_IMAGE);
  if (!probe.ok) refuse("probe", probe.error ?? "the health probe failed");
  pass("probe", "the health check passes");

  const inserted = await RunnerHost.query(knex)
    .insert({
      name: args.name,
      dockerEndpoint: args.endpoint,
      tlsPath: args.tlsDir ?? null,
      sshHostKey: target.sshHostKey,
      capacity: args.capacity,
      labels: args.labels,
      source: "admin",
      state: "active",
      lastSeenAt: new Date(),
      lastError: null,
    })
    .onConflict("name")
    .ignore()
    .returning("*");
  const host = Array.isArray(inserted) ? inserted[0] : inserted;
  if (!host?.id) refuse("name", `a runner host named ${args.name} was added meanwhile`);
  return { added: true, host: view(host!, 0), checks };
}

/** Probes one host or all of them now, recording the result as the health check does. */
export async function checkRunners(
  ctx: WorkerContext,
  args: ArgsOf<"runners.check">,
): Promise<{ hosts: ProbeView[] }> {
  const hosts = args.name
    ? [await findHost(ctx.knex, args.name)]
    : await RunnerHost.query(ctx.knex).orderBy("name");
  const results = await Promise.all(
    hosts.map(async (host): Promise<ProbeView> => {
      const probe = await probeHost(host, ctx.config.RUNNER_IMAGE);
      const updated = await recordProbe(ctx.knex, host, probe);
      return {
        name: host.name,
        state: updated.state,
        ok: probe.ok,
        version: probe.version ?? null,
        error: probe.ok ? null : (probe.error ?? "unreachable"),
      };
    }),
  );
  const failed = results.filter((r) => !r.ok);
  if (failed.length) {
    throw new AdminError(`${failed.map((f) => `${f.name}: ${f.error}`).join("; ")}`, {
      hosts: results,
    });
  }
  return { hosts: results };
}

export async function drainRunner(
  ctx: WorkerContext,
  args: ArgsOf<"runners.drain">,
): Promise<{ host: HostView; previousState: string }> {
  const host = await findHost(ctx.knex, args.name);
  const previousState = host.state;
  const updated = await RunnerHost.query(ctx.knex).patchAndFetchById(host.id, {
    state: "draining",
  });
  return { host: view(updated, await openLeasesOf(ctx.knex, host.id)), previousState };
}

/** Undoes a drain: active when the host passes its check, else down until the health check sees it answer. */
export async function activateRunner(
  ctx: WorkerContext,
  args: ArgsOf<"runners.activate">,
): Promise<{ host: HostView; previousState: string }> {
  const host = await findHost(ctx.knex, args.name);
  const previousState = host.state;
  const probe = await probeHost(host, ctx.config.RUNNER_IMAGE);
  const updated = await RunnerHost.query(ctx.knex).patchAndFetchById(
    host.id,
    probe.ok
      ? { state: "active", lastSeenAt: new Date(), lastError: null }
      : { state: "down", lastError: probe.error ?? "unreachable" },
  );
  const result = { host: view(updated, await openLeasesOf(ctx.knex, host.id)), previousState };
  if (!probe.ok) {
    throw new AdminError(
      `${host.name} fails its check (${probe.error}); it is down and becomes active once the health check sees it answer`,
      result,
    );
  }
  return result;
}

export interface RemoveResult {
  name: string;
  removed: boolean;
  drained: boolean;
  waitedSeconds: number;
  note: string | null;
}

/**
 * Removes a host without open leases. With `force`, drains it first and waits for its runs to end.
 * The host's row is locked while its leases are counted, so no lease is taken in between.
 */
export async function removeRunner(
  ctx: WorkerContext,
  args: ArgsOf<"runners.remove">,
  signal?: AbortSignal,
): Promise<RemoveResult> {
  const { knex, config } = ctx;
  const host = await findHost(knex, args.name);
  const started = Date.now();
  let open = await openLeasesOf(knex, host.id);
  let drained = false;
  if (open > 0) {
    if (!args.force) {
      throw new AdminError(
        `${host.name} holds ${open} open lease(s): drain it (runners drain ${host.name}), wait for its runs to finish and remove it, or use --force`,
        {
          name: host.name,
          removed: false,
          drained: false,
          waitedSeconds: 0,
          note: null,
        } satisfies RemoveResult,
      );
    }
    await RunnerHost.query(knex).patch({ state: "draining" }).where({ id: host.id });
    drained = true;
    const deadline =
      started + (config.RUNNER_STEP_TIMEOUT_SECONDS + config.RUNNER_LEASE_SECONDS + 60) * 1000;
    while (open > 0) {
      if (signal?.aborted)
        throw new AdminError(
          `stopped while waiting for ${host.name} to drain (${open} open lease(s)); it stays draining`,
        );
      if (Date.now() > deadline)
        throw new AdminError(
          `${host.name} still holds ${open} open lease(s) after ${Math.round((Date.now() - started) / 1000)} s; it stays draining`,
        );
      await new Promise((r) => setTimeout(r, 1_000));
      open = await openLeasesOf(knex, host.id);
    }
  }
  await knex.transaction(async (trx) => {
    await RunnerHost.query(trx).findById(host.id).forUpdate();
    const still = await openLeasesOf(trx as unknown as Knex, host.id);
    if (still > 0)
      throw new AdminError(`${host.name} took ${still} new lease(s) meanwhile; drain it first`);
    await RunnerHost.query(trx).deleteById(host.id);
  });
  return {
    name: host.name,
    removed: true,
    drained,
    waitedSeconds: Math.round((Date.now() - started) / 1000),
    note:
      host.source === "env"
        ? "this host comes from the environment (RUNNER_DOCKER_HOST): a worker starting with it registers it again"
        : null,
  };
}

function endpointKind(endpoint: string): string | null {
  try {
    return parseEndpoint(endpoint).kind;
  } catch {
    return null; // connecting says what is wrong with it
  }
}
