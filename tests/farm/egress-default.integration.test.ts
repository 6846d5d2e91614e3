// Networked runs on the farm go through the host's egress filter by default: the worker sets up the
// internal network (no route out, no traffic between containers) and the proxy on its gateway, and
// a run with network gets only that proxy. Shown by the network's configuration and by what the
// runs see — no packet is sent anywhere (the filter's refusals are runner/egress's own tests).
import { Model } from "objection";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { BisectStep } from "../../db/models";
import { createJob } from "../../jobs/bisection/intake";
import { EGRESS_NETWORK } from "../../jobs/farm/egress";
import { registerHost } from "../../jobs/farm/hosts";
import { startWorker, type StartedWorker } from "../../jobs/worker";
import { makeRepo } from "../../runner/executors/test-support";
import { useTestDatabase } from "../helpers/database";
import {
  dockerRequired,
  ensureImageEverywhere,
  tlsEngines,
  type TestEngine,
} from "../helpers/engines";
import { finalJob } from "../helpers/farm-worker";

const { engines, problem } = await tlsEngines();
if (problem && dockerRequired) throw new Error(`Docker engines are required in CI: ${problem}`);
const suite = problem ? describe.skip : describe;

const PROXY_NAME = `bisect-egress-proxy-${EGRESS_NETWORK}`;

suite("networked runs on the farm, with the operator's defaults", () => {
  const db = useTestDatabase();
  let worker: StartedWorker | undefined;
  let host: TestEngine;

  beforeAll(async () => {
    Model.knex(db.current.knex);
    host = engines[0]!;
    await ensureImageEverywhere([host]);
    await registerHost(db.current.knex, {
      name: host.name,
      dockerEndpoint: host.endpoint,
      tlsPath: host.tlsPath,
      capacity: 2,
      source: "admin",
    });
    // No RUNNER_RUN_NETWORK: the default is the filtered network.
    const config = loadConfig({
      DATABASE_URL: db.current.url,
      LOG_LEVEL: "error",
      RUNNER_FETCH_NETWORK: "none",
    });
    expect(config.RUNNER_RUN_NETWORK).toBe("filtered");
    worker = await startWorker(config, { registerEnvHost: false });
  }, 600_000);

  afterAll(async () => {
    await worker?.stop();
    await host?.docker
      .getContainer(PROXY_NAME)
      .remove({ force: true })
      .catch(() => {});
    await host?.docker
      .getNetwork(EGRESS_NETWORK)
      .remove()
      .catch(() => {});
  });

  /** The logs of a finished job's runs, joined. */
  async function bisect(options: Record<string, unknown>): Promise<string> {
    const repo = makeRepo(4, 2);
    const { job } = await createJob(db.current.knex, {
      source: "cli",
      repoUrl: repo.dir,
      goodRef: repo.shas[0]!,
      badRef: "main",
      setupCommand: 'echo "setup-proxy=${HTTPS_PROXY:-none}"',
      command: 'echo "test-proxy=${HTTPS_PROXY:-none}"; sh check.sh',
      options,
    });
    const done = await finalJob(job.id);
    const steps = await BisectStep.query(db.current.knex).where({ bisectJobId: job.id });
    const logs = steps
      .map((s) => `${s.verdict} ${s.reason ?? ""}\n${s.logExcerpt ?? ""}`)
      .join("\n");
    expect(done, `${done.outcome} ${done.error ?? ""}\n${logs}`).toMatchObject({
      status: "finished",
      culpritSha: repo.shas[2],
    });
    return logs;
  }

  it("gives an online setup only the host's filtering proxy, on an internal network, and the test none", async () => {
    const logs = await bisect({ network: false, setupNetwork: true });

    const network = await host.docker.getNetwork(EGRESS_NETWORK).inspect();
    // No route out and no traffic between the containers on it.
    expect(network.Internal).toBe(true);
    expect(network.Options?.["com.docker.network.bridge.enable_icc"]).toBe("false");
    const gateway = network.IPAM?.Config?.find(
      (c) => c.Gateway && !c.Gateway.includes(":"),
    )?.Gateway;
    expect(gateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const proxy = await host.docker.getContainer(PROXY_NAME).inspect();
    expect(proxy.State.Running).toBe(true);
    expect(proxy.HostConfig.CapDrop).toEqual(["ALL"]);

    expect(logs).toContain(`setup-proxy=http://${gateway}:3128`);
    expect(logs).toContain("test-proxy=none");
    expect(logs).not.toMatch(/test-proxy=http/);
  }, 600_000);

  it("sends a run with network for the test as well through the same proxy", async () => {
    const logs = await bisect({ network: true });
    const network = await host.docker.getNetwork(EGRESS_NETWORK).inspect();
    const gateway = network.IPAM?.Config?.find(
      (c) => c.Gateway && !c.Gateway.includes(":"),
    )?.Gateway;
    expect(logs).toContain(`test-proxy=http://${gateway}:3128`);
    expect(logs).not.toContain("test-proxy=none");
  }, 600_000);
});
