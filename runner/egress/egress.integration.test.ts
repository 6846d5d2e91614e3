// The egress filter, for real: Debian's squid in a container, configured from an allow-list, in
// front of a run whose setup has network. Traffic stays on loopback (the proxy and the allowed
// server listen on 127.0.0.1, the run uses the host's network here); the private and metadata
// addresses are refused by the proxy without a connection, and the internal network's lack of a
// route out is read from its configuration and a container's routing table, not probed.
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InfrastructureError } from "../errors";
import { DockerExecutor } from "../executors/docker-executor";
import { removeLabelled } from "../executors/removal";
import { runOnce } from "../executors/run-once";
import {
  dockerRequired,
  enginesUnderTest,
  makeRepo,
  type SpecOverrides,
  specFor,
  type TestRepo,
} from "../executors/test-support";
import { ensureRunnerImage } from "../image";
import { ensureEgressImage, ensureEgressNetwork, startEgressProxy } from "./egress";
import { parseEgressAllow } from "./squid-config";

const [host1] = await enginesUnderTest();
const docker = host1?.docker;
const testLabel = { "bisect-test": randomUUID() };

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

describe.skipIf(!docker && !dockerRequired)("egress filter", () => {
  let repo: TestRepo;
  let server: http.Server;
  let serverUrl: string;
  let proxyUrl: string;
  const requests: string[] = [];
  const networks: string[] = [];

  beforeAll(async () => {
    if (!docker) throw new Error(`Docker engine required in CI: ${host1?.unavailable}`);
    await ensureRunnerImage(docker);
    await ensureEgressImage(docker);
    repo = makeRepo(2);
    server = http.createServer((req, res) => {
      requests.push(req.url ?? "");
      res.end("from-the-mirror");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const proxyPort = await freePort();
    proxyUrl = `http://127.0.0.1:${proxyPort}`;
    await startEgressProxy(docker, {
      // The allowed server is named by address (any port); mirror.test by name, resolving to a
      // private address through the proxy's hosts file (no DNS, no packet).
      allow: parseEgressAllow("127.0.0.1 mirror.test"),
      listen: `127.0.0.1:${proxyPort}`,
      networkMode: "host",
      name: `bisect-egress-test-${randomUUID().slice(0, 8)}`,
      labels: testLabel,
      extraHosts: ["mirror.test:10.0.0.1"],
    });
  }, 900_000);

  afterAll(async () => {
    if (docker) {
      await removeLabelled(docker, testLabel);
      for (const n of networks)
        await docker
          .getNetwork(n)
          .remove()
          .catch(() => {});
    }
    server?.close();
    if (repo) rmSync(repo.dir, { recursive: true, force: true });
  });

  // Python's urllib through the proxy named in the run's environment: FETCHED <body> or
  // REFUSED <why> per URL.
  const probe = (urls: string[]) =>
    `python3 - <<'EOF'
import os, urllib.request
proxy = os.environ.get("HTTP_PROXY", "")
print("proxy=" + proxy)
opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy, "https": proxy}))
for url in ${JSON.stringify(urls)}:
    try:
        print(url, "FETCHED", opener.open(url, timeout=10).read().decode())
    except Exception as e:
        print(url, "REFUSED", e)
EOF`;
  const run = (executor: DockerExecutor, overrides: SpecOverrides) =>
    runOnce(executor, specFor(repo, { timeoutMs: 60_000, ...overrides, labels: testLabel }));

  it("lets the setup reach an allow-listed server and refuses private, metadata and unlisted hosts", async () => {
    const executor = new DockerExecutor(docker!, { networkMode: "host", egressProxy: proxyUrl });
    requests.length = 0;
    const refused = [
      "http://10.0.0.1/",
      "http://169.254.169.254/latest/meta-data/",
      "https://169.254.169.254/",
      "http://mirror.test/",
      "http://not-on-the-list.example/",
    ];
    try {
      const r = await run(executor, {
        setupNetwork: true,
        setup: probe([`${serverUrl}/allowed`, ...refused]),
        command: "echo proxy-in-test=$HTTP_PROXY",
      });
      expect(r.exitCode).toBe(0);
      expect(r.log).toContain(`proxy=${proxyUrl}`);
      expect(r.log).toContain(`${serverUrl}/allowed FETCHED from-the-mirror`);
      for (const url of refused) {
        // 403 from the filter for plain HTTP; for HTTPS, its refusal of the CONNECT.
        expect(r.log).toMatch(new RegExp(`${url.replace(/[.?/]/g, "\\$&")} REFUSED .*403`));
      }
      // Only the allowed request reached a server.
      expect(requests).toEqual(["/allowed"]);
    } finally {
      await executor.close();
    }
  });

  it("gives no proxy to a container without network", async () => {
    const executor = new DockerExecutor(docker!, { networkMode: "host", egressProxy: proxyUrl });
    try {
      const r = await run(executor, { command: 'echo "proxy=[$HTTP_PROXY]"' });
      expect(r.log).toContain("proxy=[]");
    } finally {
      await executor.close();
    }
  });

  it("makes an internal network without traffic between containers, and networked runs join only it", async () => {
    const name = `bisect-egress-test-${randomUUID().slice(0, 8)}`;
    networks.push(name);
    await ensureEgressNetwork(docker!, name);
    await ensureEgressNetwork(docker!, name); // idempotent
    const info = await docker!.getNetwork(name).inspect();
    expect(info.Internal).toBe(true);
    // Internal: the engine forwards nothing between this network and any other, the outside
    // included; no inter-container communication: its containers cannot reach each other.
    expect(info.Options?.["com.docker.network.bridge.enable_icc"]).toBe("false");
    const executor = new DockerExecutor(docker!, { networkMode: name, egressProxy: proxyUrl });
    const handle = await executor.prepare(
      specFor(repo, { network: true, labels: testLabel, command: "true" }),
    );
    try {
      const container = await docker!.getContainer(handle.id).inspect();
      expect(container.HostConfig.NetworkMode).toBe(name);
      expect(Object.keys(container.NetworkSettings.Networks)).toEqual([name]);
      expect(container.Config.Env).toContain(`HTTPS_PROXY=${proxyUrl}`);
    } finally {
      await executor.destroy(handle);
      await executor.close();
    }
  });

  it("refuses a network of that name that lets traffic out", async () => {
    const name = `bisect-egress-test-${randomUUID().slice(0, 8)}`;
    networks.push(name);
    await docker!.createNetwork({ Name: name, Driver: "bridge", Labels: testLabel });
    await expect(ensureEgressNetwork(docker!, name)).rejects.toThrow(InfrastructureError);
    await expect(ensureEgressNetwork(docker!, name)).rejects.toThrow(/not internal/);
  });
});
