import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { inspect } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import {
  connectDocker,
  EndpointError,
  isLoopbackHost,
  parseEndpoint,
  redactEndpoint,
} from "./connect";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("parseEndpoint", () => {
  it("understands unix, tcp and ssh endpoints", () => {
    expect(parseEndpoint("unix:///var/run/docker.sock")).toEqual({
      kind: "unix",
      socketPath: "/var/run/docker.sock",
    });
    expect(parseEndpoint("tcp://10.0.0.5:2376")).toEqual({
      kind: "tcp",
      host: "10.0.0.5",
      port: 2376,
      tls: false,
    });
    expect(parseEndpoint("tcp://runner-3.example.com")).toEqual({
      kind: "tcp",
      host: "runner-3.example.com",
      port: 2376,
      tls: false,
    });
    expect(parseEndpoint("tcp://[::1]:2375")).toEqual({
      kind: "tcp",
      host: "::1",
      port: 2375,
      tls: false,
    });
    expect(parseEndpoint("ssh://deploy@runner-4:2222")).toEqual({
      kind: "ssh",
      host: "runner-4",
      port: 2222,
      username: "deploy",
    });
  });

  it("rejects what it does not understand", () => {
    for (const bad of [
      "",
      "docker.sock",
      "unix://relative.sock",
      "ftp://x",
      "tcp://host:2376/path",
      "ssh://u:pw@host",
    ]) {
      expect(() => parseEndpoint(bad), bad).toThrow(EndpointError);
    }
  });
});

describe("connectDocker", () => {
  it("refuses plain tcp to anything but loopback", () => {
    expect(() => connectDocker("tcp://203.0.113.7:2375")).toThrow(/only over TLS/);
    expect(() => connectDocker("tcp://runner.example.com:2375")).toThrow(EndpointError);
    expect(() => connectDocker("tcp://127.0.0.1:2375")).not.toThrow();
    expect(() => connectDocker("tcp://localhost:2375")).not.toThrow();
    expect(isLoopbackHost("127.8.9.10")).toBe(true);
    expect(isLoopbackHost("::1")).toBe(true);
    expect(isLoopbackHost("128.0.0.1")).toBe(false);
  });

  it("needs TLS material for https and an agent or key for ssh", () => {
    expect(() => connectDocker("https://runner.example.com:2376")).toThrow(/TLS material/);
    expect(() => connectDocker("ssh://u@runner.example.com", { sshAgent: "" })).toThrow(
      /ssh-agent/,
    );
    expect(() =>
      connectDocker("ssh://u@runner.example.com", { sshAgent: "/run/agent.sock" }),
    ).toThrow(/pinned host key/);
    expect(() =>
      connectDocker("ssh://u@runner.example.com", {
        sshAgent: "/run/agent.sock",
        sshHostKey: `SHA256:${"x".repeat(43)}`,
      }),
    ).not.toThrow();
  });

  it("reads TLS material from a directory and never shows the key", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "bisect-tls-"));
    dirs.push(dir);
    expect(() => connectDocker("tcp://runner.example.com:2376", { tls: dir })).toThrow(
      /ca\.pem does not exist/,
    );
    const secret = "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n";
    writeFileSync(
      path.join(dir, "ca.pem"),
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    writeFileSync(
      path.join(dir, "cert.pem"),
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    writeFileSync(path.join(dir, "key.pem"), secret);
    let message = "";
    try {
      connectDocker("tcp://runner.example.com:2376", { tls: dir });
    } catch (err) {
      message = `${String(err)} ${inspect(err)}`;
    }
    expect(message).toMatch(/TLS material rejected/);
    expect(message).not.toContain("TOPSECRETKEYMATERIAL");
  });

  it("keeps no PEM strings on a TLS client", () => {
    const certs = process.env.BISECT_ENGINE_CERTS ?? "/var/lib/bisect-engines/certs";
    // CI always has the engines' certificates (`.ci/run` starts the engines): a failure to load
    // them there is a failure. Elsewhere a machine without them has nothing to check.
    if (!process.env.CI && !existsSync(path.join(certs, "key.pem"))) return;
    const docker = connectDocker("tcp://127.0.0.1:23762", { tls: certs });
    const dump = inspect(docker, { depth: 8, showHidden: true });
    expect(dump).not.toContain("PRIVATE KEY");
  });

  it("redacts user info from endpoints", () => {
    expect(redactEndpoint("ssh://deploy@runner:22")).toBe("ssh://runner:22");
    expect(redactEndpoint("tcp://1.2.3.4:2376")).toBe("tcp://1.2.3.4:2376");
  });
});
