// Rate limits that hold across web processes: the counts live in PostgreSQL (db/rate-limit-hits.ts).
import type express from "express";
import {
  ipKeyGenerator,
  type IncrementResponse,
  type Options,
  type Store,
} from "express-rate-limit";
import type { Knex } from "knex";
import {
  countHit,
  hitsOf,
  keysAtLimit,
  pruneHits,
  resetHits,
  uncountHit,
} from "../db/rate-limit-hits";

/** express-rate-limit's store over rate_limit_hits: one statement per counted request. */
export class PostgresStore implements Store {
  private windowMs = 60_000;
  private lastPrune = 0;
  readonly localKeys = false;

  constructor(
    private readonly db: () => Knex,
    readonly prefix: string,
  ) {}

  init(options: Options): void {
    this.windowMs = options.windowMs;
  }

  async get(key: string) {
    const hits = await hitsOf(this.db(), this.prefix + key);
    return hits && { totalHits: hits.hits, resetTime: new Date(Date.now() + hits.msLeft) };
  }

  async increment(key: string): Promise<IncrementResponse> {
    this.pruneNowAndThen();
    const { hits, msLeft } = await countHit(this.db(), this.prefix + key, this.windowMs);
    return { totalHits: hits, resetTime: new Date(Date.now() + msLeft) };
  }

  async decrement(key: string): Promise<void> {
    await uncountHit(this.db(), this.prefix + key);
  }

  async resetKey(key: string): Promise<void> {
    await resetHits(this.db(), this.prefix + key);
  }

  /** Ended windows go once a window, by whichever process counts first. */
  private pruneNowAndThen(): void {
    const now = Date.now();
    if (now - this.lastPrune < this.windowMs) return;
    this.lastPrune = now;
    void pruneHits(this.db()).catch(() => {});
  }
}

export interface RefusalLimit extends express.RequestHandler {
  /** Stops reading the other processes' counts. */
  stop(): void;
}

/**
 * At most `limit` refused requests (status 400 and above) per client and window; past it, every
 * request of that client gets 429 until the window ends. Only refusals are written, so answered
 * requests cost no statement: each process keeps the clients at their limit in memory, from its
 * own counts at once and from everyone's every `refreshMs`.
 */
export function refusalLimit(options: {
  db: () => Knex;
  prefix: string;
  limit: number;
  windowMs: number;
  refreshMs?: number;
  message: unknown;
}): RefusalLimit {
  const { db, prefix, limit, windowMs, message } = options;
  /** Client key → local time its window ends. */
  let blocked = new Map<string, number>();
  const block = (key: string, msLeft: number) => blocked.set(key, Date.now() + msLeft);
  let reading = false;
  const refresh = async () => {
    if (reading) return;
    reading = true;
    try {
      const rows = await keysAtLimit(db(), prefix, limit);
      // Windows end by themselves: entries only leave when their time is up.
      const now = Date.now();
      const next = new Map([...blocked].filter(([, until]) => until > now));
      for (const r of rows) next.set(r.key.slice(prefix.length), now + r.msLeft);
      blocked = next;
    } catch {
      // The database is away: keep what is known; the next read catches up.
    } finally {
      reading = false;
    }
  };
  const timer = setInterval(() => void refresh(), options.refreshMs ?? 1000);
  timer.unref();
  void refresh();

  /** Refusals of this process being counted: the client's next request waits for its count. */
  const counting = new Map<string, Promise<unknown>>();
  const check = (key: string, res: express.Response, next: express.NextFunction) => {
    const until = blocked.get(key);
    if (until !== undefined) {
      const left = until - Date.now();
      if (left > 0) {
        res.setHeader("Retry-After", String(Math.ceil(left / 1000)));
        res.status(429).json(message);
        return;
      }
      blocked.delete(key);
    }
    res.on("finish", () => {
      if (res.statusCode < 400 || res.statusCode === 429) return;
      const counted = countHit(db(), prefix + key, windowMs)
        .then(({ hits, msLeft }) => hits >= limit && block(key, msLeft))
        .catch(() => {})
        .finally(() => counting.get(key) === counted && counting.delete(key));
      counting.set(key, counted);
    });
    next();
  };
  const handler = ((req, res, next) => {
    const key = ipKeyGenerator(req.ip ?? "");
    const pending = counting.get(key);
    if (pending) void pending.then(() => check(key, res, next));
    else check(key, res, next);
  }) as RefusalLimit;
  handler.stop = () => clearInterval(timer);
  return handler;
}
