// The web process: static assets and the Remix request handler on PORT.
import cluster from "node:cluster";
import { randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createRequestHandler } from "@remix-run/express";
import type { ServerBuild } from "@remix-run/node";
import express, { type Request, type Response } from "express";
import type { Knex } from "knex";
import { ConfigError, loadConfig, webDatabaseUrl } from "../config/env";
import { createLogger } from "../config/log";
import { createKnex } from "../db/connection";
import { superviseWebProcesses } from "./cluster";
import { abuseLimits, metricsEndpoint, requestLog, settleClientIp } from "./guards";
import { buildWithRoute } from "./resource-route";

const BUILD = path.resolve("build/index.js");

async function importBuild(): Promise<ServerBuild> {
  // A changing query string re-imports a rebuilt bundle in development.
  const version = statSync(BUILD).mtimeMs;
  return (await import(`${pathToFileURL(BUILD).href}?v=${version}`)) as ServerBuild;
}

/**
 * Security headers on every response. The Content-Security-Policy allows only this origin, plus
 * inline scripts carrying this response's nonce (Remix's hydration data and module loader).
 */
function securityHeaders(production: boolean, githubOrigin: string): express.RequestHandler {
  return (req, res, next) => {
    const nonce = randomBytes(16).toString("base64");
    res.locals.cspNonce = nonce;
    res.setHeader(
      "Content-Security-Policy",
      [
        "default-src 'self'",
        `script-src 'self' 'nonce-${nonce}'`,
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        // GitHub: the start page's app registration posts its manifest there.
        `form-action 'self' ${githubOrigin}`,
        "frame-ancestors 'none'",
      ].join("; "),
    );
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Referrer-Policy", "same-origin");
    res.setHeader("X-Frame-Options", "DENY");
    res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
    res.setHeader("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
    if (production) res.setHeader("Strict-Transport-Security", "max-age=31536000");
    // Signed-in pages and their data are private: never stored by browsers or proxies.
    if (/^\/(dashboard|api|auth|login|logout)(\/|$)/.test(req.path))
      res.setHeader("Cache-Control", "private, no-store");
    next();
  };
}

/** The webhook answers JSON to GitHub: no page, so no nonce; nothing may frame or run it. */
const webhookHeaders: express.RequestHandler = (_req, res, next) => {
  res.setHeader("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Referrer-Policy", "same-origin");
  next();
};

/** What every loader and action gets besides the request (app/load-context.ts). */
function getLoadContext(req: Request, res: Response) {
  return { cspNonce: res.locals.cspNonce as string | undefined, clientIp: req.ip };
}

/** The Remix handler of every route, and one for the webhook route alone (server/resource-route.ts). */
function remixHandlers(build: ServerBuild, mode: string) {
  return {
    all: createRequestHandler({ build, mode, getLoadContext }),
    webhook: createRequestHandler({
      build: buildWithRoute(build, "routes/webhook"),
      mode,
      getLoadContext,
    }),
  };
}

let sharedKnex: Knex | null = null;
/** The connection the shared rate limits count on (small: one short statement at a time). */
function sharedDb(url: string): Knex {
  return (sharedKnex ??= createKnex(url, { poolMax: 2, applicationName: "bisect-bot-limits" }));
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env, undefined, { process: "web" });
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  }
  const log = createLogger("web", config.LOG_LEVEL);
  if (cluster.isPrimary && config.WEB_PROCESSES > 1) {
    superviseWebProcesses(config.WEB_PROCESSES, log);
    return;
  }
  const development = config.NODE_ENV === "development";
  const mode = development ? "development" : config.NODE_ENV;
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", "loopback, uniquelocal");
  app.use(settleClientIp);
  app.use(requestLog(log));
  const databaseUrl = webDatabaseUrl(config);
  const limits = abuseLimits(config, databaseUrl ? () => sharedDb(databaseUrl) : undefined);
  const metrics = databaseUrl
    ? metricsEndpoint(
        config,
        createKnex(databaseUrl, { poolMax: 2, applicationName: "bisect-bot-metrics" }),
      )
    : null;

  // The Remix handlers, made again when development rebuilds the app.
  let handlers = remixHandlers(await importBuild(), mode);
  let builtAt = statSync(BUILD).mtimeMs;
  const current = async () => {
    if (development) {
      const mtime = statSync(BUILD).mtimeMs;
      if (mtime !== builtAt) {
        handlers = remixHandlers(await importBuild(), mode);
        builtAt = mtime;
      }
    }
    return handlers;
  };

  // The webhook first: GitHub's deliveries pass no other middleware and Remix matches them
  // against the webhook route alone.
  if (metrics) app.use("/webhook", metrics.observeWebhook);
  app.use("/webhook", webhookHeaders, limits.webhook);
  app.all("/webhook", (req, res, next) =>
    development
      ? void current().then((h) => h.webhook(req, res, next), next)
      : handlers.webhook(req, res, next),
  );

  app.use(securityHeaders(config.NODE_ENV === "production", new URL(config.GITHUB_URL).origin));
  app.use("/auth", limits.auth);
  app.use("/login", limits.auth);
  app.use("/api", limits.api);
  app.use("/dashboard", limits.dashboard);
  if (metrics) app.get("/metrics", metrics.handler);
  app.use("/build", express.static("public/build", { immutable: true, maxAge: "1y" }));
  app.use(express.static("public", { maxAge: "1h", index: false }));
  app.all("*", (req, res, next) =>
    development
      ? void current().then((h) => h.all(req, res, next), next)
      : handlers.all(req, res, next),
  );

  const server = app.listen(config.PORT, config.HOST, () => {
    log.info(`listening on http://${config.HOST}:${config.PORT}`);
  });
  server.keepAliveTimeout = 65_000;
  const shutdown = () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 5_000).unref();
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
