// What the web process puts in front of the app: request logs, abuse limits, /metrics.
import { BlockList, isIPv6 } from "node:net";
import { createHash, timingSafeEqual } from "node:crypto";
import type express from "express";
import { ipKeyGenerator, rateLimit } from "express-rate-limit";
import type { Knex } from "knex";
import type { Config } from "../config/env";
import type { Logger } from "../config/log";
import { createWebMetrics } from "./metrics";
import { PostgresStore, refusalLimit } from "./shared-rate-limit";

/** One line per request: method, path (never the query: OAuth codes travel there), status, time. */
export function requestLog(log: Logger): express.RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    // originalUrl: mounted middleware rewrites req.path; the query is dropped.
    const path = req.originalUrl.split("?")[0]!;
    res.on("finish", () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const quiet = path === "/health" || path.startsWith("/build/");
      (quiet ? log.debug : log.info)("request", {
        method: req.method,
        path,
        status: res.statusCode,
        ms: Math.round(ms * 10) / 10,
        ip: req.ip,
      });
    });
    next();
  };
}

export function blockListOf(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, bits] = cidr.split("/");
    list.addSubnet(address!, Number(bits), isIPv6(address!) ? "ipv6" : "ipv4");
  }
  return list;
}

/**
 * Express derives `req.ip` anew on every read (walking X-Forwarded-For through the trusted
 * proxies); the logs, limits and the route all read it: work it out once per request.
 */
export const settleClientIp: express.RequestHandler = (req, _res, next) => {
  Object.defineProperty(req, "ip", { value: req.ip, enumerable: true });
  next();
};

export function inList(list: BlockList, ip: string | undefined): boolean {
  if (!ip) return false;
  const plain = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
  return list.check(plain, isIPv6(plain) ? "ipv6" : "ipv4");
}

const PRIVATE = blockListOf([
  "127.0.0.0/8",
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "::1/128",
  "fc00::/7",
]);

/** Equal strings, compared in constant time (over their SHA-256, so lengths leak nothing either). */
export function safeEqual(a: string, b: string): boolean {
  const digest = (v: string) => createHash("sha256").update(v).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Per-client limits (429 with Retry-After): sign-in, the JSON API, and webhooks. Each client has
 * its own budget, so no one's traffic uses up anyone else's; GitHub's delivery addresses are never
 * limited at all. With `db`, the counts are shared by every web process (server/shared-rate-limit.ts);
 * without, each process counts alone (tests of one process).
 */
export function abuseLimits(
  config: Config,
  db?: () => Knex,
): {
  auth: express.RequestHandler;
  api: express.RequestHandler;
  dashboard: express.RequestHandler;
  webhook: express.RequestHandler[];
  stop(): void;
} {
  const github = blockListOf(config.WEBHOOK_ALLOWED_CIDRS);
  // GitHub delivers from a few addresses: remember each one's answer (a bounded memo).
  const known = new Map<string, boolean>();
  const fromGitHub = (ip: string | undefined) => {
    if (!ip) return false;
    let answer = known.get(ip);
    if (answer === undefined) {
      if (known.size >= 10_000) known.clear();
      known.set(ip, (answer = inList(github, ip)));
    }
    return answer;
  };
  const windowMs = 60_000;
  const common = (name: string) => ({
    windowMs,
    standardHeaders: "draft-7" as const,
    legacyHeaders: false,
    ...(db ? { store: new PostgresStore(db, `${name}:`) } : {}),
  });
  const tooMany = (what: string) => ({
    error: "rate_limited",
    message: `Too many ${what}; try again after the time in Retry-After.`,
  });
  // GitHub's addresses are exempt from the webhook limit, but anyone can point a webhook of their
  // own at us from there: refused deliveries (bad signature, malformed) count against every
  // sender, GitHub's addresses included. Answered deliveries are never written down.
  let refused: express.RequestHandler & { stop?: () => void };
  if (db) {
    refused = refusalLimit({
      db,
      prefix: "webhook-refused:",
      limit: config.RATE_LIMIT_WEBHOOK_PER_MINUTE,
      windowMs,
      message: tooMany("refused deliveries"),
    });
  } else {
    refused = rateLimit({
      ...common("webhook-refused"),
      limit: config.RATE_LIMIT_WEBHOOK_PER_MINUTE,
      skipSuccessfulRequests: true,
      message: tooMany("refused deliveries"),
    });
  }
  return {
    auth: rateLimit({
      ...common("auth"),
      limit: config.RATE_LIMIT_AUTH_PER_MINUTE,
      message: tooMany("sign-in requests"),
    }),
    // Keyed by the client's address: a cookie is the client's to choose, so keying by it would
    // hand each request a fresh budget.
    api: rateLimit({
      ...common("api"),
      limit: config.RATE_LIMIT_API_PER_MINUTE,
      keyGenerator: (req) => `ip:${ipKeyGenerator(req.ip ?? "")}`,
      message: tooMany("requests"),
    }),
    // The dashboard's pages and their data requests: its own budget of the same size.
    dashboard: rateLimit({
      ...common("dashboard"),
      limit: config.RATE_LIMIT_API_PER_MINUTE,
      keyGenerator: (req) => `ip:${ipKeyGenerator(req.ip ?? "")}`,
      message: tooMany("requests"),
    }),
    webhook: [
      rateLimit({
        ...common("webhook"),
        limit: config.RATE_LIMIT_WEBHOOK_PER_MINUTE,
        skip: (req) => fromGitHub(req.ip),
        message: tooMany("deliveries"),
      }),
      refused,
    ],
    stop: () => refused.stop?.(),
  };
}

/** GET /metrics: with METRICS_TOKEN, a bearer token; without, only loopback and private networks. */
export function metricsEndpoint(
  config: Config,
  knex: Knex,
): { handler: express.RequestHandler; observeWebhook: express.RequestHandler } {
  const metrics = createWebMetrics(knex);
  const handler: express.RequestHandler = async (req, res) => {
    const allowed = config.METRICS_TOKEN
      ? safeEqual(req.headers.authorization ?? "", `Bearer ${config.METRICS_TOKEN}`)
      : inList(PRIVATE, req.ip);
    if (!allowed) {
      res.status(404).type("text/plain").send("Not Found");
      return;
    }
    try {
      res.type(metrics.registry.contentType).send(await metrics.render());
    } catch (error) {
      res
        .status(503)
        .type("text/plain")
        .send(`metrics unavailable: ${(error as Error).message}`);
    }
  };
  const observeWebhook: express.RequestHandler = (_req, res, next) => {
    const end = metrics.webhookDuration.startTimer();
    res.on("finish", () => end({ status: String(res.statusCode) }));
    next();
  };
  return { handler, observeWebhook };
}
