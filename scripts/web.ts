// The web process: static assets and the Remix request handler on PORT.
import { statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createRequestHandler } from "@remix-run/express";
import type { ServerBuild } from "@remix-run/node";
import express from "express";
import { ConfigError, loadConfig } from "../config/env";

const BUILD = path.resolve("build/index.js");

async function importBuild(): Promise<ServerBuild> {
  // A changing query string re-imports a rebuilt bundle in development.
  const version = statSync(BUILD).mtimeMs;
  return (await import(`${pathToFileURL(BUILD).href}?v=${version}`)) as ServerBuild;
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  }
  const development = config.NODE_ENV === "development";
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", "loopback, uniquelocal");
  app.use("/build", express.static("public/build", { immutable: true, maxAge: "1y" }));
  app.use(express.static("public", { maxAge: "1h", index: false }));

  let build = await importBuild();
  let builtAt = statSync(BUILD).mtimeMs;
  app.all(
    "*",
    development
      ? async (req, res, next) => {
          const mtime = statSync(BUILD).mtimeMs;
          if (mtime !== builtAt) {
            build = await importBuild();
            builtAt = mtime;
          }
          return createRequestHandler({ build, mode: "development" })(req, res, next);
        }
      : createRequestHandler({ build, mode: config.NODE_ENV }),
  );

  const server = app.listen(config.PORT, config.HOST, () => {
    console.log(JSON.stringify({ level: "info", component: "web", message: `listening on http://${config.HOST}:${config.PORT}` }));
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
