// Request counts per limiter and client in fixed windows (rate_limit_hits), shared by every web
// process: one statement per count, the window kept on the database's clock so processes on
// several hosts agree.
import type { Knex } from "knex";

export interface Hits {
  hits: number;
  /** Milliseconds until the window ends, on the database's clock (hosts' clocks may differ). */
  msLeft: number;
}

const MS_LEFT = 'greatest(0, extract(epoch from reset_at - now()) * 1000)::float8 as "msLeft"';

/** Counts one hit for `key` (a new window when the last one ended) and returns the window's total. */
export async function countHit(knex: Knex, key: string, windowMs: number): Promise<Hits> {
  const { rows } = await knex.raw<{ rows: Hits[] }>(
    `insert into rate_limit_hits as h (key, hits, reset_at)
       values (?, 1, now() + ? * interval '1 millisecond')
     on conflict (key) do update set
       hits = case when h.reset_at <= now() then 1 else h.hits + 1 end,
       reset_at = case when h.reset_at <= now() then excluded.reset_at else h.reset_at end
     returning hits, ${MS_LEFT.replace(/reset_at/g, "h.reset_at")}`,
    [key, windowMs],
  );
  return rows[0]!;
}

/** Takes back one hit of the current window (a request that turned out not to count). */
export async function uncountHit(knex: Knex, key: string): Promise<void> {
  await knex.raw(
    "update rate_limit_hits set hits = greatest(0, hits - 1) where key = ? and reset_at > now()",
    [key],
  );
}

export async function hitsOf(knex: Knex, key: string): Promise<Hits | undefined> {
  const { rows } = await knex.raw<{ rows: Hits[] }>(
    `select hits, ${MS_LEFT} from rate_limit_hits where key = ? and reset_at > now()`,
    [key],
  );
  return rows[0];
}

export async function resetHits(knex: Knex, key: string): Promise<void> {
  await knex.raw("delete from rate_limit_hits where key = ?", [key]);
}

/** Keys under `prefix` whose current window has reached `limit` hits, with the time left. */
export async function keysAtLimit(
  knex: Knex,
  prefix: string,
  limit: number,
): Promise<{ key: string; msLeft: number }[]> {
  const { rows } = await knex.raw<{ rows: { key: string; msLeft: number }[] }>(
    `select key, ${MS_LEFT} from rate_limit_hits
      where key like ? || '%' and hits >= ? and reset_at > now()`,
    [prefix.replace(/[\\%_]/g, "\\$&"), limit],
  );
  return rows;
}

/** Removes windows that ended (any process may; rows of live windows are untouched). */
export async function pruneHits(knex: Knex): Promise<number> {
  const { rowCount } = await knex.raw<{ rowCount: number }>(
    "delete from rate_limit_hits where reset_at < now() - interval '1 minute'",
  );
  return rowCount;
}
