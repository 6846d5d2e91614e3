// Ordinary projects bisect out of the box, through the GitHub path (signed webhook → worker →
// farm on two real Docker engines → final comment): a Node project whose dependency comes from a
// real npm registry (verdaccio), a Python project whose dependency comes from a package index of
// local wheels, and a C project built with CMake and tested with ctest. Each is bisected once
// with nothing but `/bisect <good> <bad> -- <test>` (zero configuration picks the image and the
// setup) and once with a `.github/bisect.yml`.
//
// The Node and Python images are stand-ins for node:20-bookworm and python:3.12-bookworm (Debian's
// toolchains, no `safe.directory`, root as the default user) served by a real local registry
// under the same names, and pulled by the engines that run them. Where runs reach (the host's
// loopback, where the registries listen) is the operator's setting: RUNNER_RUN_NETWORK, with the
// plan allowing network, and the operator's ecosystem table naming the local registry.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig, type Config } from "../../config/env";
import { BisectJob, BisectStep } from "../../db/models";
import { startWorker, type StartedWorker } from "../../jobs/worker";
import { registerHost } from "../../jobs/farm/hosts";
import { runnerBuildContext } from "../../runner/image";
import { ensureStandInImage, type StandInName } from "../../runner/images/test-images";
import { DEFAULT_ECOSYSTEMS } from "../../runner/settings/ecosystems";
import { makeAppKey, startGitHubStandIn, type StandIn } from "../github-stand-in/server";
import { issueCommentPayload } from "../github-stand-in/webhook";
import { useTestDatabase } from "../helpers/database";
import { dockerRequired, ensureImageEverywhere, tlsEngines } from "../helpers/engines";
import { startPythonIndex, type PythonIndex } from "../helpers/python-index";
import {
  hasDockerRegistry,
  pushImage,
  startRegistry,
  type LocalRegistry,
} from "../helpers/registry";
import { startVerdaccio, type NpmRegistry } from "../helpers/verdaccio";
import {
  cmakeProject,
  nodeProject,
  publishTinyMath,
  pythonProject,
  TINYSTATS,
  type ProjectRepo,
} from "./projects";
import { ALICE, APP_ID, INSTALLATION_ID, send, WEBHOOK_SECRET } from "./support";
import { webhookFixture } from "./installed";

const { engines, problem: engineProblem } = await tlsEngines();
const problem =
  engineProblem ??
  (hasDockerRegistry() ? undefined : "docker-registry is not installed") ??
  (existsSync("node_modules/.bin/verdaccio") ? undefined : "verdaccio is not installed");
if (problem && dockerRequired) throw new Error(`required in CI: ${problem}`);
if (problem) console.warn(`skipping the real-projects test: ${problem}`);
const suite = problem ? describe.skip : describe;

const OWNER = "acme";
const STAND_INS: StandInName[] = ["node:20-bookworm", "python:3.12-bookworm"];

interface Case {
  name: string;
  id: number;
  repo: ProjectRepo;
  comment: string;
  ecosystem?: string;
}

suite("real projects bisect out of the box", () => {
  const db = useTestDatabase();
  let work: string;
  let registry: LocalRegistry | undefined;
  let registryAddress: string;
  let npm: NpmRegistry;
  let pypi: PythonIndex;
  let standIn: StandIn;
  let config: Config;
  let worker: StartedWorker;
  const cases: Case[] = [];
  const image = (name: StandInName) => `${registryAddress}/library/${name}`;
  // The runner image of this checkout under a tag of its own: engines are shared, and a run of
  // another checkout may set `bisect-runner:latest` to its own Dockerfile meanwhile.
  const runnerImage = `bisect-runner:${runnerBuildContext().hash.slice(0, 12)}`;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), "bisect-projects-"));
    registryAddress = inject("imageRegistry") || (registry = await startRegistry()).address;
    await ensureImageEverywhere(engines, runnerImage);
    const host1 = engines[0]!.docker;
    // Built once per engine (hash label), pushed under the names the ecosystem table uses; no
    // engine keeps those names, so every host that runs a job pulls the image.
    for (const name of STAND_INS) {
      await pushImage(host1, await ensureStandInImage(host1, name), image(name));
      for (const e of engines)
        await e.docker
          .getImage(image(name))
          .remove()
          .catch(() => {});
    }

    npm = await startVerdaccio();
    publishTinyMath(npm);
    pypi = await startPythonIndex();
    for (const [version, module] of Object.entries(TINYSTATS))
      pypi.addWheel("tinystats", version, module);

    const nodeYml = [
      `image: ${image("node:20-bookworm")}`,
      "setup: npm ci",
      "command: npm test",
      "network: true",
      "",
    ].join("\n");
    const pythonYml = [
      `image: ${image("python:3.12-bookworm")}`,
      "setup: |",
      "  python -m venv /work/.venv",
      "  . /work/.venv/bin/activate",
      "  pip install -r requirements.txt",
      "command: python -m unittest -v",
      "network: true",
      "env:",
      "  PIP_DISABLE_PIP_VERSION_CHECK: '1'",
      "",
    ].join("\n");
    const cmakeYml = [
      "setup: cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build",
      "command: ctest --test-dir build --output-on-failure",
      "cache: [build]",
      "",
    ].join("\n");
    const add = (name: string, repo: ProjectRepo, comment: string, ecosystem?: string) =>
      cases.push({ name, id: 710_000 + cases.length, repo, comment, ecosystem });
    add(
      "node-zero",
      nodeProject(work, "node-zero", npm),
      "/bisect v1.0.0 main -- npm test",
      "Node (npm)",
    );
    add(
      "node-config",
      nodeProject(work, "node-config", npm, { bisectYml: nodeYml }),
      "/bisect v1.0.0 main",
    );
    add(
      "python-zero",
      pythonProject(work, "python-zero", pypi.url),
      "/bisect v1.0.0 main -- python -m unittest -v",
      "Python",
    );
    add(
      "python-config",
      pythonProject(work, "python-config", pypi.url, { bisectYml: pythonYml }),
      "/bisect v1.0.0 main",
    );
    add(
      "cmake-zero",
      cmakeProject(work, "cmake-zero"),
      "/bisect v1.0.0 main -- ctest --test-dir build --output-on-failure",
      "C/C++ (CMake)",
    );
    add(
      "cmake-config",
      cmakeProject(work, "cmake-config", { bisectYml: cmakeYml }),
      "/bisect v1.0.0 main",
    );

    const privateKey = makeAppKey();
    standIn = await startGitHubStandIn({
      app: { id: APP_ID, slug: "bisect-bot", privateKey },
      users: [{ login: "alice", id: ALICE.id, emails: [] }],
      repositories: cases.map((c) => ({
        owner: OWNER,
        name: c.name,
        id: c.id,
        path: c.repo.path,
        private: true,
      })),
      installations: [
        {
          id: INSTALLATION_ID,
          account: { login: OWNER, type: "Organization", id: 9001 },
          repositories: cases.map((c) => `${OWNER}/${c.name}`),
        },
      ],
    });
    for (const c of cases) standIn.setPermission(OWNER, c.name, "alice", "write");

    // The operator's choices: the ecosystem table names the local registry's images (as a
    // registry mirror would), runs granted network share the host's (where the registries
    // listen on loopback), and the plan lets runs have network.
    const table = path.join(work, "ecosystems.json");
    writeFileSync(
      table,
      JSON.stringify(
        DEFAULT_ECOSYSTEMS.map((rule) =>
          rule.image ? { ...rule, image: `${registryAddress}/library/${rule.image}` } : rule,
        ),
      ),
    );
    config = loadConfig({
      DATABASE_URL: db.current.url,
      LOG_LEVEL: "error",
      PUBLIC_URL: "https://bisect.example.com",
      GITHUB_APP_ID: String(APP_ID),
      GITHUB_APP_SLUG: "bisect-bot",
      GITHUB_APP_PRIVATE_KEY: privateKey,
      GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
      GITHUB_CLIENT_ID: "Iv23liTestClient",
      GITHUB_CLIENT_SECRET: "client-secret",
      GITHUB_API_URL: standIn.urls.api,
      GITHUB_URL: standIn.urls.web,
      WORKER_CONCURRENCY: "8",
      RUNNER_IMAGE: runnerImage,
      RUNNER_FETCH_NETWORK: "host",
      RUNNER_RUN_NETWORK: "host",
      RUNNER_IMAGE_ALLOW: `${registryAddress}/library/*`,
      BISECT_ECOSYSTEMS_FILE: table,
    });
    await db.current.knex("rate_limits").update({ test_network: true });
    for (const e of engines)
      await registerHost(db.current.knex, {
        name: e.name,
        dockerEndpoint: e.endpoint,
        tlsPath: e.tlsPath,
        capacity: 2,
        source: "admin",
      });
    worker = await startWorker(config, { registerEnvHost: false });
    const installed = await send(
      config,
      db.current.knex,
      "installation",
      webhookFixture("installation.created"),
    );
    expect(installed.status).toBe(202);
  }, 1_200_000);

  afterAll(async () => {
    await worker?.stop();
    await standIn?.close();
    await npm?.stop();
    await pypi?.stop();
    // The names the product pulled for the jobs (by name: the stand-in's own tag stays).
    for (const e of engines)
      for (const name of STAND_INS)
        await e.docker
          .getImage(image(name))
          .remove()
          .catch(() => {});
    await registry?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("finds each project's culprit, with zero configuration and with .github/bisect.yml", async () => {
    let commentId = 880_000;
    const sent = cases.map((c) => {
      const repo = { owner: OWNER, name: c.name, id: c.id, ownerId: 9001 };
      const seeded = standIn.seedComment(OWNER, c.name, 1, {
        body: c.comment,
        user: ALICE.login,
        id: ++commentId,
      });
      return {
        c,
        payload: issueCommentPayload({
          action: "created",
          installationId: INSTALLATION_ID,
          repo,
          issue: { number: 1, title: "The tests fail on main" },
          comment: { id: seeded.id, body: c.comment, user: ALICE, author_association: "MEMBER" },
        }),
      };
    });
    for (const { payload } of sent)
      expect((await send(config, db.current.knex, "issue_comment", payload)).status).toBe(202);

    const finalOf = (c: Case) =>
      standIn
        .comments(OWNER, c.name, 1)
        .find(
          (m) =>
            m.user === "bisect-bot[bot]" &&
            !m.deleted &&
            /found the first bad commit|failed|could not finish|Bisection \d+ (ended|stopped)/.test(
              m.body,
            ),
        )?.body ?? "";
    for (const { c } of sent)
      await expect
        .poll(() => finalOf(c), { timeout: 900_000, interval: 1000 })
        .toMatch(/found the first bad commit|failed|could not finish|ended|stopped/);

    for (const { c, payload } of sent) {
      const body = finalOf(c);
      const job = await BisectJob.query(db.current.knex).findOne({
        triggerCommentId: (payload.comment as { id: number }).id,
      });
      // On a miss, the comment (with its table of runs and log excerpts) says why.
      expect({ name: c.name, outcome: job?.outcome, culprit: job?.culpritSha }, body).toEqual({
        name: c.name,
        outcome: "found",
        culprit: c.repo.culprit,
      });
      expect(body).toMatch(/found the first bad commit/);
      expect(body).toContain(c.repo.culprit.slice(0, 7));
      if (c.ecosystem) {
        expect(job!.options.zeroConfig).toMatchObject({ ecosystem: c.ecosystem });
        expect(body).toContain(`this looks like a ${c.ecosystem} project`);
      } else expect(job!.options.zeroConfig).toBeUndefined();
      // bisect.yml's cache: the build directory one step's setup saved, a later step restored.
      if (c.name === "cmake-config") {
        expect(job!.options.cache).toEqual(["build"]);
        const logs = (
          await BisectStep.query(db.current.knex).where({ bisectJobId: job!.id }).orderBy("id")
        ).map((s) => s.logExcerpt ?? "");
        expect(logs.some((l) => l.includes("saved build to the cache"))).toBe(true);
        expect(logs.some((l) => l.includes("restored build from the cache"))).toBe(true);
      }
      // A job on a stand-in image runs on the digest it was pulled by, from the local registry.
      if (job!.options.image)
        expect(job!.options.imagePinned).toMatch(
          new RegExp(
            `^${registryAddress.replace(/\./g, "\\.")}/library/(node|python)@sha256:[0-9a-f]{64}$`,
          ),
        );
    }
  }, 1_200_000);
});
