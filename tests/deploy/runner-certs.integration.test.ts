// scripts/make-runner-certs.sh: a CA, a server certificate per runner host with the right names,
// one client certificate for the workers — checked with `openssl verify` and by a real mutual-TLS
// handshake between the product's Docker client (runner/docker/connect.ts) and a server holding
// the runner host's certificate, on loopback.
import { readFileSync, mkdtempSync, rmSync, statSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDocker, pingEngine } from "../../runner/docker/connect";
import { commandExists, requireTool, run } from "./support";

const SCRIPT = path.resolve("scripts/make-runner-certs.sh");
const haveOpenssl = requireTool(
  commandExists("openssl", ["version"]),
  "openssl",
  "apt-get install openssl",
);

describe.skipIf(!haveOpenssl)("make-runner-certs.sh", () => {
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

  /** An HTTPS server holding a runner host's certificate that, like dockerd --tlsverify, demands a client certificate. */
  async function fakeEngine(
    hostDir: string,
  ): Promise<{ endpoint: string; close(): Promise<void> }> {
    const server = https.createServer(
      {
        ca: readFileSync(path.join(hostDir, "ca.pem")),
        cert: readFileSync(path.join(hostDir, "server-cert.pem")),
        key: readFileSync(path.join(hostDir, "server-key.pem")),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        res.writeHead(req.url === "/_ping" ? 200 : 404, { "content-type": "text/plain" });
        res.end(req.url === "/_ping" ? "OK" : "not found");
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
      endpoint: `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise((resolve) => server.close(() => resolve())),
    };
  }

  it("lets the workers' Docker client reach the runner host over mutual TLS, and nobody else", async () => {
    const engine = await fakeEngine(path.join(out, "hosts/runner-1"));
    try {
      await pingEngine(connectDocker(engine.endpoint, { tls: path.join(out, "client") }), 5_000);

      // A client certificate from another CA is turned away.
      const stranger = path.join(dir, "stranger");
      expect((await makeCerts(stranger, "--name", "elsewhere", "--ip", "127.0.0.1")).code).toBe(0);
      await expect(
        pingEngine(connectDocker(engine.endpoint, { tls: path.join(stranger, "client") }), 5_000),
      ).rejects.toThrow(/unreachable/);
    } finally {
      await engine.close();
    }
  });

  it("reuses the CA and the client certificate for the next runner host; the client checks the host's name", async () => {
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
    const engine = await fakeEngine(path.join(out, "hosts/runner-2"));
    try {
      await expect(
        pingEngine(connectDocker(engine.endpoint, { tls: path.join(out, "client") }), 5_000),
      ).rejects.toThrow(/unreachable/);
    } finally {
      await engine.close();
    }
  });

  it("refuses to make a server certificate without an address", async () => {
    const result = await makeCerts(path.join(dir, "nameless"), "--name", "runner-x");
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("--ip and/or --dns");
  });
});
