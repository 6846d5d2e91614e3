// `npm run admin -- runners …` against real Docker engines over TLS: a host is checked before it
// takes work (the runner image copied from a host that has it), refused with the reason when a
// check fails, drained, re-activated and removed only once its leases are given back.
import { randomBytes } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { startWorker, type StartedWorker } from "../../jobs/worker";
import { registerHost } from "../../jobs/farm/hosts";
import { acquireLease } from "../../jobs/farm/leases";
import { runnerBuildContext, RUNNER_HASH_LABEL } from "../../runner/image";
import { useTestDatabase } from "../helpers/database";
import {
  dockerRequired,
  ensureImageEverywhere,
  tlsEngines,
  type TestEngine,
} from "../helpers/engines";
import { admin, adminAudit } from "./support";

const { engines, problem } = await tlsEngines();
if (problem && dockerRequired) throw new Error(`Docker engines are required in CI: ${problem}`);
const suite = problem ? describe.skip : describe;

// The runner image under a tag only the first engine has, so adding the second must copy it.
const TAG_NAME = `admin-test-${randomBytes(4).toString("hex")}`;
const TAG = `bisect-runner:${TAG_NAME}`;

// Each command is a process start, a job and a round trip: generous limits for a busy machine.
suite("admin: runner hosts", { timeout: 120_000 }, () => {
  const db = useTestDatabase();
  const cli = (...args: string[]) => admin(db.current.url, args);
  const knex = () => db.current.knex;
  let worker: StartedWorker;
  let e1: TestEngine;
  let e2: TestEngine;

  beforeAll(async () => {
    [e1, e2] = engines as [TestEngine, TestEngine];
    await ensureImageEverywhere(engines as TestEngine[]);
    await e1.docker.getImage("bisect-runner:latest").tag({ repo: "bisect-runner", tag: TAG_NAME });
    const config = loadConfig({
      DATABASE_URL: db.current.url,
      LOG_LEVEL: "error",
      RUNNER_IMAGE: TAG,
    });
    worker = await startWorker(config, { registerEnvHost: false });
  }, 600_000);
  afterAll(async () => {
    await worker?.stop();
    for (const e of engines)
      await e.docker
        .getImage(TAG)
        .remove({ noprune: true })
        .catch(() => {});
  });

  const hostRow = (name: string) => knex()("runnerHosts").where({ name }).first();

  // Each test starts from no hosts and no leases, and seeds what it needs.
  beforeEach(async () => {
    await knex()("runnerLeases").delete();
    await knex()("runnerHosts").delete();
  });
  /** h1 and h2 as `runners add` leaves them (the runner image under TAG on both). */
  async function seedHosts(): Promise<void> {
    await e2.docker.getImage("bisect-runner:latest").tag({ repo: "bisect-runner", tag: TAG_NAME });
    await registerHost(knex(), {
      name: "h1",
      dockerEndpoint: e1.endpoint,
      tlsPath: e1.tlsPath,
      capacity: 2,
      labels: { zone: "test" },
      source: "admin",
    });
    await registerHost(knex(), {
      name: "h2",
      dockerEndpoint: e2.endpoint,
      tlsPath: e2.tlsPath,
      capacity: 2,
      source: "admin",
    });
    await knex()("runnerHosts").update({ state: "active", lastSeenAt: new Date() });
  }
  const holdLease = async (name: string) =>
    knex()("runnerLeases").insert({
      runnerHostId: (await hostRow(name)).id,
      holder: "test-run",
      expiresAt: new Date(Date.now() + 600_000),
    });
  const addGhost = () =>
    knex()("runnerHosts").insert({
      name: "ghost",
      dockerEndpoint: "tcp://127.0.0.1:1",
      tlsPath: e1.tlsPath,
      state: "down",
    });

  it("adds a TLS host that passes every check, and copies the runner image to the next one", async () => {
    await e2.docker
      .getImage(TAG)
      .remove({ noprune: true })
      .catch(() => {});
    const first = await cli(
      "runners",
      "add",
      "h1",
      e1.endpoint,
      "--tls-dir",
      e1.tlsPath,
      "--capacity",
      "2",
      "--label",
      "zone=test",
    );
    expect(first.code, first.stderr).toBe(0);
    for (const check of ["name", "connection", "ping", "version", "image", "probe"])
      expect(first.stdout).toMatch(new RegExp(`^ok\\s+${check}\\s`, "m"));
    expect(first.stdout).toMatch(
      /connection\s+TLS with a client certificate to 127\.0\.0\.1:23761/,
    );
    expect(first.stdout).toMatch(new RegExp(`image\\s+${TAG} present`));
    expect(first.stdout).toContain(`added h1: active, 2 slots, ${e1.endpoint}`);

    // h2 gets the image copied from h1, or named from the same build when it already has one.
    const sameBuildOnH2 = await e2.docker.listImages({
      filters: JSON.stringify({ label: [`${RUNNER_HASH_LABEL}=${runnerBuildContext().hash}`] }),
    });
    // A relative TLS directory is stored as the absolute path it names.
    const second = await cli(
      "runners",
      "add",
      "h2",
      e2.endpoint,
      "--tls-dir",
      path.relative(process.cwd(), e2.tlsPath),
      "--json",
    );
    expect(second.code, second.stderr).toBe(0);
    expect(second.json.result).toMatchObject({
      added: true,
      host: { name: "h2", state: "active", capacity: 2, slotsInUse: 0 },
    });
    const checks = second.json.result!.checks as Array<{
      check: string;
      ok: boolean;
      detail: string;
    }>;
    expect(checks.find((c) => c.check === "image")).toMatchObject({
      ok: true,
      detail: expect.stringContaining(
        sameBuildOnH2.length > 0
          ? `${TAG} named from the same build already on the host`
          : `${TAG} copied from h1`,
      ),
    });
    const copied = await e2.docker.getImage(TAG).inspect();
    expect(copied.Config.Labels[RUNNER_HASH_LABEL]).toBe(runnerBuildContext().hash);

    expect(await hostRow("h1")).toMatchObject({
      state: "active",
      source: "admin",
      capacity: 2,
      labels: { zone: "test" },
      tlsPath: e1.tlsPath,
      lastError: null,
    });
    expect(await hostRow("h2")).toMatchObject({
      state: "active",
      tlsPath: path.resolve(e2.tlsPath),
    });
    expect((await hostRow("h2")).lastSeenAt).toBeInstanceOf(Date);
  }, 300_000);

  it("refuses an unreachable engine, missing TLS material, plain tcp to a remote engine and a taken name, saying why", async () => {
    await seedHosts();
    const [unreachable, noMaterial, plain, taken] = await Promise.all([
      cli("runners", "add", "h9", "tcp://127.0.0.1:1", "--tls-dir", e1.tlsPath),
      cli("runners", "add", "h8", "tcp://127.0.0.1:2", "--tls-dir", "/nonexistent/certs"),
      cli("runners", "add", "h7", "tcp://192.0.2.10:2375", "--json"),
      cli("runners", "add", "h1", "tcp://127.0.0.1:3", "--tls-dir", e1.tlsPath),
    ]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/runner host h9 not added: h9 unreachable: ECONNREFUSED/);
    expect(unreachable.stdout).toMatch(/^ok\s+connection/m);
    expect(unreachable.stdout).toMatch(/^FAIL\s+ping\s+h9 unreachable/m);
    expect(unreachable.stdout).toMatch(/not added$/m);

    expect(noMaterial.code).toBe(1);
    expect(noMaterial.stderr).toContain(
      "runner host h8 not added: TLS material: /nonexistent/certs/ca.pem does not exist",
    );

    expect(plain.code).toBe(1);
    expect(plain.json).toMatchObject({ status: "failed", result: { added: false, host: null } });
    expect(plain.json.error).toContain(
      "refusing plain tcp to 192.0.2.10: a remote Docker engine is reached only over TLS with client certificates",
    );

    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain("a runner host named h1 already exists");

    expect(await knex()("runnerHosts").orderBy("name").pluck("name")).toEqual(["h1", "h2"]);
  });

  it("lists hosts: redacted endpoint, state, slots in use of capacity, last seen, last error", async () => {
    await seedHosts();
    await holdLease("h1");
    const [json, human] = await Promise.all([
      cli("runners", "list", "--json"),
      cli("runners", "list"),
    ]);
    expect(json.code, json.stderr).toBe(0);
    expect(json.json.result!.hosts).toEqual([
      expect.objectContaining({
        name: "h1",
        endpoint: e1.endpoint,
        state: "active",
        capacity: 2,
        slotsInUse: 1,
        labels: { zone: "test" },
        lastError: null,
      }),
      expect.objectContaining({
        name: "h2",
        endpoint: e2.endpoint,
        state: "active",
        capacity: 2,
        slotsInUse: 0,
      }),
    ]);
    expect(human.stdout).toMatch(
      /^NAME\s+ENDPOINT\s+STATE\s+SLOTS\s+LAST SEEN\s+LABELS\s+LAST ERROR$/m,
    );
    expect(human.stdout).toMatch(
      /^h1\s+tcp:\/\/127\.0\.0\.1:23761\s+active\s+1\/2\s+\d+s ago\s+zone=test\s+-$/m,
    );
  });

  it("checks hosts now and records what fails", async () => {
    await seedHosts();
    await knex()("runnerHosts").insert({
      name: "ghost",
      dockerEndpoint: "tcp://127.0.0.1:1",
      tlsPath: e1.tlsPath,
      state: "active",
    });
    const [one, all, missing] = await Promise.all([
      cli("runners", "check", "h1"),
      cli("runners", "check", "--json"),
      cli("runners", "check", "nope"),
    ]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/^h1\s+ok\s+active\s+\d+\.\d+/m);
    expect(all.code).toBe(1);
    expect(all.json.error).toMatch(/^ghost: ghost unreachable: ECONNREFUSED/);
    expect(
      (all.json.result!.hosts as Array<{ name: string; ok: boolean }>).map((h) => [h.name, h.ok]),
    ).toEqual([
      ["ghost", false],
      ["h1", true],
      ["h2", true],
    ]);
    expect(await hostRow("ghost")).toMatchObject({
      state: "down",
      lastError: expect.stringContaining("ECONNREFUSED"),
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no runner host named nope (hosts: ghost, h1, h2)");
  });

  it("drains a host (no new leases there) and activates it again", async () => {
    await seedHosts();
    await addGhost();
    await holdLease("h1");
    const drain = await cli("runners", "drain", "h2");
    expect(drain.code, drain.stderr).toBe(0);
    expect(drain.stdout).toBe(
      "h2 is draining (was active): it takes no new work; nothing runs there now.\n",
    );
    // h1 has one free slot; h2 takes none while draining.
    const taken = [
      await acquireLease(knex(), { holder: "t", ttlSeconds: 60 }),
      await acquireLease(knex(), { holder: "t", ttlSeconds: 60 }),
    ];
    expect(taken.map((l) => l?.host.name ?? null)).toEqual(["h1", null]);
    await knex()("runnerLeases")
      .where({ id: taken[0]!.lease.id })
      .update({ releasedAt: new Date() });
    // A probe keeps a draining host draining.
    expect((await cli("runners", "check", "h2")).code).toBe(0);
    expect(await hostRow("h2")).toMatchObject({ state: "draining" });

    const activate = await cli("runners", "activate", "h2");
    expect(activate.code, activate.stderr).toBe(0);
    expect(activate.stdout).toBe("h2 is active (was draining).\n");
    expect(await hostRow("h2")).toMatchObject({ state: "active" });

    const down = await cli("runners", "activate", "ghost");
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(
      /ghost fails its check \(ghost unreachable: ECONNREFUSED.*\); it is down/,
    );
  });

  it("removes a host only without open leases; --force drains it and waits for them", async () => {
    await seedHosts();
    await addGhost();
    await holdLease("h1");
    const refused = await cli("runners", "remove", "h1");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      "h1 holds 1 open lease(s): drain it (runners drain h1), wait for its runs to finish and remove it, or use --force",
    );
    expect(await hostRow("h1")).toMatchObject({ state: "active" });

    const forced = cli("runners", "remove", "h1", "--force");
    await expect
      .poll(async () => (await hostRow("h1"))?.state, { timeout: 60_000 })
      .toBe("draining");
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await hostRow("h1")).toBeDefined();
    await knex()("runnerLeases").whereNull("releasedAt").update({ releasedAt: new Date() });
    const removed = await forced;
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toMatch(/^removed h1 after draining it for \d+s\.$/m);
    expect(await hostRow("h1")).toBeUndefined();

    const ghost = await cli("runners", "remove", "ghost");
    expect(ghost.code, ghost.stderr).toBe(0);
    expect(ghost.stdout).toBe("removed ghost.\n");
    expect(await knex()("runnerHosts").pluck("name")).toEqual(["h2"]);
  });

  it("leaves an audit entry for each runners command, failures included", async () => {
    await seedHosts();
    const plain = await cli("runners", "add", "h7", "tcp://192.0.2.10:2375");
    expect(plain.code).toBe(1);
    for (const args of [
      ["list"],
      ["check", "h2"],
      ["drain", "h2"],
      ["activate", "h2"],
      ["remove", "h1", "--force"],
    ]) {
      const call = await cli("runners", ...args);
      expect(call.code, call.stderr).toBe(0);
    }
    const audit = await adminAudit(knex());
    for (const action of [
      "runners.add",
      "runners.list",
      "runners.check",
      "runners.drain",
      "runners.activate",
      "runners.remove",
    ]) {
      expect(
        audit.some((a) => a.action === action),
        action,
      ).toBe(true);
    }
    expect(audit.find((a) => a.action === "runners.add" && a.subjectId === "h7")).toMatchObject({
      subjectType: "runner_host",
      details: {
        status: "failed",
        args: { endpoint: "tcp://192.0.2.10:2375" },
        error: expect.stringContaining("refusing plain tcp"),
      },
    });
    expect(
      audit.find(
        (a) =>
          a.action === "runners.remove" && a.subjectId === "h1" && a.details.status === "succeeded",
      ),
    ).toMatchObject({
      details: { args: { name: "h1", force: true } },
    });
    // No TLS material in the log: only the directory's path.
    expect(JSON.stringify(audit)).not.toContain("BEGIN");
  });
});
