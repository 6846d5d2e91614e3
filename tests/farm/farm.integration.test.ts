// Distributed bisection on the farm: two runner hosts over TLS, slot leases, real containers.
import { spawn } from "node:child_process";
import { Model } from "objection";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { instanceId } from "../../db/instance";
import { BisectJob, BisectStep, type RunnerHost, RunnerLease } from "../../db/models";
import { createJob } from "../../jobs/bisection/intake";
import { cancelJob } from "../../jobs/bisection/control";
import { startWorker, type StartedWorker } from "../../jobs/worker";
import { registerHost } from "../../jobs/farm/hosts";
import { makeRepo } from "../../runner/executors/test-support";
import { useTestDatabase } from "../helpers/database";
import { finalJob } from "../helpers/farm-worker";
import {
  containersOfJob,
  dockerRequired,
  ensureImageEverywhere,
  tlsEngines,
  type TestEngine,
} from "../helpers/engines";

const { engines, problem } = await tlsEngines();
if (problem && dockerRequired) throw new Error(`Docker engines are required in CI: ${problem}`);
const suite = problem ? describe.skip : describe;

/** Most leases a host held at the same moment, from the lease rows. */
function maxOverlap(leases: RunnerLease[]): number {
  const events = leases.flatMap((l) => [
    { t: l.acquiredAt.getTime(), d: 1 },
    { t: (l.releasedAt ?? l.expiresAt).getTime(), d: -1 },
  ]);
  events.sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let max = 0;
  for (const e of events) max = Math.max(max, (now += e.d));
  return max;
}

suite("the runner farm", () => {
  const db = useTestDatabase();
  let worker: StartedWorker;
  let hosts: RunnerHost[];
  let instance: string;

  beforeAll(async () => {
    Model.knex(db.current.knex);
    instance = await instanceId(db.current.knex);
    await ensureImageEverywhere(engines as TestEngine[]);
    hosts = [];
    for (const e of engines) {
      hosts.push(
        await registerHost(db.current.knex, {
          name: e.name,
          dockerEndpoint: e.endpoint,
          tlsPath: e.tlsPath,
          capacity: 2,
          source: "admin",
        }),
      );
    }
    const config = loadConfig({
      DATABASE_URL: db.current.url,
      LOG_LEVEL: "error",
      WORKER_CONCURRENCY: "8",
      RUNNER_FETCH_NETWORK: "none",
    });
    worker = await startWorker(config, { registerEnvHost: false });
  }, 600_000);
  afterAll(async () => {
    await worker?.stop();
  });

  it("spreads a --parallel 4 bisection over both hosts, never above capacity, and finds the culprit", async () => {
    const repo = makeRepo(40, 27);
    const { job } = await createJob(db.current.knex, {
      source: "cli",
      repoUrl: repo.dir,
      goodRef: repo.shas[0]!,
      badRef: "main",
      command: "sh check.sh",
      options: { parallel: 4 },
    });
    const done = await finalJob(job.id);
    expect(done.error).toBeNull();
    expect(done).toMatchObject({ status: "finished", outcome: "found", culpritSha: repo.shas[27] });

    // Runs still in flight when the engine concluded are stopped and end as cancelled.
    await expect
      .poll(
        async () =>
          (await BisectStep.query().where({ bisectJobId: job.id }).modify("inFlight")).length,
        { timeout: 15_000 },
      )
      .toBe(0);
    const steps = await BisectStep.query().where({ bisectJobId: job.id });
    // A run still waiting for a slot when the engine concluded never got a host; it can only have been cancelled.
    const unplaced = steps.filter((s) => s.runnerHostId === null);
    expect(unplaced.map((s) => s.status)).toEqual(unplaced.map(() => "cancelled"));
    expect(
      new Set(steps.filter((s) => s.runnerHostId !== null).map((s) => s.runnerHostId)),
    ).toEqual(new Set(hosts.map((h) => h.id)));
    const verdicts = Object.fromEntries(steps.map((s) => [s.sha, s.verdict]));
    expect(verdicts[repo.shas[27]!]).toBe("bad");
    expect(verdicts[repo.shas[26]!]).toBe("good");

    await expect
      .poll(
        async () =>
          (
            await RunnerLease.query()
              .whereIn(
                "bisectStepId",
                steps.map((s) => s.id),
              )
              .whereNull("releasedAt")
          ).length,
        { timeout: 15_000 },
      )
      .toBe(0);
    const leases = await RunnerLease.query().whereIn(
      "bisectStepId",
      steps.map((s) => s.id),
    );
    for (const host of hosts)
      expect(maxOverlap(leases.filter((l) => l.runnerHostId === host.id))).toBeLessThanOrEqual(
        host.capacity,
      );
    await expect
      .poll(() => containersOfJob(engines as TestEngine[], instance, job.id), { timeout: 15_000 })
      .toEqual([]);
  }, 240_000);

  it("runs `npm run bisect -- --farm` and prints the same result as a local run", async () => {
    const repo = makeRepo(20, 13);
    const cli = (...extra: string[]) =>
      new Promise<{ code: number | null; json: Record<string, unknown>; stderr: string }>(
        (resolve) => {
          const child = spawn(
            process.execPath,
            [
              "--import",
              "tsx",
              "scripts/bisect.ts",
              "--repo",
              repo.dir,
              "--good",
              repo.shas[0]!,
              "--bad",
              "main",
              "--json",
              ...extra,
              "--",
              "sh",
              "check.sh",
            ],
            {
              env: {
                NODE_ENV: "test",
                PATH: process.env.PATH,
                HOME: process.env.HOME,
                DATABASE_URL: db.current.url,
              },
            },
          );
          let out = "";
          let err = "";
          child.stdout.on("data", (d) => (out += d));
          child.stderr.on("data", (d) => (err += d));
          child.once("exit", (code) =>
            resolve({ code, json: JSON.parse(out || "{}"), stderr: err }),
          );
        },
      );
    const [farm, local] = await Promise.all([
      cli("--farm", "--parallel", "3"),
      cli("--executor", "local"),
    ]);
    expect(farm.code, farm.stderr).toBe(0);
    expect(farm.stderr).toMatch(/queued as job \d+ on the farm/);
    expect(farm.json).toMatchObject({ outcome: "found", culprit: repo.shas[13] });
    expect(local.json).toMatchObject({ outcome: "found", culprit: repo.shas[13] });
    for (const key of ["outcome", "culprit", "candidates", "rounds", "steps"])
      expect(farm.json).toHaveProperty(key);
    const step = (farm.json.steps as Record<string, unknown>[])[0]!;
    expect(Object.keys(step)).toEqual(
      expect.arrayContaining(["sha", "verdict", "exitCode", "durationMs", "round"]),
    );
  }, 180_000);

  it("says so plainly when the good revision already fails", async () => {
    const repo = makeRepo(8, 2);
    const { job } = await createJob(db.current.knex, {
      source: "cli",
      repoUrl: repo.dir,
      goodRef: repo.shas[3]!,
      badRef: "main",
      command: "sh check.sh",
      options: { parallel: 2 },
    });
    const done = await finalJob(job.id);
    expect(done).toMatchObject({ status: "finished", outcome: "good-is-bad", culpritSha: null });
  }, 120_000);

  it("fails a job with an unknown revision with a clear message", async () => {
    const repo = makeRepo(3, 2);
    const { job } = await createJob(db.current.knex, {
      source: "cli",
      repoUrl: repo.dir,
      goodRef: "v0.0.0-missing",
      badRef: "main",
      command: "sh check.sh",
    });
    const done = await finalJob(job.id);
    expect(done).toMatchObject({ status: "failed", outcome: "error" });
    expect(done.error).toContain("v0.0.0-missing");
  }, 120_000);

  it("cancels a running job: its containers are removed within seconds", async () => {
    const repo = makeRepo(30, 20);
    const { job } = await createJob(db.current.knex, {
      source: "cli",
      repoUrl: repo.dir,
      goodRef: repo.shas[0]!,
      badRef: "main",
      command: "sleep 60; sh check.sh",
      options: { parallel: 3 },
    });
    await expect
      .poll(async () => (await containersOfJob(engines as TestEngine[], instance, job.id)).length, {
        timeout: 60_000,
        interval: 250,
      })
      .toBeGreaterThan(0);
    expect(await cancelJob(db.current.knex, job.id, { login: "tester" })).toBe(true);
    await expect
      .poll(() => containersOfJob(engines as TestEngine[], instance, job.id), {
        timeout: 15_000,
        interval: 250,
      })
      .toEqual([]);
    const done = await BisectJob.query().findById(job.id);
    expect(done?.status).toBe("cancelled");
    await expect
      .poll(
        async () =>
          (
            await RunnerLease.query()
              .whereIn(
                "bisectStepId",
                BisectStep.query().where({ bisectJobId: job.id }).select("id"),
              )
              .whereNull("releasedAt")
          ).length,
        { timeout: 15_000 },
      )
      .toBe(0);
  }, 120_000);
});
