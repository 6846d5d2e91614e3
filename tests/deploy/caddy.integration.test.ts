// The production Caddyfile, run by Debian's caddy in front of the real web server (server/web.ts,
// production mode, GitHub configured) on loopback: routes, security headers, compression, body
// limits, access logs.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../db/embedded";
import { startWebServer, type WebServer } from "../e2e/support";
import { makeAppKey } from "../github-stand-in/server";
import { useTestDatabase } from "../helpers/database";
import { onFreePort } from "../helpers/ports";
import {
  commandExists,
  header,
  rawRequest,
  requireTool,
  run,
  waitForHttp,
  type RawResponse,
} from "./support";

const haveCaddy = requireTool(
  commandExists("caddy", ["version"]),
  "caddy",
  "apt-get install caddy",
);

const MiB = 1024 * 1024;

describe.skipIf(!haveCaddy)("Caddyfile in front of the web server", () => {
  const db = useTestDatabase();
  let web: WebServer;
  let caddy: ChildProcess;
  let caddyHome: string;
  let caddyOut = "";
  let caddyErr = "";
  let url: string;

  beforeAll(async () => {
    const caddyPort = await freePort();
    url = `http://127.0.0.1:${caddyPort}`;
    let webPort = 0;
    web = await onFreePort((port) => {
      webPort = port;
      return startWebServer(
        {
          NODE_ENV: "production",
          DATABASE_URL: db.current.url,
          PUBLIC_URL: url,
          SESSION_SECRET: randomBytes(32).toString("hex"),
          ENCRYPTION_KEY: randomBytes(32).toString("base64"),
          GITHUB_APP_ID: "4242",
          GITHUB_APP_SLUG: "bisect-bot-deploy-test",
          GITHUB_APP_PRIVATE_KEY: makeAppKey(),
          GITHUB_WEBHOOK_SECRET: randomBytes(24).toString("hex"),
          GITHUB_CLIENT_ID: "Iv1.deploytest",
          GITHUB_CLIENT_SECRET: randomBytes(20).toString("hex"),
          // Never contacted here; loopback all the same.
          GITHUB_API_URL: "http://127.0.0.1:9/api/v3",
          GITHUB_URL: "http://127.0.0.1:9",
        },
        port,
      );
    });
    caddyHome = mkdtempSync(path.join(tmpdir(), "bisect-caddy-"));
    caddy = await startCaddy(caddyPort, webPort);
    // A live worker, as far as /health can tell.
    await db.current.knex("worker_heartbeats").insert({
      workerId: "deploy-test-worker",
      hostname: "deploy-test",
      pid: 1,
      lastBeatAt: db.current.knex.fn.now(),
    });
    // And a runner host that answered its last probe (/health reads this; it contacts no engine).
    await db.current.knex("runner_hosts").insert({
      name: "deploy-test-runner",
      dockerEndpoint: "tcp://runner.invalid:2376",
      capacity: 1,
      state: "active",
      lastSeenAt: db.current.knex.fn.now(),
    });
  });

  /** Caddy with the production Caddyfile on `port`, in front of `upstreamPort`. */
  async function startCaddy(port: number, upstreamPort: number): Promise<ChildProcess> {
    const caddyEnv: Record<string, string | undefined> = {
      PATH: process.env.PATH,
      HOME: caddyHome,
      XDG_DATA_HOME: caddyHome,
      XDG_CONFIG_HOME: caddyHome,
      DOMAIN: `http://127.0.0.1:${port}`,
      UPSTREAM: `127.0.0.1:${upstreamPort}`,
      CADDY_GLOBAL_OPTIONS: "auto_https off\nadmin off",
    };
    const child = spawn("caddy", ["run", "--config", "Caddyfile", "--adapter", "caddyfile"], {
      env: caddyEnv as NodeJS.ProcessEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (d) => (caddyOut += d));
    child.stderr!.on("data", (d) => (caddyErr += d));
    await waitForHttp(`http://127.0.0.1:${port}/favicon.svg`, child, () => caddyErr);
    return child;
  }

  async function stopCaddy(child: ChildProcess | undefined): Promise<void> {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }

  /** A live worker and a runner host that answered its last probe, as /health reads them now. */
  async function freshHeartbeats(): Promise<void> {
    const { knex } = db.current;
    await knex("worker_heartbeats")
      .insert({
        workerId: "deploy-test-worker",
        hostname: "deploy-test",
        pid: 1,
        lastBeatAt: knex.fn.now(),
      })
      .onConflict("workerId")
      .merge(["lastBeatAt"]);
    await knex("runner_hosts")
      .where({ name: "deploy-test-runner" })
      .update({ lastSeenAt: knex.fn.now() });
  }

  afterAll(async () => {
    await stopCaddy(caddy);
    await web?.stop();
    if (caddyHome) rmSync(caddyHome, { recursive: true, force: true });
  });

  const auditRowsFor = (deliveryId: string) =>
    db.current.knex("audit_log").where({ subjectId: deliveryId });

  function expectSecurityHeaders(res: RawResponse) {
    expect(res.headers["strict-transport-security"]).toEqual([
      "max-age=31536000; includeSubDomains",
    ]);
    expect(res.headers["x-content-type-options"]).toEqual(["nosniff"]);
    expect(res.headers["x-frame-options"]).toEqual(["DENY"]);
    expect(res.headers["referrer-policy"]).toEqual(["same-origin"]);
    expect(res.headers["server"]).toBeUndefined();
    expect(res.headers["x-powered-by"]).toBeUndefined();
  }

  it("/health reaches the app's health route (JSON, never cached)", async () => {
    await freshHeartbeats();
    const res = await rawRequest(`${url}/health`);
    expect(res.status).toBe(200);
    expect(header(res, "content-type")).toMatch(/^application\/json/);
    expect(header(res, "cache-control")).toBe("no-store");
    expect(JSON.parse(res.body.toString())).toMatchObject({
      database: "ok",
      worker: "ok",
      docker_available: true,
    });
    expectSecurityHeaders(res);
  });

  it("/ is the app's page, with the app's own nonce-based CSP and no second one", async () => {
    const res = await rawRequest(`${url}/`);
    expect(res.status).toBe(200);
    expect(header(res, "content-type")).toMatch(/^text\/html/);
    expect(res.body.toString()).toMatch(/^<!DOCTYPE html>/i);
    const csp = res.headers["content-security-policy"];
    expect(csp).toHaveLength(1);
    expect(csp![0]).toMatch(/default-src 'self'/);
    expect(csp![0]).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+'/);
    // The nonce in the header is the one on the page's inline scripts.
    const nonce = /'nonce-([^']+)'/.exec(csp![0]!)![1];
    expect(res.body.toString()).toContain(`nonce="${nonce}"`);
    expectSecurityHeaders(res);
  });

  it("/webhook: an unsigned delivery reaches the webhook route and is refused with 401", async () => {
    const deliveryId = randomUUID();
    const res = await rawRequest(`${url}/webhook`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "issue_comment",
        "x-github-delivery": deliveryId,
      },
      body: JSON.stringify({ action: "created" }),
    });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body.toString())).toEqual({ error: "missing X-Hub-Signature-256" });
    expectSecurityHeaders(res);
    const audit = await auditRowsFor(deliveryId);
    expect(audit).toEqual([
      expect.objectContaining({ action: "webhook.signature_missing", ip: "127.0.0.1" }),
    ]);

    const get = await rawRequest(`${url}/webhook`);
    expect(get.status).toBe(405);
    expect(header(get, "allow")).toBe("POST");
  });

  it("forwards the client's own address: a forged X-Forwarded-For is not believed", async () => {
    // The app trusts proxies on loopback and private networks (Caddy's container); Caddy must
    // not pass on what a client claims, or anyone could pose as a private address (e.g. for /metrics).
    for (const forged of ["203.0.113.9", "10.1.2.3"]) {
      const deliveryId = randomUUID();
      const res = await rawRequest(`${url}/webhook`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "issue_comment",
          "x-github-delivery": deliveryId,
          "x-forwarded-for": forged,
          "x-real-ip": forged,
        },
        body: "{}",
      });
      expect(res.status).toBe(401);
      expect(await auditRowsFor(deliveryId)).toEqual([
        expect.objectContaining({ ip: "127.0.0.1" }),
      ]);
    }
  });

  it("compresses when the client asks (gzip, zstd) and only then", async () => {
    const gzip = await rawRequest(`${url}/`, { headers: { "accept-encoding": "gzip" } });
    expect(gzip.status).toBe(200);
    expect(header(gzip, "content-encoding")).toBe("gzip");
    expect(header(gzip, "vary")).toMatch(/Accept-Encoding/i);
    expect(gunzipSync(gzip.body).toString()).toMatch(/^<!DOCTYPE html>/i);

    const zstd = await rawRequest(`${url}/`, { headers: { "accept-encoding": "zstd" } });
    expect(header(zstd, "content-encoding")).toBe("zstd");

    const plain = await rawRequest(`${url}/`);
    expect(header(plain, "content-encoding")).toBeUndefined();
    expect(plain.body.toString()).toMatch(/^<!DOCTYPE html>/i);
  });

  it("refuses a webhook body over 25 MB with 413 itself: the app never sees it", async () => {
    const deliveryId = randomUUID();
    const declared = await rawRequest(`${url}/webhook`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "content-length": 25 * MiB + 1,
        // As curl does for big bodies: the body follows only if the server wants it.
        expect: "100-continue",
        "x-github-event": "issue_comment",
        "x-github-delivery": deliveryId,
      },
      stream: { bytes: 25 * MiB + 1 },
    });
    expect(declared.status).toBe(413);
    expect(declared.body.toString()).toBe("413 Request Entity Too Large");
    expect(header(declared, "content-security-policy")).toBe(
      "default-src 'none'; frame-ancestors 'none'",
    );
    expectSecurityHeaders(declared);
    expect(await auditRowsFor(deliveryId)).toEqual([]);

    // No Content-Length (chunked): cut off at the cap, still 413.
    // The upload may be reset before its 413 is read (the server stops reading): try again then.
    const chunked = await retryOnReset(() =>
      rawRequest(`${url}/webhook`, {
        method: "POST",
        headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
        stream: { bytes: 27 * MiB },
      }),
    );
    expect(chunked.status).toBe(413);
  });

  it("lets a large delivery under the cap through to the app", async () => {
    const deliveryId = randomUUID();
    const res = await rawRequest(`${url}/webhook`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "issue_comment",
        "x-github-delivery": deliveryId,
      },
      body: Buffer.alloc(20 * MiB, 0x20),
    });
    expect(res.status).toBe(401);
    expect(await auditRowsFor(deliveryId)).toHaveLength(1);
  });

  it("keeps other request bodies small (2 MB)", async () => {
    // The upload may be reset before its 413 is read (Caddy stops reading): try again then.
    const res = await retryOnReset(() =>
      rawRequest(`${url}/logout`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          "content-length": 3_000_000,
          expect: "100-continue",
        },
        stream: { bytes: 3_000_000 },
      }),
    );
    expect(res.status).toBe(413);
  });

  it("writes JSON access logs, with credentials redacted", async () => {
    await rawRequest(`${url}/favicon.svg?from=log-test`, {
      headers: {
        cookie: "__session=very-secret-cookie",
        authorization: "Bearer very-secret-token",
      },
    });
    await expect.poll(() => caddyOut.includes("from=log-test"), { timeout: 5_000 }).toBe(true);
    const lines = caddyOut.split("\n").filter(Boolean);
    expect(lines.length).toBeGreaterThan(1);
    const entries = lines.map(
      (line) =>
        JSON.parse(line) as {
          msg: string;
          status: number;
          request: { uri: string; method: string };
        },
    );
    expect(entries.every((e) => e.msg === "handled request")).toBe(true);
    expect(entries).toContainEqual(
      expect.objectContaining({
        status: 200,
        request: expect.objectContaining({ uri: "/favicon.svg?from=log-test", method: "GET" }),
      }),
    );
    expect(caddyOut).not.toContain("very-secret");
  });

  it("adapts for production: HTTPS on the domain, upstream web:3000", async () => {
    const adapted = await run(
      "caddy",
      ["adapt", "--config", "Caddyfile", "--adapter", "caddyfile"],
      {
        env: { PATH: process.env.PATH, HOME: caddyHome, DOMAIN: "bisect.example.com" },
      },
    );
    expect(adapted.code, adapted.stderr).toBe(0);
    const config = JSON.parse(adapted.stdout);
    const server = Object.values(
      config.apps.http.servers as Record<string, { listen: string[] }>,
    )[0]!;
    expect(server.listen).toEqual([":443"]);
    expect(adapted.stdout).toContain('"dial":"web:3000"');
    expect(adapted.stdout).toContain('"host":["bisect.example.com"]');
    expect(config.apps.http.servers.srv0.automatic_https).toBeUndefined();
  });

  it("answers for a missing app itself: 502 with a CSP that allows nothing", async () => {
    // A Caddy of its own, in front of a port nothing listens on.
    const port = await freePort();
    const alone = await startCaddy(port, await freePort());
    const res = await rawRequest(`http://127.0.0.1:${port}/`).finally(() => stopCaddy(alone));
    expect(res.status).toBe(502);
    expect(header(res, "content-security-policy")).toBe(
      "default-src 'none'; frame-ancestors 'none'",
    );
    expectSecurityHeaders(res);
    expect(res.body.toString()).toBe("502 Bad Gateway");
  });
});

async function retryOnReset<T>(attempt: () => Promise<T>, times = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (i >= times || (code !== "ECONNRESET" && code !== "EPIPE")) throw error;
    }
  }
}
