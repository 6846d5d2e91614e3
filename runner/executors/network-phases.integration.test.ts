// Setup online, test offline: the setup of a run with `setupNetwork` reaches a server the test
// command of the same run cannot reach. The server listens on this machine's loopback and the
// executor's network is the host's (test traffic stays on loopback).
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureRunnerImage } from "../image";
import { DockerExecutor } from "./docker-executor";
import { runOnce } from "./run-once";
import { SETUP_FAILED_EXIT } from "./run-script";
import {
  dockerRequired,
  enginesUnderTest,
  makeRepo,
  type SpecOverrides,
  specFor,
  type TestRepo,
} from "./test-support";

const engines = await enginesUnderTest();
const host1 = engines[0]?.docker;

for (const engine of engines) {
  if (engine.unavailable) {
    describe(`network phases on ${engine.name}`, () => {
      it.skipIf(!dockerRequired)("has a reachable Docker engine (required in CI)", () => {
        throw new Error(`Docker engine required in CI: ${engine.unavailable}`);
      });
    });
    continue;
  }
  describe(`network phases on ${engine.name}`, () =>
    suite(engine.docker!, engine.docker === host1));
}

function suite(docker: Docker, isHost1: boolean): void {
  const testLabel = { "bisect-test": randomUUID() };
  let executor: DockerExecutor;
  let repo: TestRepo;
  let server: http.Server;
  let url: string;
  const requests: string[] = [];

  const run = (overrides: SpecOverrides) =>
    runOnce(executor, specFor(repo, { timeoutMs: 60_000, ...overrides, labels: { ...testLabel } }));
  // Python's urllib: in the runner image, no curl needed. Prints FETCHED <body> or REFUSED <why>.
  const fetch = (what: string) =>
    `python3 -c "import urllib.request,sys
try:
    print('${what} FETCHED', urllib.request.urlopen('${url}/${what}', timeout=5).read().decode())
except Exception as e:
    print('${what} REFUSED', e)"`;

  beforeAll(async () => {
    const source = !isHost1 && host1 ? host1 : undefined;
    if (source) await ensureRunnerImage(source);
    await ensureRunnerImage(docker, { source, networkMode: isHost1 ? undefined : "host" });
    // The host's network stands in for the egress network here: the server is on its loopback.
    executor = new DockerExecutor(docker, { name: "phases", networkMode: "host" });
    repo = makeRepo(2);
    server = http.createServer((req, res) => {
      requests.push(req.url ?? "");
      res.end("dependency-1.0");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 900_000);

  afterEach(async () => {
    const left = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`bisect-test=${testLabel["bisect-test"]}`] }),
    });
    expect(left).toEqual([]);
  });

  afterAll(async () => {
    await executor?.close();
    server?.close();
    if (repo) rmSync(repo.dir, { recursive: true, force: true });
  });

  it("lets the setup download what the test uses, and keeps the test offline", async () => {
    requests.length = 0;
    const r = await run({
      setupNetwork: true,
      setup: `${fetch("setup")} | tee fetched.txt; grep -q FETCHED fetched.txt; export DEP_READY=yes`,
      command: `cat fetched.txt; echo "ready=$DEP_READY"; ${fetch("test")}`,
    });
    expect(r.exitCode).toBe(0);
    expect(r.log).toContain("setup FETCHED dependency-1.0");
    // The test sees the setup's files and exports …
    expect(r.log).toContain("ready=yes");
    // … but reaches nothing: the server only ever heard from the setup.
    expect(r.log).toMatch(/test REFUSED/);
    expect(requests).toEqual(["/setup"]);
  });

  it("gives the setup no network unless asked", async () => {
    requests.length = 0;
    const r = await run({ setup: `${fetch("setup")}; exit 0`, command: "true" });
    expect(r.exitCode).toBe(0);
    expect(r.log).toMatch(/setup REFUSED/);
    expect(requests).toEqual([]);
  });

  it("skips the commit when the online setup fails, without running the test", async () => {
    const r = await run({
      setupNetwork: true,
      setup: "echo installing; exit 3",
      command: "echo TEST-RAN",
    });
    expect(r.exitCode).toBe(SETUP_FAILED_EXIT);
    expect(r.log).toContain("setup failed with exit code 3");
    expect(r.log).not.toContain("TEST-RAN");
  });

  it("counts both phases against one wall-clock timeout", async () => {
    const r = await run({
      setupNetwork: true,
      setup: "sleep 1",
      command: "echo started; sleep 1000",
      timeoutMs: 4_000,
    });
    expect(r).toMatchObject({ timedOut: true, exitCode: null, signal: "SIGKILL" });
    expect(r.log).toContain("started");
  });

  it("reports the test's own exit code after an online setup", async () => {
    const r = await run({ setupNetwork: true, setup: "true", command: "sh check.sh; exit 7" });
    expect(r).toMatchObject({ exitCode: 7, timedOut: false });
    expect(r.log).toContain("fine");
  });
}
