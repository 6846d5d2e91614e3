// The farm's mirror cache on a real engine, PostgreSQL and the GitHub stand-in's git server: an
// up-to-date mirror is refreshed by asking the remote for its refs, with no fetch container and
// the credential on the first request; when a branch moves, the mirror is fetched again.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type Docker from "dockerode";
import { Model } from "objection";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/env";
import { BisectJob, type RunnerHost, RunnerMirror } from "../../db/models";
import { makeRepo } from "../../runner/executors/test-support";
import { MIRROR_LABEL, removeMirror } from "../../runner/mirror/mirror";
import { useTestDatabase } from "../../tests/helpers/database";
import {
  dockerRequired,
  ensureImageEverywhere,
  tlsEngines,
  type TestEngine,
} from "../../tests/helpers/engines";
import { farmWorkerEnv } from "../../tests/helpers/farm-worker";
import { startGitHubStandIn, type StandIn } from "../../tests/github-stand-in/server";
import type { WorkerContext } from "../worker-context";
import { StatusCommentCache } from "../github/status-cache";
import { registerHost } from "./hosts";
import { ensureMirror } from "./mirrors";

const { engines, problem } = await tlsEngines();
if (problem && dockerRequired) throw new Error(`Docker engines are required in CI: ${problem}`);
const suite = problem ? describe.skip : describe;

/** The fetch containers the engine created between two instants (ms since the epoch). */
async function fetchContainersCreated(docker: Docker, fromMs: number, toMs: number) {
  const stream = (await docker.getEvents({
    since: Math.floor(fromMs / 1000),
    until: Math.ceil(toMs / 1000),
    filters: { type: ["container"], event: ["create"], label: [MIRROR_LABEL] },
  })) as NodeJS.ReadableStream;
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { timeNano: number })
    .filter((e) => e.timeNano / 1e6 >= fromMs && e.timeNano / 1e6 <= toMs);
}

suite("the farm's mirror cache", () => {
  const db = useTestDatabase();
  let standIn: StandIn;
  let ctx: WorkerContext;
  let host: RunnerHost;
  const repo = makeRepo(4, 2);
  let token = "";
  let repositoryId = 0;

  beforeAll(async () => {
    Model.knex(db.current.knex);
    await ensureImageEverywhere(engines as TestEngine[]);
    standIn = await startGitHubStandIn();
    ({ id: repositoryId } = standIn.addRepository({
      owner: "acme",
      name: "widgets",
      path: repo.dir,
    }));
    standIn.addInstallation({
      id: 77,
      account: { login: "acme", type: "Organization" },
      repositories: ["acme/widgets"],
    });
    token = standIn.issueInstallationToken(77, { permissions: { contents: "read" } });
    ctx = {
      // The stand-in listens on the loopback address: the fetch container shares the host's network.
      config: loadConfig({
        ...farmWorkerEnv(db.current.url, engines[0]),
        RUNNER_FETCH_NETWORK: "host",
      }),
      knex: db.current.knex,
      workerDatabaseUrl: db.current.url,
      statusComments: new StatusCommentCache(),
      instanceId: `mirror-test-${process.pid}`,
      cloneSource: async () => ({
        url: `${standIn.urls.web}/acme/widgets.git`,
        username: "x-access-token",
        password: token,
      }),
    };
    host = await registerHost(db.current.knex, {
      name: "h1",
      dockerEndpoint: engines[0]!.endpoint,
      tlsPath: engines[0]!.tlsPath,
      capacity: 1,
      source: "admin",
    });
    await db.current.knex("installations").insert({
      id: 77,
      accountId: 1,
      accountLogin: "acme",
      accountType: "Organization",
    });
    await db.current
      .knex("repositories")
      .insert({ id: repositoryId, installationId: 77, owner: "acme", name: "widgets" });
  }, 600_000);

  afterAll(async () => {
    for (const m of await RunnerMirror.query(db.current.knex))
      await removeMirror(engines[0]!.docker, m.volume);
    await standIn?.close();
  });

  /** A job of this repository started now: its mirror must be at least as fresh as this. */
  const jobStartedNow = () =>
    BisectJob.query(db.current.knex).insertAndFetch({
      source: "github",
      repositoryId,
      goodRef: repo.shas[0]!,
      badRef: "main",
      command: "sh check.sh",
      status: "running",
      startedAt: new Date(),
    } as Partial<BisectJob>);

  it("asks the remote for its refs and starts no container while they are unchanged", async () => {
    const docker = engines[0]!.docker;

    const first = await jobStartedNow();
    const cold = await ensureMirror(ctx, host, first, { holder: "test" });
    expect(cold).not.toBeNull(); // an empty cache: fetched in a container
    const [row] = await RunnerMirror.query(db.current.knex);
    expect(row!.remoteRefs).toMatch(/^[0-9a-f]{64}$/);

    // A later job finds the mirror older than itself, but the remote has not moved.
    standIn.clearRequests();
    const second = await jobStartedNow();
    const from = Date.now();
    expect(await ensureMirror(ctx, host, second, { holder: "test" })).toBeNull();
    const to = Date.now();
    expect(await fetchContainersCreated(docker, from, to)).toEqual([]);
    const after = await RunnerMirror.query(db.current.knex).findById(row!.id);
    expect(after!.lastFetchedAt!.getTime()).toBeGreaterThanOrEqual(second.startedAt!.getTime());
    // The refs were asked for with the credential from the first request on.
    const asked = standIn.requests({ path: /widgets\.git\// });
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.map((r) => `${r.auth} ${r.status}`)).toEqual(asked.map(() => "basic 200"));

    // A new commit on main: the refs differ, and the mirror is fetched again.
    writeFileSync(path.join(repo.dir, "version.txt"), "next\n");
    execFileSync("git", [
      "-C",
      repo.dir,
      "-c",
      "user.name=T",
      "-c",
      "user.email=t@example.invalid",
      "commit",
      "-qam",
      "next",
    ]);
    const third = await jobStartedNow();
    const fetched = await ensureMirror(ctx, host, third, { holder: "test" });
    expect(fetched).not.toBeNull();
    const moved = await RunnerMirror.query(db.current.knex).findById(row!.id);
    expect(moved!.remoteRefs).not.toBe(row!.remoteRefs);
  }, 300_000);
});
