// ssh runner hosts: the host key is pinned, and a connection to any other key is refused before
// the client authenticates. A real SSH server (ssh2's) on loopback stands in for a runner host.
import type { AddressInfo } from "node:net";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDocker, pingEngine, sshFingerprint } from "../../runner/docker/connect";

let server: ssh2.Server | undefined;
let port = 0;
let hostFingerprint = "";
let authAttempts = 0;

/**
 * An ed25519 key pair ssh2 can read back. About 1 in 250 of the pairs ssh2 generates drops the
 * public key's leading zero byte and is then "Malformed" to its own parser: those are drawn again.
 */
function ed25519KeyPair(): { private: string; public: string; parsed: ssh2.ParsedKey } {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync("ed25519");
    const parsed = ssh2.utils.parseKey(pair.public);
    if (!(parsed instanceof Error) && !(ssh2.utils.parseKey(pair.private) instanceof Error))
      return { ...pair, parsed };
  }
}
const clientKey = ed25519KeyPair().private;

beforeAll(async () => {
  const hostKey = ed25519KeyPair();
  hostFingerprint = sshFingerprint(hostKey.parsed.getPublicSSH());
  const started = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on("authentication", (ctx) => {
      authAttempts++;
      ctx.reject();
    });
    client.on("error", () => {});
  });
  await new Promise<void>((resolve) => started.listen(0, "127.0.0.1", resolve));
  server = started;
  port = (started.address() as AddressInfo).port;
});

afterAll(async () => {
  const started = server;
  if (started) await new Promise<void>((resolve) => started.close(() => resolve()));
});

const endpoint = () => `ssh://deploy@127.0.0.1:${port}`;

describe("an ssh runner host", () => {
  it("needs a pinned host key", () => {
    expect(() => connectDocker(endpoint(), { sshPrivateKey: clientKey })).toThrow(
      /pinned host key/,
    );
  });

  it("is refused before authentication when it presents another key", async () => {
    const before = authAttempts;
    const wrong = `SHA256:${"A".repeat(43)}`;
    const docker = connectDocker(endpoint(), { sshPrivateKey: clientKey, sshHostKey: wrong });
    await expect(pingEngine(docker, 10_000, "r1")).rejects.toThrow(/unreachable/);
    expect(authAttempts).toBe(before);
  });

  it("is talked to when it presents the pinned key", async () => {
    const before = authAttempts;
    const docker = connectDocker(endpoint(), {
      sshPrivateKey: clientKey,
      sshHostKey: hostFingerprint,
    });
    // The server refuses our key, so no Docker API is reached — but only after the host check.
    await expect(pingEngine(docker, 10_000, "r1")).rejects.toThrow(/unreachable/);
    expect(authAttempts).toBeGreaterThan(before);
  });

  it("shows its key to be pinned while it is being added", async () => {
    let seen: string | null = null;
    const docker = connectDocker(endpoint(), {
      sshPrivateKey: clientKey,
      sshHostKey: { capture: (fingerprint) => (seen = fingerprint) },
    });
    await expect(pingEngine(docker, 10_000, "r1")).rejects.toThrow(/unreachable/);
    expect(seen).toBe(hostFingerprint);
  });
});
