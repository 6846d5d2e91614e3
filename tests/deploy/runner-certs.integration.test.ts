// scripts/make-runner-certs.sh: a CA, a server certificate per runner host with the right names,
// one client certificate for the workers — checked with `openssl verify` and by a real mutual-TLS
// handshake between the product's Docker client (runner/docker/connect.ts) and a real
// `dockerd --tlsverify` holding the runner host's certificate, on loopback.
import { spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDocker, pingEngine } from "../../runner/docker/connect";
import { onFreePort } from "../helpers/ports";
import { commandExists, requireTool, run } from "./support";

const SCRIPT = path.resolve("scripts/make-runner-certs.sh");
const haveTools =
  requireTool(commandExists("openssl", ["version"]), "openssl", "apt-get install openssl") &&
  requireTool(
    commandExists("dockerd", ["--version"]) && process.getuid?.() === 0,
    "dockerd, run as root (a runner host's engine)",
    "apt-get install docker.io, and run the tests as root",
  );

describe.skipIf(!haveTools)("make-runner-certs.sh", () => {
  let dir: string;
  let out: string;
  let printed: string;

  const makeCerts = (target: string, ...args: string[]) =>
    run("bash", [SCRIPT, "--out", target, ...args], { timeoutMs: 60_000 });
  const openssl = (...args: string[]) => run("openssl", args);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "bisect-runner-certs-"));
    out = path.join(dir, "pki");
    const result = await makeCerts(
      out,
      "--name",
      "runner-1",
      "--ip",
      "127.0.0.1",
      "--ip",
      "203.0.113.10",
      "--dns",
      "runner-1.example.com",
    );
    expect(result.code, result.stderr).toBe(0);
    printed = result.stdout;
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("makes a CA, the runner host's server certificate and a client certificate that openssl verifies", async () => {
    const verify = await openssl(
      "verify",
      "-CAfile",
      path.join(out, "ca.pem"),
      path.join(out, "hosts/runner-1/server-cert.pem"),
      path.join(out, "client/cert.pem"),
    );
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toContain("server-cert.pem: OK");
    expect(verify.stdout).toContain("cert.pem: OK");

    const ca = await openssl(
      "x509",
      "-in",
      path.join(out, "ca.pem"),
      "-noout",
      "-ext",
      "basicConstraints,keyUsage",
    );
    expect(ca.stdout).toMatch(/CA:TRUE/);
    expect(ca.stdout).toMatch(/Certificate Sign/);

    const server = await openssl(
      "x509",
      "-in",
      path.join(out, "hosts/runner-1/server-cert.pem"),
      "-noout",
      "-ext",
      "subjectAltName,extendedKeyUsage,basicConstraints",
    );
    expect(server.stdout).toContain("IP Address:127.0.0.1");
    expect(server.stdout).toContain("IP Address:203.0.113.10");
    expect(server.stdout).toContain("DNS:runner-1.example.com");
    expect(server.stdout).toContain("TLS Web Server Authentication");
    expect(server.stdout).not.toContain("TLS Web Client Authentication");
    expect(server.stdout).toContain("CA:FALSE");

    const client = await openssl(
      "x509",
      "-in",
      path.join(out, "client/cert.pem"),
      "-noout",
      "-ext",
      "extendedKeyUsage",
    );
    expect(client.stdout).toContain("TLS Web Client Authentication");
    expect(client.stdout).not.toContain("TLS Web Server Authentication");
    // The server certificate is no client credential, and the other way round.
    const misuse = await openssl(
      "verify",
      "-purpose",
      "sslclient",
      "-CAfile",
      path.join(out, "ca.pem"),
      path.join(out, "hosts/runner-1/server-cert.pem"),
    );
    expect(misuse.code).not.toBe(0);
  });

  it("lays the files out for both ends, private keys readable by their owner only", () => {
    for (const file of [
      "ca.pem",
      "client/ca.pem",
      "client/cert.pem",
      "hosts/runner-1/ca.pem",
      "hosts/runner-1/server-cert.pem",
    ]) {
      expect(statSync(path.join(out, file)).mode & 0o777, file).toBe(0o644);
    }
    for (const file of ["ca-key.pem", "client/key.pem", "hosts/runner-1/server-key.pem"]) {
      expect(statSync(path.join(out, file)).mode & 0o777, file).toBe(0o600);
    }
    expect(statSync(out).mode & 0o777).toBe(0o700);
  });

  it("prints the dockerd flags for the runner host and how to add it", () => {
    expect(printed).toContain("--tlsverify");
    expect(printed).toContain("--tlscacert=/etc/docker/tls/ca.pem");
    expect(printed).toContain("--tlscert=/etc/docker/tls/server-cert.pem");
    expect(printed).toContain("--tlskey=/etc/docker/tls/server-key.pem");
    expect(printed).toContain("-H tcp://0.0.0.0:2376");
    expect(printed).toContain('"tlsverify": true');
    expect(printed).toMatch(
      /runners add runner-1 tcp:\/\/127\.0\.0\.1:2376 \\\s+--tls-dir \/etc\/bisect-bot\/runner-certs\/client/,
    );
  });

  /**
   * A real `dockerd --tlsverify` holding a runner host's certificate on a loopback port, with its
   * own data, exec root, pidfile and socket, and a bridge of its own without NAT or iptables
   * (`--bridge=none` would delete the first engine's docker0). It runs no container.
   */
  async function realEngine(
    hostDir: string,
  ): Promise<{ endpoint: string; port: number; close(): Promise<void> }> {
    const root = mkdtempSync(path.join(tmpdir(), "bisect-certs-dockerd-"));
    const bridge = `bcrt${randomBytes(3).toString("hex")}`;
    // 198.18.0.0/15 is reserved for benchmarks: nothing real answers there, and nothing is sent.
    const subnet = `198.18.${randomInt(1, 255)}`;
    const ip = (...args: string[]) => run("ip", args);
    const cleanup = async () => {
      await ip("link", "delete", bridge);
      rmSync(root, { recursive: true, force: true });
    };
    expect((await ip("link", "add", "name", bridge, "type", "bridge")).code).toBe(0);
    await ip("addr", "add", `${subnet}.1/24`, "dev", bridge);
    await ip("link", "set", bridge, "up");
    const socket = path.join(root, "d.sock");
    try {
      return await onFreePort(async (port) => {
        const log = path.join(root, "dockerd.log");
        const out = openSync(log, "a");
        const child = spawn(
          "dockerd",
          [
            "--host",
            `unix://${socket}`,
            "--host",
            `tcp://127.0.0.1:${port}`,
            "--tlsverify",
            `--tlscacert=${path.join(hostDir, "ca.pem")}`,
            `--tlscert=${path.join(hostDir, "server-cert.pem")}`,
            `--tlskey=${path.join(hostDir, "server-key.pem")}`,
            `--data-root=${path.join(root, "data")}`,
            `--exec-root=${path.join(root, "exec")}`,
            `--pidfile=${path.join(root, "dockerd.pid")}`,
            `--bridge=${bridge}`,
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
            "--storage-driver=vfs",
          ],
          { stdio: ["ignore", out, out] },
        );
        closeSync(out);
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        const stop = async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
          const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
          await exited;
          clearTimeout(killer);
        };
        // Ready when it answers on its own socket (no TLS there).
        const deadline = Date.now() + 90_000;
        for (;;) {
          if (child.exitCode !== null)
            throw new Error(`dockerd exited (${child.exitCode}):\n${readFileSync(log, "utf8")}`);
          if (await answers(socket)) break;
          if (Date.now() > deadline) {
            await stop();
            throw new Error(`dockerd did not start in 90 s:\n${readFileSync(log, "utf8")}`);
          }
          await new Promise((r) => setTimeout(r, 250));
        }
        return {
          endpoint: `tcp://127.0.0.1:${port}`,
          port,
          close: async () => {
            await stop();
            await cleanup();
          },
        };
      });
    } catch (err) {
      await cleanup();
      throw err;
    }
  }

  /** Whether a Docker engine answers `/_ping` on a unix socket. */
  function answers(socketPath: string): Promise<boolean> {
    return new Promise((resolve) => {
      const req = http.get({ socketPath, path: "/_ping", timeout: 2_000 }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode === 200));
      });
      req.on("error", () => resolve(false));
      req.on("timeout", () => req.destroy());
    });
  }

  /** A TLS request that trusts the CA but shows no client certificate. */
  function pingWithoutClientCert(port: number, ca: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = https.get(
        { host: "127.0.0.1", port, path: "/_ping", ca: readFileSync(ca), timeout: 10_000 },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.on("timeout", () => req.destroy(new Error("timeout")));
    });
  }

  it(
    "lets the workers' Docker client reach the runner host over mutual TLS, and nobody else",
    { timeout: 180_000 },
    async () => {
      const engine = await realEngine(path.join(out, "hosts/runner-1"));
      try {
        const docker = connectDocker(engine.endpoint, { tls: path.join(out, "client") });
        await pingEngine(docker, 15_000);
        // A real engine: it reports its version over the mutual-TLS connection.
        expect((await docker.version()).ApiVersion).toMatch(/^1\.\d+$/);

        // No client certificate: the engine ends the handshake.
        await expect(
          pingWithoutClientCert(engine.port, path.join(out, "client/ca.pem")),
        ).rejects.toThrow();

        // A client certificate from another CA is turned away.
        const stranger = path.join(dir, "stranger");
        expect((await makeCerts(stranger, "--name", "elsewhere", "--ip", "127.0.0.1")).code).toBe(
          0,
        );
        await expect(
          pingEngine(
            connectDocker(engine.endpoint, { tls: path.join(stranger, "client") }),
            15_000,
          ),
        ).rejects.toThrow(/unreachable/);
      } finally {
        await engine.close();
      }
    },
  );

  it(
    "reuses the CA and the client certificate for the next runner host; the client checks the host's name",
    { timeout: 180_000 },
    async () => {
      const caBefore = readFileSync(path.join(out, "ca.pem"), "utf8");
      const clientBefore = readFileSync(path.join(out, "client/cert.pem"), "utf8");
      const second = await makeCerts(out, "--name", "runner-2", "--dns", "runner-2.example.com");
      expect(second.code, second.stderr).toBe(0);
      expect(readFileSync(path.join(out, "ca.pem"), "utf8")).toBe(caBefore);
      expect(readFileSync(path.join(out, "client/cert.pem"), "utf8")).toBe(clientBefore);
      const verify = await openssl(
        "verify",
        "-CAfile",
        path.join(out, "ca.pem"),
        path.join(out, "hosts/runner-2/server-cert.pem"),
      );
      expect(verify.code, verify.stderr).toBe(0);

      // runner-2's certificate names runner-2.example.com only: reached as 127.0.0.1 it is refused.
      const engine = await realEngine(path.join(out, "hosts/runner-2"));
      try {
        await expect(
          pingEngine(connectDocker(engine.endpoint, { tls: path.join(out, "client") }), 15_000),
        ).rejects.toThrow(/unreachable/);
      } finally {
        await engine.close();
      }
    },
  );

  it("refuses to make a server certificate without an address", async () => {
    const result = await makeCerts(path.join(dir, "nameless"), "--name", "runner-x");
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("--ip and/or --dns");
  });
});
