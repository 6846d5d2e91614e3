// runners__reap on a real engine: a checkout box whose job has ended goes, with its anonymous
// volume; one of a job still going stays; a volume of this deployment that nothing uses goes; a
// mirror volume (no instance label) stays. A job's sandbox goes once its job has ended, its worker
// has died, or its job has run nothing for a while.
import type Docker from "dockerode";
import { Model } from "objection";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { RunnerHost } from "../../db/models";
import { INSTANCE_LABEL } from "../../jobs/farm/labels";
import { reap } from "../../jobs/farm/reaper";
import type { WorkerContext } from "../../jobs/worker-context";
import { dockerRequired, enginesUnderTest } from "../../runner/executors/test-support";
import { beat } from "../../jobs/heartbeat";
import { SANDBOX_LABEL, WORKSPACE_LABEL } from "../../runner/labels";
import { useTestDatabase } from "../helpers/database";

const engines = await enginesUnderTest();
const host1 = engines[0]!;
if (!host1.docker && dockerRequired)
  throw new Error(`Docker is required in CI: ${host1.unavailable}`);
const suite = host1.docker ? describe : describe.skip;
const db = useTestDatabase();

suite("the reaper", () => {
  const docker = host1.docker as Docker;
  const instance = `reap-test-${process.pid}`;
  let ctx: WorkerContext;
  const made: string[] = [];

  beforeAll(async () => {
    Model.knex(db.current.knex);
    ctx = {
      knex: db.current.knex,
      config: loadConfig({ ...process.env, DATABASE_URL: db.current.url }),
      instanceId: instance,
    } as WorkerContext;
    await RunnerHost.query(db.current.knex).insert({
      name: "reap-1",
      dockerEndpoint: host1.endpoint,
      capacity: 1,
      state: "active",
    });
  });
  afterAll(async () => {
    for (const id of made)
      await docker
        .getContainer(id)
        .remove({ force: true, v: true })
        .catch(() => {});
  });

  async function job(status: string): Promise<number> {
    const [row] = await db.current
      .knex("bisectJobs")
      .insert({ source: "cli", repoUrl: "/r", goodRef: "a", badRef: "b", command: "true", status })
      .returning("id");
    return row.id;
  }

  async function box(jobId: number): Promise<{ id: string; volume: string }> {
    const labels = {
      app: "bisect-bot",
      [INSTANCE_LABEL]: instance,
      "bisect-bot.job": String(jobId),
      [WORKSPACE_LABEL]: "1",
    };
    const c = await docker.createContainer({
      Image: "debian:bookworm-slim",
      Cmd: ["true"],
      Labels: labels,
      HostConfig: {
        Mounts: [
          { Type: "volume", Target: "/box", VolumeOptions: { Labels: labels } },
        ] as unknown as Docker.MountSettings[],
      },
    });
    made.push(c.id);
    const info = await c.inspect();
    return { id: c.id, volume: info.Mounts.find((m) => m.Destination === "/box")!.Name! };
  }

  const exists = (p: Promise<unknown>) =>
    p.then(
      () => true,
      () => false,
    );

  it("removes an ended job's checkout box with its volume, and keeps a live job's", async () => {
    const ended = await box(await job("finished"));
    const live = await box(await job("running"));
    const stray = `bisect-reap-stray-${process.pid}`;
    await docker.createVolume({ Name: stray, Labels: { [INSTANCE_LABEL]: instance } });
    const mirror = `bisect-reap-mirror-${process.pid}`;
    await docker.createVolume({ Name: mirror, Labels: { app: "bisect-bot" } });

    const report = await reap(ctx, { graceMs: 0 });
    expect(report.containersRemoved).toBe(1);
    expect(await exists(docker.getContainer(ended.id).inspect())).toBe(false);
    expect(await exists(docker.getVolume(ended.volume).inspect())).toBe(false);
    expect(await exists(docker.getContainer(live.id).inspect())).toBe(true);
    expect(await exists(docker.getVolume(live.volume).inspect())).toBe(true);
    expect(await exists(docker.getVolume(stray).inspect())).toBe(false);
    expect(await exists(docker.getVolume(mirror).inspect())).toBe(true);
    await docker.getVolume(mirror).remove();
  });

  async function sandbox(jobId: number, owner: string): Promise<string> {
    const c = await docker.createContainer({
      Image: "debian:bookworm-slim",
      Cmd: ["true"],
      Labels: {
        app: "bisect-bot",
        [INSTANCE_LABEL]: instance,
        "bisect-bot.job": String(jobId),
        [SANDBOX_LABEL]: owner,
      },
    });
    made.push(c.id);
    return c.id;
  }

  async function step(jobId: number, status: string, finishedAgoMs: number): Promise<void> {
    const at = new Date(Date.now() - finishedAgoMs);
    await db.current.knex("bisectSteps").insert({
      bisectJobId: jobId,
      sha: "a".repeat(40),
      round: 1,
      status,
      createdAt: at,
      startedAt: at,
      finishedAt: status === "done" ? at : null,
      verdict: status === "done" ? "good" : null,
    });
  }

  it("removes the sandboxes of ended jobs, of dead workers and of idle jobs, and keeps the others", async () => {
    await beat(db.current.knex, ["live-worker"]);
    const ended = await sandbox(await job("finished"), "live-worker");
    const orphaned = await sandbox(await job("running"), "dead-worker");
    const busyJob = await job("running");
    await step(busyJob, "running", 3_600_000);
    const busy = await sandbox(busyJob, "live-worker");
    const recentJob = await job("running");
    await step(recentJob, "done", 1_000);
    const recent = await sandbox(recentJob, "live-worker");
    const idleJob = await job("running");
    await step(idleJob, "done", 3_600_000);
    const idle = await sandbox(idleJob, "live-worker");

    const report = await reap(ctx, { graceMs: 0, sandboxIdleMs: 600_000 });
    expect(report.containersRemoved).toBe(3);
    expect(await exists(docker.getContainer(ended).inspect())).toBe(false);
    expect(await exists(docker.getContainer(orphaned).inspect())).toBe(false);
    expect(await exists(docker.getContainer(idle).inspect())).toBe(false);
    expect(await exists(docker.getContainer(busy).inspect())).toBe(true);
    expect(await exists(docker.getContainer(recent).inspect())).toBe(true);
  });
});
