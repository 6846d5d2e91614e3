// The farm's dependency caches on a real engine and PostgreSQL: each repository of an installation
// gets its own volume on a host (what one repository's setup leaves, another never sees), recorded
// with its measured size; past RUNNER_CACHE_MAX_MB the least recently used cache goes — never one
// a running step uses or a container mounts; a repository's `cache: false` gets none; the purge of
// an installation's repositories removes their caches with their mirrors.
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { Model } from "objection";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { BisectJob, type RunnerHost, RunnerCache } from "../../db/models";
import { cacheVolumeOf, stepCache } from "../../jobs/farm/caches";
import { registerHost } from "../../jobs/farm/hosts";
import { evictLeastRecentlyUsed, removeMirrorsOf } from "../../jobs/farm/mirrors";
import type { WorkerContext } from "../../jobs/worker-context";
import { ensureRunnerImage } from "../../runner/image";
import { DockerExecutor } from "../../runner/executors/docker-executor";
import { removeLabelled } from "../../runner/executors/removal";
import { runOnce } from "../../runner/executors/run-once";
import { makeRepo, specFor } from "../../runner/executors/test-support";
import type { RunSpec } from "../../runner/executors/types";
import { useTestDatabase } from "../helpers/database";
import { dockerRequired, tlsEngines } from "../helpers/engines";
import { farmWorkerEnv } from "../helpers/farm-worker";

const { engines, problem } = await tlsEngines();
if (problem && dockerRequired) throw new Error(`Docker engines are required in CI: ${problem}`);
const suite = problem ? describe.skip : describe;
const db = useTestDatabase();

const MB = 1024 * 1024;
const testLabel = { "bisect-test": randomUUID() };

suite("the farm's dependency caches", () => {
  const repo = makeRepo(2);
  let ctx: Pick<WorkerContext, "knex" | "config" | "instanceId">;
  let host: RunnerHost;
  const jobs: Record<"a" | "b" | "other", BisectJob> = {} as never;
  // Repository ids unique to this run: the volumes are named after them.
  const base = 700_000 + Math.floor(Math.random() * 100_000) * 10;

  beforeAll(async () => {
    Model.knex(db.current.knex);
    const docker = engines[0]!.docker;
    await ensureRunnerImage(docker);
    ctx = {
      instanceId: `cache-test-${base}`,
      knex: db.current.knex,
      config: loadConfig({
        ...farmWorkerEnv(db.current.url, engines[0]),
        RUNNER_CACHE_MAX_MB: "16",
      }),
    };
    host = await registerHost(db.current.knex, {
      name: "cache-host",
      dockerEndpoint: engines[0]!.endpoint,
      tlsPath: engines[0]!.tlsPath,
      capacity: 2,
      source: "admin",
    });
    await db.current.knex("installations").insert([
      { id: 91, accountId: 91, accountLogin: "acme", accountType: "Organization" },
      { id: 92, accountId: 92, accountLogin: "other", accountType: "Organization" },
    ]);
    await db.current.knex("repositories").insert([
      { id: base + 1, installationId: 91, owner: "acme", name: "a" },
      { id: base + 2, installationId: 91, owner: "acme", name: "b" },
      { id: base + 3, installationId: 92, owner: "other", name: "c" },
    ]);
    const job = (repositoryId: number, installationId: number, options = {}) =>
      BisectJob.query(db.current.knex).insertAndFetch({
        source: "github",
        repositoryId,
        installationId,
        goodRef: repo.shas[0]!,
        badRef: repo.shas[1]!,
        command: "true",
        status: "running",
        options,
      } as Partial<BisectJob>);
    jobs.a = await job(base + 1, 91, { cache: ["build"] });
    jobs.b = await job(base + 2, 91);
    jobs.other = await job(base + 3, 92, { cache: false });
  }, 600_000);

  afterAll(async () => {
    const docker = engines[0]?.docker;
    if (docker) {
      await removeLabelled(docker, testLabel);
      for (const j of [jobs.a, jobs.b])
        if (j)
          await docker
            .getVolume(cacheVolumeOf(ctx, j))
            .remove()
            .catch(() => {});
    }
    rmSync(repo.dir, { recursive: true, force: true });
  });

  /** One step of `job` on the host, as bisect__step runs it: its cache comes from stepCache. */
  const step = async (job: BisectJob, overrides: Partial<RunSpec>) => {
    const executor = new DockerExecutor(engines[0]!.docker, { name: "cache-host" });
    try {
      const cache = await stepCache(ctx, host, job);
      return await runOnce(executor, specFor(repo, { labels: testLabel, ...cache, ...overrides }));
    } finally {
      await executor.close();
    }
  };
  const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000);
  const usedAt = (job: BisectJob, minutes: number) =>
    RunnerCache.query(db.current.knex)
      .where({ volume: cacheVolumeOf(ctx, job) })
      .patch({ lastUsedAt: ago(minutes) });
  const volumeExists = (job: BisectJob) =>
    engines[0]!.docker
      .getVolume(cacheVolumeOf(ctx, job))
      .inspect()
      .then(
        () => true,
        () => false,
      );

  // One story, in order: the caches that the first part makes are the ones evicted, then purged.
  it("gives each repository its own cache, evicts the least recently used past the budget (never one in use), and purges an installation's", async () => {
    expect(new Set([cacheVolumeOf(ctx, jobs.a), cacheVolumeOf(ctx, jobs.b)]).size).toBe(2);
    // The same repository under another installation is another cache too.
    expect(cacheVolumeOf(ctx, { ...jobs.a, installationId: 92 } as BisectJob)).not.toBe(
      cacheVolumeOf(ctx, jobs.a),
    );
    // And under another deployment sharing the host (its ids are its own).
    expect(cacheVolumeOf({ instanceId: "another-deployment" }, jobs.a)).not.toBe(
      cacheVolumeOf(ctx, jobs.a),
    );
    const fill = (name: string) =>
      `head -c ${10 * MB} /dev/zero >/cache/blob; echo ${name} >/cache/owner; ls /cache`;
    const a = await step(jobs.a, { setup: fill("a"), command: "cat /cache/owner" });
    expect(a.exitCode).toBe(0);
    const b = await step(jobs.b, {
      setup: "cat /cache/owner 2>/dev/null || echo NOT-A; " + fill("b"),
      command: "cat /cache/owner",
    });
    expect(b.exitCode).toBe(0);
    expect(b.log).toContain("NOT-A");
    expect(b.log).not.toMatch(/^a$/m);
    const none = await step(jobs.other, {
      setup: "true",
      command: "[ -d /cache ] && echo HAS-CACHE || echo NO-CACHE",
    });
    expect(none.log).toContain("NO-CACHE");
    const rows = await RunnerCache.query(db.current.knex).orderBy("id");
    expect(rows.map((r) => [r.repoKey, r.installationId])).toEqual([
      [`github:${base + 1}`, 91],
      [`github:${base + 2}`, 91],
    ]);

    // Past the budget: the least recently used cache goes, never one in use.
    const docker = engines[0]!.docker;
    // Both caches unused for a while; a's the longest. b is used by a running step (a lease).
    await usedAt(jobs.a, 120);
    await usedAt(jobs.b, 60);
    const [stepRow] = await db.current
      .knex("bisect_steps")
      .insert({ bisectJobId: jobs.b.id, sha: repo.shas[1], round: 1, status: "running" })
      .returning("id");
    const [lease] = await db.current
      .knex("runner_leases")
      .insert({
        runnerHostId: host.id,
        bisectStepId: stepRow.id,
        holder: "test",
        expiresAt: new Date(Date.now() + 60_000),
      })
      .returning("id");
    // a is mounted by a container (a step's, stopped but not yet removed).
    const mounting = await docker.createContainer({
      Image: "debian:bookworm-slim",
      Cmd: ["true"],
      Labels: testLabel,
      HostConfig: {
        Mounts: [{ Type: "volume", Source: cacheVolumeOf(ctx, jobs.a), Target: "/c" }],
      },
    });
    expect(await evictLeastRecentlyUsed(ctx, host, null)).toEqual([]);
    // Both were measured: 10 MB each, together over the 16 MB budget.
    const sizes = (await RunnerCache.query(db.current.knex)).map((r) => r.sizeBytes);
    for (const size of sizes) expect(Number(size)).toBeGreaterThanOrEqual(10 * MB);

    await mounting.remove();
    expect(await evictLeastRecentlyUsed(ctx, host, null)).toEqual([cacheVolumeOf(ctx, jobs.a)]);
    expect(await volumeExists(jobs.a)).toBe(false);
    expect(await volumeExists(jobs.b)).toBe(true);
    // Within the budget now: b stays even once its step is over.
    await db.current
      .knex("runner_leases")
      .where({ id: lease.id })
      .update({ releasedAt: new Date() });
    expect(await evictLeastRecentlyUsed(ctx, host, null)).toEqual([]);
    expect((await RunnerCache.query(db.current.knex)).map((r) => r.volume)).toEqual([
      cacheVolumeOf(ctx, jobs.b),
    ]);

    // The next step of a's repository starts cold again.
    const cold = await step(jobs.a, {
      setup: "cat /cache/owner 2>/dev/null || echo COLD",
      command: "true",
    });
    expect(cold.log).toContain("COLD");

    // A removed installation's caches go with its mirrors.
    expect(await removeMirrorsOf(ctx as WorkerContext, [base + 1, base + 2])).toBe(2);
    expect(await volumeExists(jobs.a)).toBe(false);
    expect(await volumeExists(jobs.b)).toBe(false);
    expect(await RunnerCache.query(db.current.knex)).toEqual([]);
  }, 600_000);
});
