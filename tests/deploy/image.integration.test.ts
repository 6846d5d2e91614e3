// The app image (Dockerfile) on a real engine (DOCKER_HOST, host 1): the Node base image from
// scripts/build-node-base.sh, then the app image — nothing pulled. Then the image is run the way
// docker-compose.prod.yml runs it (read-only root, tmpfs /tmp, no capabilities, secrets as files)
// as web, migrate and worker against this run's test database, over the host network on loopback.
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../db/embedded";
import { useTestDatabase } from "../helpers/database";
import {
  commandExists,
  rawRequest,
  requireTool,
  run,
  waitForHttp,
  type RunResult,
} from "./support";

const BASE = "bisect-bot-node:20";
const IMAGE = "bisect-bot:deploy-test";
const MINUTES = 60_000;
/** The app image's user (Dockerfile). */
const IMAGE_UID = 10001;

const haveEngine = requireTool(
  commandExists("docker", ["version", "--format", "{{.Server.Version}}"]),
  "a Docker engine reachable by the docker CLI (DOCKER_HOST)",
  'bash ../shared/docker/engines.sh up 2 && eval "$(bash ../shared/docker/engines.sh env)"',
);

const docker = (args: string[], timeoutMs = 2 * MINUTES) => run("docker", args, { timeoutMs });

function ok(result: RunResult, what: string): RunResult {
  if (result.code !== 0)
    throw new Error(
      `${what} failed (${result.code}):\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`,
    );
  return result;
}

describe.skipIf(!haveEngine)("the app image", () => {
  const db = useTestDatabase();
  const suffix = randomBytes(4).toString("hex");
  const containers: string[] = [];
  const workerName = `bisect-deploy-worker-${suffix}`;
  let secrets: string;
  let socketPath: string | null = null;
  let tlsEndpoint: string | null = null;
  let runnerCerts: string | null = null;

  beforeAll(async () => {
    const started = Date.now();
    const caArgs = process.env.NODE_EXTRA_CA_CERTS
      ? ["--ca-certs", process.env.NODE_EXTRA_CA_CERTS]
      : [];
    ok(
      await run("bash", ["scripts/build-node-base.sh", "--tag", BASE, ...caArgs], {
        timeoutMs: 5 * MINUTES,
      }),
      "building the Node base image",
    );
    const baseSeconds = (Date.now() - started) / 1000;
    ok(
      await docker(["build", "--build-arg", `NODE_BASE=${BASE}`, "-t", IMAGE, "."], 14 * MINUTES),
      "building the app image",
    );
    const size = Number(
      ok(
        await docker(["image", "inspect", "--format", "{{.Size}}", IMAGE]),
        "inspect",
      ).stdout.trim(),
    );
    console.log(
      `deploy: node base ${baseSeconds.toFixed(1)} s, app image ${((Date.now() - started) / 1000 - baseSeconds).toFixed(1)} s, ${(size / 1e6).toFixed(0)} MB`,
    );

    // Secrets as files, as Compose mounts them; readable by the image's user (uid 10001).
    secrets = mkdtempSync(path.join(tmpdir(), "bisect-image-secrets-"));
    chmodSync(secrets, 0o755);
    const write = (name: string, value: string) =>
      writeFileSync(path.join(secrets, name), `${value}\n`, { mode: 0o644 });
    write("database_url", db.current.url);
    write("database_direct_url", "");
    write("session_secret", randomBytes(32).toString("hex"));
    write("encryption_key", randomBytes(32).toString("base64"));

    // The worker's runner engine: host 1's socket when DOCKER_HOST is one, else its TLS port with
    // the client certificate (owned by the image's user, who must read the key).
    const host = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
    const tlsHost = (process.env.BISECT_ENGINE_TLS_HOSTS ?? "").split(",").filter(Boolean)[0];
    const engineCerts = process.env.BISECT_ENGINE_CERTS;
    if (host.startsWith("unix://")) socketPath = host.slice("unix://".length);
    else if (tlsHost && engineCerts) {
      runnerCerts = mkdtempSync(path.join(tmpdir(), "bisect-image-runner-certs-"));
      chmodSync(runnerCerts, 0o755);
      for (const name of ["ca.pem", "cert.pem", "key.pem"]) {
        copyFileSync(path.join(engineCerts, name), path.join(runnerCerts, name));
        chmodSync(path.join(runnerCerts, name), 0o600);
        chownSync(path.join(runnerCerts, name), IMAGE_UID, IMAGE_UID);
      }
      tlsEndpoint = tlsHost;
    } else if (process.env.CI)
      throw new Error(
        "CI needs a runner engine for the worker: DOCKER_HOST as a unix socket, or BISECT_ENGINE_TLS_HOSTS and BISECT_ENGINE_CERTS",
      );
  }, 15 * MINUTES);

  afterAll(async () => {
    if (containers.length) await docker(["rm", "-f", ...containers]);
    if (secrets) rmSync(secrets, { recursive: true, force: true });
    if (runnerCerts) rmSync(runnerCerts, { recursive: true, force: true });
  });

  /** `docker run` flags of a production container (docker-compose.prod.yml's x-app). */
  const productionFlags = (port: number) => [
    "--network",
    "host",
    "--read-only",
    "--tmpfs",
    "/tmp:size=64m,mode=1777",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges:true",
    "--init",
    "-v",
    `${secrets}:/run/secrets:ro`,
    "-e",
    "NODE_ENV=production",
    "-e",
    `PORT=${port}`,
    "-e",
    "HOST=127.0.0.1",
    "-e",
    `PUBLIC_URL=http://127.0.0.1:${port}`,
    "-e",
    "LOG_LEVEL=info",
    "-e",
    "DATABASE_URL_FILE=/run/secrets/database_url",
    "-e",
    "DATABASE_DIRECT_URL_FILE=/run/secrets/database_direct_url",
    "-e",
    "SESSION_SECRET_FILE=/run/secrets/session_secret",
    "-e",
    "ENCRYPTION_KEY_FILE=/run/secrets/encryption_key",
  ];

  const inImage = (script: string) =>
    docker([
      "run",
      "--rm",
      "--read-only",
      "--tmpfs",
      "/tmp",
      "--entrypoint",
      "sh",
      IMAGE,
      "-c",
      script,
    ]);

  it("runs as a non-root user, Node 20.18+, production dependencies and the built app only", async () => {
    const facts = ok(
      await inImage(
        [
          "id -u",
          "node --version",
          "test -e node_modules/tsx && echo has:tsx",
          "test -e node_modules/@remix-run/dev || echo no:remix-dev",
          "test -e node_modules/vitest || echo no:vitest",
          "test -e node_modules/eslint || echo no:eslint",
          "test -f build/index.js && echo has:server-build",
          "ls public/build | grep -q . && echo has:client-build",
          "test -e tests || echo no:tests",
          "test -e .env || echo no:env-file",
          "test -e app || echo no:app-sources",
          "touch /app/written 2>/dev/null || echo no:write-app",
          "touch /tmp/written && echo has:write-tmp",
        ].join("; "),
      ),
      "inspecting the image",
    ).stdout.split("\n");
    expect(Number(facts[0])).toBeGreaterThan(0);
    const [major, minor] = facts[1]!.replace(/^v/, "").split(".").map(Number);
    expect(major).toBe(20);
    expect(minor).toBeGreaterThanOrEqual(18);
    expect(facts.slice(2).filter(Boolean)).toEqual([
      "has:tsx",
      "no:remix-dev",
      "no:vitest",
      "no:eslint",
      "has:server-build",
      "has:client-build",
      "no:tests",
      "no:env-file",
      "no:app-sources",
      "no:write-app",
      "has:write-tmp",
    ]);

    const smoke = ok(
      await docker([
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp",
        IMAGE,
        "node",
        "--import",
        "tsx",
        "-e",
        "import('./config/env.ts').then((m) => console.log(m.loadConfig({}).PORT))",
      ]),
      "importing the configuration under tsx",
    );
    expect(smoke.stdout.trim()).toBe("3000");
  });

  it("is configured for production: user, environment, web command, health check", async () => {
    const [config] = JSON.parse(
      ok(await docker(["image", "inspect", IMAGE]), "inspect").stdout,
    ) as {
      Config: {
        User: string;
        Env: string[];
        Cmd: string[];
        WorkingDir: string;
        Healthcheck?: { Test: string[] };
      };
    }[];
    expect(config!.Config.User).toBe("10001:10001");
    expect(config!.Config.Env).toEqual(
      expect.arrayContaining(["NODE_ENV=production", "HOST=0.0.0.0", "PORT=3000"]),
    );
    expect(config!.Config.Cmd).toEqual(["node", "--import", "tsx", "server/web.ts"]);
    expect(config!.Config.WorkingDir).toBe("/app");
    expect(config!.Config.Healthcheck?.Test).toEqual(["CMD", "node", "docker/healthcheck-web.mjs"]);
  });

  it("migrates as a one-shot container", { timeout: 3 * MINUTES }, async () => {
    const port = await freePort();
    const result = ok(
      await docker([
        "run",
        "--rm",
        ...productionFlags(port),
        IMAGE,
        "node",
        "--import",
        "tsx",
        "scripts/db.ts",
        "migrate",
      ]),
      "migrate",
    );
    expect(result.stdout).toContain("already up to date");
  });

  it("serves as the web process and reports healthy", { timeout: 3 * MINUTES }, async () => {
    const port = await freePort();
    const name = `bisect-deploy-web-${suffix}`;
    containers.push(name);
    ok(
      await docker([
        "run",
        "-d",
        "--name",
        name,
        ...productionFlags(port),
        "--health-interval",
        "2s",
        "--health-start-period",
        "1s",
        IMAGE,
      ]),
      "starting web",
    );
    const logs = async () => {
      const l = await docker(["logs", name]);
      return l.stdout + l.stderr;
    };
    let lastLogs = "";
    await waitForHttp(`http://127.0.0.1:${port}/health`, null, () => lastLogs, 60_000).catch(
      async (error) => {
        lastLogs = await logs();
        throw new Error(`${(error as Error).message}\n${lastLogs}`);
      },
    );
    const health = await rawRequest(`http://127.0.0.1:${port}/health`);
    expect(JSON.parse(health.body.toString())).toMatchObject({ database: "ok" });
    const home = await rawRequest(`http://127.0.0.1:${port}/`);
    expect(home.status).toBe(200);
    expect(home.body.toString()).toMatch(/^<!DOCTYPE html>/i);
    expect(home.headers["strict-transport-security"]).toEqual(["max-age=31536000"]);
    await expect
      .poll(
        async () =>
          (await docker(["inspect", "--format", "{{.State.Health.Status}}", name])).stdout.trim(),
        { timeout: 60_000, interval: 1_000 },
      )
      .toBe("healthy");
  });

  it(
    // One story: the worker starts, is healthy and reaches its engine, then stops on SIGTERM.
    "runs the worker: heartbeat health check, the runner engine through a read-only socket or over TLS; stops cleanly on SIGTERM",
    { timeout: 8 * MINUTES },
    async () => {
      const port = await freePort();
      const name = workerName;
      containers.push(name);
      const runnerFlags = socketPath
        ? [
            "-v",
            `${socketPath}:/var/run/docker.sock:ro`,
            "--group-add",
            String(statSync(socketPath).gid),
            "-e",
            "RUNNER_NAME=deploy-test-local",
          ]
        : tlsEndpoint && runnerCerts
          ? [
              "-v",
              `${runnerCerts}:/run/runner-certs:ro`,
              "-e",
              `RUNNER_DOCKER_HOST=${tlsEndpoint}`,
              "-e",
              "RUNNER_DOCKER_CERT_PATH=/run/runner-certs",
              "-e",
              "RUNNER_NAME=deploy-test-local",
            ]
          : [];
      ok(
        await docker([
          "run",
          "-d",
          "--name",
          name,
          ...productionFlags(port),
          ...runnerFlags,
          "--no-healthcheck",
          IMAGE,
          "node",
          "--import",
          "tsx",
          "jobs/worker.ts",
        ]),
        "starting the worker",
      );

      await expect
        .poll(
          async () =>
            (
              await docker([
                "exec",
                name,
                "node",
                "--import",
                "tsx",
                "scripts/healthcheck-worker.ts",
              ])
            ).code,
          { timeout: 90_000, interval: 2_000 },
        )
        .toBe(0);

      if (socketPath) {
        const ping = await docker([
          "exec",
          name,
          "node",
          "-e",
          "require('http').get({ socketPath: '/var/run/docker.sock', path: '/_ping' }, (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => console.log(b)); })",
        ]);
        expect(ping.stdout.trim(), ping.stderr).toBe("OK");
        await expect
          .poll(
            async () =>
              (await db.current.knex("runner_hosts").where({ name: "deploy-test-local" }).first())
                ?.dockerEndpoint,
            { timeout: 30_000 },
          )
          .toBe("unix:///var/run/docker.sock");
      } else if (tlsEndpoint) {
        // Over TLS the worker registers the engine and records it as reachable once it answers.
        await expect
          .poll(
            async () => {
              const row = await db.current
                .knex("runner_hosts")
                .where({ name: "deploy-test-local" })
                .first();
              return row ? { endpoint: row.dockerEndpoint, tlsPath: row.tlsPath } : null;
            },
            { timeout: 30_000 },
          )
          .toEqual({ endpoint: tlsEndpoint, tlsPath: "/run/runner-certs" });
      }

      // Well within the grace period, and a graceful stop forgets the worker's heartbeat.
      const running = await docker(["inspect", "--format", "{{.State.Running}}", name]);
      expect(running.stdout.trim()).toBe("true");
      expect(await db.current.knex("worker_heartbeats").select("workerId")).not.toEqual([]);
      const stopping = Date.now();
      ok(await docker(["stop", "--time", "60", name]), "stopping the worker");
      const stopSeconds = (Date.now() - stopping) / 1000;
      const state = JSON.parse(
        ok(await docker(["inspect", "--format", "{{json .State}}", name]), "inspect").stdout,
      ) as { ExitCode: number; OOMKilled: boolean };
      const logs = await docker(["logs", name]);
      expect(state.ExitCode, logs.stdout + logs.stderr).toBe(0);
      expect(stopSeconds).toBeLessThan(30);
      expect(logs.stdout + logs.stderr).toContain("SIGTERM: stopping gracefully");
      // A graceful stop forgets the worker's heartbeat.
      expect(await db.current.knex("worker_heartbeats").select("workerId")).toEqual([]);
    },
  );
});
