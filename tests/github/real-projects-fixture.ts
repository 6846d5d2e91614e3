// The world of the real-projects tests, shared by each file of them: two real Docker engines as
// runner hosts, the ecosystems' stand-in images in a real local registry (pulled by the engines
// that run them), the GitHub stand-in serving the fixture repositories, the product's worker, and
// the check that every project's bisection, sent as a signed `/bisect` comment, ends with its
// known culprit in the final comment.
//
// Where runs reach (the host's loopback, where the package servers listen) is the operator's
// setting: RUNNER_RUN_NETWORK, with the plan allowing network, and the operator's ecosystem table
// naming the local registry's images (as a registry mirror would) and, per ecosystem, variables
// of the operator's (a Go module proxy).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject } from "vitest";
import { loadConfig, type Config } from "../../config/env";
import { BisectJob, BisectStep } from "../../db/models";
import { registerHost } from "../../jobs/farm/hosts";
import { startWorker, type StartedWorker } from "../../jobs/worker";
import { runnerBuildContext } from "../../runner/image";
import { ensureStandInImage, type StandInName } from "../../runner/images/test-images";
import { DEFAULT_ECOSYSTEMS } from "../../runner/settings/ecosystems";
import { makeAppKey, startGitHubStandIn, type StandIn } from "../github-stand-in/server";
import { issueCommentPayload } from "../github-stand-in/webhook";
import { useTestDatabase } from "../helpers/database";
import { dockerRequired, ensureImageEverywhere, tlsEngines } from "../helpers/engines";
import {
  hasDockerRegistry,
  pushImage,
  startRegistry,
  type LocalRegistry,
} from "../helpers/registry";
import type { ProjectRepo } from "./projects";
import { ALICE, APP_ID, INSTALLATION_ID, send, WEBHOOK_SECRET } from "./support";
import { webhookFixture } from "./installed";

const OWNER = "acme";

/** One bisection: a repository and the comment that asks for it. */
export interface ProjectCase {
  name: string;
  repo: ProjectRepo;
  comment: string;
  /** The ecosystem zero configuration must pick (none: the repository configures its runs). */
  ecosystem?: string;
  /** Variables the job must run with (the operator's for the ecosystem, or the repository's). */
  env?: Record<string, string>;
  /** bisect.yml's `cache:` paths: one step's setup must save them and a later step's restore them. */
  cachePaths?: string[];
}

export interface RealProjectsOptions {
  /** The stand-in images the projects run on. */
  standIns: StandInName[];
  /** First GitHub id of the file's repositories and comments (distinct per file). */
  idBase: number;
  /**
   * Start the file's package servers and make its projects, once the images are in the registry.
   * `image` is a stand-in's name in the local registry.
   */
  prepare(context: {
    work: string;
    image: (name: StandInName) => string;
  }): Promise<{ cases: ProjectCase[]; env?: Record<string, Record<string, string>> }>;
  /** Stop what `prepare` started. */
  stop(): Promise<void>;
}

/** The engines, or why the real-projects tests cannot run here (an error in CI). */
export async function realProjectsEngines(extraProblem?: string) {
  const { engines, problem: engineProblem } = await tlsEngines();
  const problem =
    engineProblem ??
    (hasDockerRegistry() ? undefined : "docker-registry is not installed") ??
    extraProblem;
  if (problem && dockerRequired) throw new Error(`required in CI: ${problem}`);
  if (problem) console.warn(`skipping a real-projects test: ${problem}`);
  return { engines, suite: problem ? describe.skip : describe };
}

export const verdaccioProblem = () =>
  existsSync("node_modules/.bin/verdaccio") ? undefined : "verdaccio is not installed";

/**
 * Register the hooks that set the world up and tear it down (call inside `describe`), and return
 * the check: every case's bisection ends with its culprit.
 */
export function useRealProjects(
  engines: Awaited<ReturnType<typeof tlsEngines>>["engines"],
  options: RealProjectsOptions,
): { findsEveryCulprit(): Promise<void> } {
  const db = useTestDatabase();
  let work: string;
  let registry: LocalRegistry | undefined;
  let registryAddress: string;
  let standIn: StandIn;
  let config: Config;
  let worker: StartedWorker;
  let cases: ProjectCase[] = [];
  const ids = (c: ProjectCase) => options.idBase + cases.indexOf(c);
  const image = (name: StandInName) => `${registryAddress}/library/${name}`;
  // The runner image of this checkout under a tag of its own: engines are shared, and a run of
  // another checkout may set `bisect-runner:latest` to its own Dockerfile meanwhile.
  const runnerImage = `bisect-runner:${runnerBuildContext().hash.slice(0, 12)}`;
  const removePulledNames = async () => {
    for (const e of engines)
      for (const name of options.standIns)
        await e.docker
          .getImage(image(name))
          .remove()
          .catch(() => {});
  };

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), "bisect-projects-"));
    registryAddress = inject("imageRegistry") || (registry = await startRegistry()).address;
    await ensureImageEverywhere(engines, runnerImage);
    const host1 = engines[0]!.docker;
    // Built once per engine (hash label), pushed under the names the ecosystem table uses; no
    // engine keeps those names, so every host that runs a job pulls the image.
    for (const name of options.standIns)
      await pushImage(host1, await ensureStandInImage(host1, name), image(name));
    await removePulledNames();

    const prepared = await options.prepare({ work, image });
    cases = prepared.cases;

    const privateKey = makeAppKey();
    standIn = await startGitHubStandIn({
      app: { id: APP_ID, slug: "bisect-bot", privateKey },
      users: [{ login: "alice", id: ALICE.id, emails: [] }],
      repositories: cases.map((c) => ({
        owner: OWNER,
        name: c.name,
        id: ids(c),
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

    // The operator's choices: the ecosystem table names the local registry's images and carries
    // the operator's variables; runs granted network share the host's (where the package servers
    // listen on loopback), and the plan lets runs have network.
    const table = path.join(work, "ecosystems.json");
    writeFileSync(
      table,
      JSON.stringify(
        DEFAULT_ECOSYSTEMS.map((rule) => ({
          ...rule,
          ...(rule.image ? { image: `${registryAddress}/library/${rule.image}` } : {}),
          ...(prepared.env?.[rule.ecosystem] ? { env: prepared.env[rule.ecosystem] } : {}),
        })),
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
    await options.stop();
    // The names the product pulled for the jobs (by name: the stand-in's own tag stays).
    if (registryAddress) await removePulledNames();
    await registry?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function findsEveryCulprit(): Promise<void> {
    const sent = cases.map((c) => {
      const repo = { owner: OWNER, name: c.name, id: ids(c), ownerId: 9001 };
      const seeded = standIn.seedComment(OWNER, c.name, 1, {
        body: c.comment,
        user: ALICE.login,
        id: ids(c) + 100_000,
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

    const finalOf = (c: ProjectCase) =>
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

    const repositories = options.standIns.map((name) => name.split(":")[0]).join("|");
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
      if (c.env) expect(job!.options.env).toMatchObject(c.env);
      if (c.cachePaths) {
        expect(job!.options.cache).toEqual(c.cachePaths);
        const logs = (
          await BisectStep.query(db.current.knex).where({ bisectJobId: job!.id }).orderBy("id")
        ).map((s) => s.logExcerpt ?? "");
        // A step saved the directory, and a later one built on it: restored from the cache, or
        // kept in place where the job ran before on that host.
        for (const p of c.cachePaths) {
          expect(logs.some((l) => l.includes(`saved ${p} to the cache`))).toBe(true);
          expect(
            logs.some(
              (l) =>
                l.includes(`restored ${p} from the cache`) ||
                l.includes(`${p} is kept from the last step run here`),
            ),
          ).toBe(true);
        }
      }
      // A job on a stand-in image runs on the digest it was pulled by, from the local registry.
      if (job!.options.image)
        expect(job!.options.imagePinned).toMatch(
          new RegExp(
            `^${registryAddress.replace(/\./g, "\\.")}/library/(${repositories})@sha256:[0-9a-f]{64}$`,
          ),
        );
    }
  }

  return { findsEveryCulprit };
}
