// `npm run bisect`: prepare the repository, resolve the range, run the bisection on an executor,
// print the result. Returns the exit status: 0 found, 1 any other outcome or an error, 2 usage
// error, 130 interrupted.
import { randomUUID } from "node:crypto";
import type Docker from "dockerode";
import { runBisection, type BisectionResult } from "../bisection/run-bisection";
import { connectDocker, parseEndpoint, pingEngine } from "../docker/connect";
import { defaultPredicate, describePredicate, policyOfPredicate } from "../engine/predicate";
import type { Policy, Sha } from "../engine/types";
import { removeCacheVolume } from "../executors/cache-volume";
import { DockerExecutor } from "../executors/docker-executor";
import { networkSwitches } from "../settings/network";
import { LocalExecutor } from "../executors/local-executor";
import { defaultLimits, type Executor, type RunSpec } from "../executors/types";
import { readCommitInfos, type CommitInfo } from "../git/commit-info";
import { isAncestor, listCommitGraph } from "../git/graph";
import { prepareRepo, type PreparedRepo, unreadableBy } from "../git/prepare";
import { resolveRef } from "../git/refs";
import { ensureRunnerImage } from "../image";
import { PID_LABEL, SOURCE_LABEL } from "../labels";
import { endpointPolicy, HELP, parseCliArgs, USAGE, type CliOptions } from "./args";
import {
  errorJson,
  exitCodeHints,
  formatEvent,
  formatResult,
  settleCommand,
  short,
  toJson,
  type JsonResult,
} from "./output";

export interface CliIo {
  /** Receives the JSON object (with --json) or the help text. */
  stdout(text: string): void;
  /** Progress and results for people. */
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  /** Interrupt (Ctrl-C): runs in flight are killed and removed before runCli resolves. */
  signal?: AbortSignal;
}

export const EXIT = { found: 0, notFound: 1, usage: 2, interrupted: 130 } as const;

/** Output kept per run. */
const LOG_LIMIT_BYTES = 64 * 1024;
const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCliArgs(argv);
  if (parsed.kind === "help") {
    io.stdout(`${HELP}\n`);
    return 0;
  }
  if (parsed.kind === "usage-error") {
    io.stderr(`bisect: ${parsed.message}\n${USAGE}\n`);
    return EXIT.usage;
  }
  const options = parsed.options;
  const say = (line: string) => io.stderr(`${line}\n`);
  const finish = (json: JsonResult, code: number) => {
    if (options.json) io.stdout(`${JSON.stringify(json)}\n`);
    return code;
  };

  let repo: PreparedRepo | undefined;
  let executor: OpenedExecutor | undefined;
  try {
    if (io.signal?.aborted) return finish(errorJson("interrupted", true), EXIT.interrupted);
    repo = await prepareRepo(options.repo, { signal: io.signal });
    // The containers run as uid 1000: a local repository it cannot read is bisected from a copy.
    const hidden =
      options.executor === "docker" && !repo.cloned ? await unreadableBy(repo.path) : null;
    if (hidden) {
      say(
        `note: ${hidden} is not readable by uid 1000 (the containers' user); bisecting a copy of ${repo.path} (to avoid the copy: chmod o+rx the directories on the way, or use --executor local for a trusted command)`,
      );
      await repo.cleanup();
      repo = await prepareRepo(`file://${repo.path}`, { signal: io.signal });
    }
    if (repo.cloned) say(`cloned ${options.repo}`);
    const good = await resolveRef(repo.path, options.good, io.signal);
    const bad = await resolveRef(repo.path, options.bad, io.signal);
    if (good === bad)
      throw new Error(
        `--good and --bad name the same commit ${short(good)}: there is nothing to bisect`,
      );
    const graph = await listCommitGraph(repo.path, good, bad, {
      firstParent: options.firstParent,
      ...(options.pathspec ? { pathspec: options.pathspec } : {}),
      signal: io.signal,
    });
    const count = graph.size;
    if (count === 0) {
      throw new Error(
        `the bad revision ${short(bad)} is an ancestor of the good revision ${short(good)}: no commit lies between them (did you swap --good and --bad?)`,
      );
    }
    if (!(await isAncestor(repo.path, good, bad, io.signal))) {
      say(
        `note: ${short(good)} is not an ancestor of ${short(bad)}; bisecting the commits of ${short(bad)} that ${short(good)} lacks`,
      );
    }
    say(
      `bisecting ${count} commit${count === 1 ? "" : "s"} between good ${short(good)} and bad ${short(bad)} ` +
        `(${options.executor} executor, parallel ${options.parallel}${options.runs > 1 ? `, ${options.runs} runs per commit` : ""})`,
    );

    executor = await openExecutor(options, io, say);
    const image = executor.image;
    const cacheVolume = executor.cacheVolume;
    const cachePaths = options.cache || [];
    const repoPath = repo.path;
    const specFor = (sha: Sha): RunSpec => ({
      labels: { [SOURCE_LABEL]: "cli", [PID_LABEL]: String(process.pid) },
      repo: { kind: "host-path", path: repoPath },
      sha,
      command: options.command,
      ...(options.setup !== undefined ? { setup: options.setup } : {}),
      env: options.env,
      timeoutMs: Math.round(options.timeoutSeconds * 1000),
      limits: defaultLimits,
      ...networkSwitches(options.network),
      logLimitBytes: LOG_LIMIT_BYTES,
      ...(image ? { image } : {}),
      ...(cacheVolume ? { cacheVolume } : {}),
      ...(cacheVolume && cachePaths.length ? { cachePaths } : {}),
    });
    const predicate = options.predicate ?? defaultPredicate;
    if (options.predicate) for (const line of describePredicate(predicate)) say(`  ${line}`);
    const policy: Partial<Policy> = {
      ...policyOfPredicate(predicate),
      runs: options.runs,
      failThreshold: options.failThreshold,
      firstParent: options.firstParent,
      // The endpoint checks run alongside the first probes instead of before them, or only when
      // the answer rests on them (--endpoints).
      ...endpointPolicy(options.endpoints),
    };

    const started = performance.now();
    const result = await runBisection({
      graph,
      policy,
      predicate,
      parallel: options.parallel,
      executor: executor.executor,
      specFor,
      signal: io.signal,
      onEvent: (event) => {
        const line = formatEvent(event);
        if (line) say(line);
      },
    });
    const wallMs = performance.now() - started;

    const infos = await commitInfos(repo.path, result);
    say(formatResult(result, infos, wallMs, { find: predicate.find }));
    if (result.outcome === "good-is-bad" || result.outcome === "bad-is-good")
      showEndpointLog(result, good, bad, say);
    for (const hint of exitCodeHints(result, {
      image: options.executor === "docker",
      crash: predicate.crash,
    }))
      say(hint);
    if (result.outcome === "likely" && result.culprit) {
      const parent = graph.parentsOf(result.culprit)?.[0];
      if (parent) say(`    to settle it: ${settleCommand(argv, parent, result.culprit)}`);
    }
    const culpritInfo = result.culprit ? infos.get(result.culprit) : undefined;
    const code = result.aborted
      ? EXIT.interrupted
      : result.outcome === "found"
        ? EXIT.found
        : EXIT.notFound;
    return finish(
      toJson(result, {
        ...(culpritInfo ? { culpritInfo } : {}),
        range: { good, bad, commits: count },
      }),
      code,
    );
  } catch (error) {
    const aborted = io.signal?.aborted === true;
    const message = aborted
      ? "interrupted"
      : error instanceof Error
        ? error.message
        : String(error);
    say(`error: ${message}`);
    return finish(errorJson(message, aborted), aborted ? EXIT.interrupted : EXIT.notFound);
  } finally {
    await executor?.close();
    await repo?.cleanup();
  }
}

interface OpenedExecutor {
  executor: Executor;
  image?: string;
  /** This bisection's dependency cache (made on first use, removed by `close`). */
  cacheVolume?: string;
  /** Remove what was made ahead of time and let go of the connection. Never rejects. */
  close(): Promise<void>;
}

async function openExecutor(
  options: CliOptions,
  io: CliIo,
  say: (line: string) => void,
): Promise<OpenedExecutor> {
  if (options.executor === "local") {
    say(
      "warning: the local executor runs the command as this user on this machine, without isolation",
    );
    return { executor: new LocalExecutor(), close: async () => {} };
  }
  const endpoint = options.dockerHost ?? nonEmpty(io.env.DOCKER_HOST) ?? DEFAULT_DOCKER_HOST;
  const kind = parseEndpoint(endpoint).kind;
  const certDir = nonEmpty(io.env.DOCKER_CERT_PATH) ?? nonEmpty(io.env.BISECT_ENGINE_CERTS);
  const docker: Docker = connectDocker(endpoint, kind === "tcp" && certDir ? { tls: certDir } : {});
  const closeConnection = () => destroyAgent(docker);
  try {
    await pingEngine(docker, 10_000, `Docker engine ${endpoint}`);
    let image = options.image;
    if (!image) {
      const ensured = await ensureRunnerImage(docker, {
        signal: io.signal,
        onProgress: (line) => say(`  image: ${line}`),
      });
      if (ensured.action !== "present") say(`runner image ${ensured.tag} ${ensured.action}`);
      image = ensured.tag;
    }
    // One sandbox (or, for an online setup and an offline test, a pair) per slot, made by the
    // first runs and handed every later commit by exec, as on the farm: no container is created
    // on a later run's path. They carry the CLI's labels and are removed by `close`.
    const executor = new DockerExecutor(docker, {
      image,
      sandboxes: {
        key: `cli-${process.pid}-${randomUUID().slice(0, 8)}`,
        labels: { [SOURCE_LABEL]: "cli", [PID_LABEL]: String(process.pid) },
      },
    });
    // A cache of this bisection's own: warm from its second run on, gone when it ends. Its name
    // says which process made it, as the sandboxes' labels do.
    const cacheVolume =
      options.cache === false
        ? undefined
        : `bisect-cache-cli-${process.pid}-${randomUUID().slice(0, 8)}`;
    return {
      executor,
      image,
      ...(cacheVolume ? { cacheVolume } : {}),
      async close() {
        try {
          await executor.close();
          if (cacheVolume && !(await removeCacheVolume(docker, cacheVolume)))
            say(`warning: the cache volume ${cacheVolume} is still in use and was left`);
        } catch (error) {
          say(
            `warning: could not remove every sandbox or the cache: ${error instanceof Error ? error.message : String(error)}`,
          );
        } finally {
          closeConnection();
        }
      },
    };
  } catch (error) {
    closeConnection();
    throw error;
  }
}

/** Subjects and authors of the culprit and the candidates, for the closing paragraph. */
async function commitInfos(
  repo: string,
  result: BisectionResult,
): Promise<Map<string, CommitInfo>> {
  const shas = [
    ...new Set([...(result.culprit ? [result.culprit] : []), ...result.candidates.slice(0, 30)]),
  ];
  try {
    return new Map((await readCommitInfos(repo, shas)).map((i) => [i.sha, i]));
  } catch {
    return new Map();
  }
}

function showEndpointLog(
  result: BisectionResult,
  good: Sha,
  bad: Sha,
  say: (line: string) => void,
) {
  const sha = result.outcome === "good-is-bad" ? good : bad;
  const step = [...result.steps].reverse().find((s) => s.sha === sha && s.log);
  if (!step) return;
  const tail = step.log.trimEnd().split("\n").slice(-15);
  say(`    last output of ${short(sha)} (exit ${step.exitCode ?? step.reason ?? "?"}):`);
  for (const line of tail) say(`    | ${line}`);
}

function destroyAgent(docker: Docker) {
  const agent = (docker.modem as { agent?: { destroy?: () => void } }).agent;
  agent?.destroy?.();
}

const nonEmpty = (value: string | undefined) => (value && value.trim() !== "" ? value : undefined);
