// Slot leases in PostgreSQL: a run holds one before its container starts and gives it back after.
// Hosts' rows are locked while a lease is chosen, so concurrent workers never exceed a host's
// capacity; a lease expires unless renewed, so a dead worker's slots come back by themselves.
import type { Knex } from "knex";
import { type BisectJob, RunnerHost, RunnerLease } from "../../db/models";

export interface LeaseRequest {
  /** The worker taking the lease. */
  holder: string;
  stepId?: number | null;
  ttlSeconds: number;
  /** Hosts to try first (e.g. those whose mirror already holds the repository). */
  prefer?: number[];
  /** Hosts to use only when no other active host exists (e.g. where this commit's run just failed). */
  avoid?: number[];
  /**
   * The installation the run is for (null: a command-line job). With it, slots are shared fairly:
   * when the farm is nearly full, free slots go to waiting installations holding fewer.
   */
  installationId?: number | null;
  /** The most slots the installation may hold at once (its plan's `max_parallel`). */
  maxHeld?: number;
}

export interface Lease {
  lease: RunnerLease;
  host: RunnerHost;
}

const OPEN = "released_at is null and expires_at > now()";

/**
 * The holder of a lease taken for a step when it is queued (bisect__advance): the slot is the
 * step's before any worker picks it, and the worker that does claims it (`claimQueuedLease`).
 */
export const QUEUED_HOLDER = "queued";

/** Open leases per host id. */
export async function openLeaseCounts(knex: Knex): Promise<Map<number, number>> {
  const rows = await knex("runner_leases")
    .whereRaw(OPEN)
    .select("runnerHostId")
    .count<{ runnerHostId: number; count: number }[]>("* as count")
    .groupBy("runnerHostId");
  return new Map(rows.map((r) => [r.runnerHostId, Number(r.count)]));
}

/** Free slots over all active hosts. */
export async function freeSlots(knex: Knex): Promise<number> {
  const hosts = await RunnerHost.query(knex).modify("active");
  const open = await openLeaseCounts(knex);
  return hosts.reduce((sum, h) => sum + Math.max(0, h.capacity - (open.get(h.id) ?? 0)), 0);
}

/** Picks the host for a lease: preferred first, then the most free slots, then the lowest id. */
export function chooseHost(
  hosts: readonly Pick<RunnerHost, "id" | "capacity">[],
  open: ReadonlyMap<number, number>,
  prefer: readonly number[] = [],
  avoid: readonly number[] = [],
): number | null {
  const free = (id: number, capacity: number) => capacity - (open.get(id) ?? 0);
  const usable = hosts.filter((h) => free(h.id, h.capacity) > 0);
  const others = hosts.filter((h) => !avoid.includes(h.id));
  const pool = others.length > 0 ? usable.filter((h) => !avoid.includes(h.id)) : usable;
  const best = [...pool].sort(
    (a, b) =>
      Number(prefer.includes(b.id)) - Number(prefer.includes(a.id)) ||
      free(b.id, b.capacity) - free(a.id, a.capacity) ||
      a.id - b.id,
  )[0];
  return best?.id ?? null;
}

/** Open run leases per installation (leases of command-line jobs and mirror refreshes are not counted). */
async function heldByInstallation(knex: Knex): Promise<Map<number, number>> {
  const rows: { installationId: number; count: number }[] = await knex("runner_leases as l")
    .join("bisect_steps as s", "s.id", "l.bisectStepId")
    .join("bisect_jobs as j", "j.id", "s.bisectJobId")
    .whereRaw("l.released_at is null and l.expires_at > now()")
    .whereNotNull("j.installationId")
    .groupBy("j.installationId")
    .select("j.installationId", knex.raw("count(*)::int as count"));
  return new Map(rows.map((r) => [r.installationId, r.count]));
}

/** Installations with a run waiting for a slot (a queued step of a job still going), with their plan's cap. */
async function waitingInstallations(knex: Knex): Promise<{ id: number; maxHeld: number }[]> {
  return knex("bisect_steps as s")
    .join("bisect_jobs as j", "j.id", "s.bisectJobId")
    .join("installations as i", "i.id", "j.installationId")
    .join("rate_limits as r", "r.tier", "i.tier")
    .where("s.status", "queued")
    .whereIn("j.status", ["preparing", "running"])
    .distinct("i.id", "r.maxParallel as maxHeld");
}

/**
 * Whether an installation holding `mine` slots may take one more: never past its plan's
 * `maxHeld`, and not when the free slots are all wanted by waiting installations that hold
 * fewer (so one tenant cannot keep every slot of a full farm). Pure: the counts come from the
 * caller's locked transaction.
 */
export function fairShareAllows(input: {
  installationId: number;
  mine: number;
  maxHeld?: number;
  free: number;
  held: ReadonlyMap<number, number>;
  waiting: readonly { id: number; maxHeld: number }[];
}): boolean {
  if (input.maxHeld !== undefined && input.mine >= input.maxHeld) return false;
  const hungrier = input.waiting.filter((w) => {
    const theirs = input.held.get(w.id) ?? 0;
    return w.id !== input.installationId && theirs < input.mine && theirs < w.maxHeld;
  });
  return input.free > hungrier.length;
}

/**
 * A step holds at most one slot. Under the hosts' lock: a slot for a queued step (QUEUED_HOLDER) is
 * not taken when the step already holds one, and a worker taking a slot itself gives back the one
 * leased for the step when it was queued (the two may cross when a slot is handed over).
 */
async function oneLeasePerStep(trx: Knex.Transaction, request: LeaseRequest): Promise<boolean> {
  const open = () => trx("runner_leases").where({ bisectStepId: request.stepId }).whereRaw(OPEN);
  if (request.holder === QUEUED_HOLDER) return !(await open().first("id"));
  await open().where({ holder: QUEUED_HOLDER }).update({ releasedAt: trx.fn.now() });
  return true;
}

/** A lease on a free slot of an active host, or null when every slot is taken. */
export async function acquireLease(knex: Knex, request: LeaseRequest): Promise<Lease | null> {
  return knex.transaction(async (trx) => {
    const hosts = await RunnerHost.query(trx).modify("active").orderBy("id").forUpdate();
    if (hosts.length === 0) return null;
    if (request.stepId != null && !(await oneLeasePerStep(trx, request))) return null;
    const open = await openLeaseCounts(trx);
    if (request.installationId != null) {
      const held = await heldByInstallation(trx);
      const free = hosts.reduce(
        (sum, h) => sum + Math.max(0, h.capacity - (open.get(h.id) ?? 0)),
        0,
      );
      const allowed = fairShareAllows({
        installationId: request.installationId,
        mine: held.get(request.installationId) ?? 0,
        maxHeld: request.maxHeld,
        free,
        held,
        waiting: await waitingInstallations(trx),
      });
      if (!allowed) return null;
    }
    const hostId = chooseHost(hosts, open, request.prefer, request.avoid);
    if (hostId === null) return null;
    const lease = await RunnerLease.query(trx)
      .insert({
        runnerHostId: hostId,
        bisectStepId: request.stepId ?? null,
        holder: request.holder,
        expiresAt: trx.raw("now() + make_interval(secs => ?)", [
          request.ttlSeconds,
        ]) as unknown as Date,
      })
      .returning("*");
    return { lease, host: hosts.find((h) => h.id === hostId)! };
  });
}

/** Extends a lease; false when it was released or already expired (its slot may be reused). */
export async function renewLease(
  knex: Knex,
  leaseId: number,
  ttlSeconds: number,
): Promise<boolean> {
  const updated = await knex("runner_leases")
    .where({ id: leaseId })
    .whereRaw(OPEN)
    .update({ expiresAt: knex.raw("now() + make_interval(secs => ?)", [ttlSeconds]) });
  return updated === 1;
}

export async function releaseLease(knex: Knex, leaseId: number): Promise<void> {
  await knex("runner_leases")
    .where({ id: leaseId })
    .whereNull("releasedAt")
    .update({ releasedAt: knex.fn.now() });
}

/** Marks expired leases released; returns how many. */
export async function releaseExpiredLeases(knex: Knex): Promise<number> {
  return knex("runner_leases")
    .whereNull("releasedAt")
    .where("expiresAt", "<=", knex.fn.now())
    .update({ releasedAt: knex.raw("expires_at") });
}

/**
 * The lease taken for the step when it was queued, now held by `holder` (its expiry renewed); null
 * when there is none (queued without a free slot, or it expired while the step waited for a worker).
 */
export async function claimQueuedLease(
  knex: Knex,
  stepId: number,
  holder: string,
  ttlSeconds: number,
): Promise<Lease | null> {
  const [lease] = await RunnerLease.query(knex)
    .patch({
      holder,
      expiresAt: knex.raw("now() + make_interval(secs => ?)", [ttlSeconds]) as unknown as Date,
    })
    .where({ bisectStepId: stepId, holder: QUEUED_HOLDER })
    .whereRaw(OPEN)
    .returning("*");
  if (!lease) return null;
  const host = await RunnerHost.query(knex).findById(lease.runnerHostId);
  return host ? { lease, host } : null;
}

/** Who the run counts against for fair sharing: its installation and the plan's slot cap. */
export async function slotShareOf(
  knex: Knex,
  job: BisectJob,
): Promise<{ installationId?: number; maxHeld?: number }> {
  if (!job.installationId) return {};
  const row = await knex("installations as i")
    .join("rate_limits as r", "r.tier", "i.tier")
    .where("i.id", job.installationId)
    .first("r.maxParallel");
  return { installationId: job.installationId, maxHeld: row?.maxParallel };
}
