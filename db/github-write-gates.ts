// Each installation's GitHub write gate (github_write_gates), shared by every worker process: one
// write at a time, the next only once the previous one's end plus the interval has passed. Times
// are the database's, so worker hosts with different clocks agree.
import type { Knex } from "knex";

export interface GateAttempt {
  taken: boolean;
  /** Another write holds the gate now. */
  held: boolean;
  /** When not held: milliseconds until the gate opens. */
  opensInMs: number;
}

/** Takes the gate for `holder` until `leaseMs` from now, if it is open; else says why not. */
export async function takeWriteGate(
  knex: Knex,
  installationId: number,
  holder: string,
  leaseMs: number,
): Promise<GateAttempt> {
  const { rows } = await knex.raw<{ rows: GateAttempt[] }>(
    `with taken as (
       insert into github_write_gates as g (installation_id, holder, held_until, free_at)
         values (?, ?, now() + ? * interval '1 millisecond', now())
       on conflict (installation_id) do update
         set holder = excluded.holder, held_until = excluded.held_until
         where g.free_at <= now() and (g.holder is null or g.held_until <= now())
       returning 1
     )
     select exists (select from taken) as taken,
            coalesce(bool_or(holder is not null and held_until > now()), false) as held,
            coalesce(max(greatest(0, extract(epoch from free_at - now()) * 1000)), 0)::float8 as "opensInMs"
       from github_write_gates where installation_id = ?`,
    [installationId, holder, leaseMs, installationId],
  );
  return rows[0]!;
}

/** Gives the gate back: the next write may start `intervalMs` from now. */
export async function releaseWriteGate(
  knex: Knex,
  installationId: number,
  holder: string,
  intervalMs: number,
): Promise<void> {
  await knex.raw(
    `update github_write_gates
        set holder = null, held_until = null, free_at = now() + ? * interval '1 millisecond'
      where installation_id = ? and holder = ?`,
    [intervalMs, installationId, holder],
  );
}
