// Command-line arguments of `npm run bisect`: a pure parser, unit-tested.
import { parseArgs } from "node:util";
import { refProblem } from "../git/refs";
import { isGitUrl, urlProblem } from "../git/prepare";
import { readFileSync } from "node:fs";
import { normalizePredicate, PredicateError, type Predicate } from "../engine/predicate";
import { type CacheSetting, parseCacheSetting } from "../settings/cache-paths";
import { envProblems, splitEnvAssignment } from "../settings/env-vars";
import { type NetworkPolicy, parseNetworkPolicy } from "../settings/network";
import { parseRepoConfig, type RepoConfig } from "../settings/repo-config";

export const USAGE =
  "usage: npm run bisect -- --repo <path|git-url> --good <rev> --bad <rev> [--parallel K] [--runs R] " +
  "[--fail-threshold M] [--flaky] [--crash bad|skip] [--timeout-is bad|skip] [--bad-if-output REGEX] " +
  "[--find regression|fix] [--endpoints alongside|when-needed] [--executor docker|local] [--image IMG] " +
  "[--timeout SECONDS] [--first-parent] " +
  "[--setup SCRIPT] [--env K=V]... [--network none|setup|all] [--cache off|PATHS] [--config FILE] " +
  "[--docker-host ENDPOINT] [--farm] [--json] [-- <command...>]";

export const HELP = `${USAGE}

Finds the first bad commit between a good and a bad revision by running the test command on
commits, each run in a fresh container. What a run means:
  exit 0                 good (passes)
  exit 1-127 except 125  bad (fails); 127 = command not found, 126 = not executable: both mean
                         the command cannot run there, see the hints printed with the result
  exit 125               cannot test this commit (skip), as with git bisect run
  exit 128-255, signal   a crash (139 = segmentation fault, 134 = abort): skip, or a failure
                         with --crash bad
  time limit reached     skip, or a failure with --timeout-is bad
With --find fix a pass means fixed (the engine's bad) and a failure means not yet fixed.
  out of memory, a full disk ("No space left on device"), a lost or cancelled run: never good
                         or bad, whatever the options (skip, or retried)
The good and bad revisions are tested too: if the good one fails or the bad one passes, the
bisection stops there and says so (see --endpoints for when). With the docker executor a local repository must be readable by uid 1000
(the container's user).

  --repo <path|git-url>   repository: a local path (used in place) or a URL (cloned as a mirror)
  --good <rev>            a revision where the command passes (sha, tag or branch);
                          with --find fix: an old revision where it is not yet fixed
  --bad <rev>             a revision where the command fails; with --find fix: a newer
                          revision where it is fixed
  --parallel K            runs at once, 1-64 (default 1)
  --runs R                runs per commit, 1-5 (default 1)
  --fail-threshold M      a commit is bad when at least M of its R runs fail (default 1)
  --flaky                 for a flaky test: 5 runs per commit, bad when 3 or more fail, and
                          up to 15 runs of an endpoint, the culprit or its parent whose runs
                          disagree (not with --runs / --fail-threshold)
  --crash bad|skip        exit codes 128-255 and deaths by a signal (default skip)
  --timeout-is bad|skip   a run that reaches --timeout (default skip)
  --bad-if-output REGEX   the output decides: a run whose output (its last 64 KiB, line by
                          line) matches REGEX fails (bad; with --find fix: not yet fixed), any
                          other run that ends by itself passes (exit 125, crash, timeout and
                          infrastructure rules still apply);
                          JavaScript syntax, at most 200 characters, no back-references or
                          nested repetition
  --find regression|fix   regression (default): the first commit that fails; fix: the first
                          commit that passes (good = not yet fixed, bad = fixed)
  --endpoints alongside|when-needed
                          when the good and bad revisions are tested. alongside (default with
                          --parallel above 1): with the first probes, one extra run each at a
                          time beyond --parallel, so a wrong revision is said at once.
                          when-needed (default with --parallel 1, which runs one at a time):
                          only when the answer rests on them (the culprit is the bad revision
                          or a child of the good one; an ambiguous or flaky result) or a run
                          says the command is missing, so a bisection of right revisions makes
                          the runs git bisect run makes, and a wrong revision is said at the end.
                          The farm (--farm) always tests them alongside
  --executor docker|local docker (default): hardened containers on the Docker engine;
                          local: runs the command as this user on this machine (trusted use only)
  --image IMG             Docker image to run in (default: the runner image, built if missing)
  --timeout SECONDS       wall-clock limit of one run (default 600)
  --setup SCRIPT          run before the test on every commit, in the same checkout (install,
                          build); a multi-line script stops at its first failing line; a failure
                          skips the commit (exit 125); its exports (export FOO=1) reach the test
  --env K=V               a variable for the setup and the test (repeatable; names upper case;
                          PATH, HOME and BISECT_* are reserved: prepend to PATH in --setup)
  --network none|setup|all  network for the runs (default none): setup = the setup reaches the
                          network and the test has none; all = both reach it
  --cache off|PATHS       this bisection's dependency cache (docker executor; made for it and
                          removed after it): the tools' caches are kept between its runs, and
                          PATHS (comma-separated paths of the checkout, as bisect.yml's cache:)
                          are restored before each setup and saved after it; off: none
  --config FILE           a bisect.yml (image, setup, command, env, timeout, network, cache, pathspec,
                          runs, flaky, crash, timeout-is, bad-if-output, find), checked as the
                          bot checks .github/bisect.yml; options given here override it
  --first-parent          follow only the first parent of merge commits
  --docker-host ENDPOINT  Docker engine (default: DOCKER_HOST or the local socket); for tcp://
                          endpoints the TLS files come from DOCKER_CERT_PATH or BISECT_ENGINE_CERTS
  --farm                  queue the job on the runner farm (the product's database and workers,
                          DATABASE_URL or a running npm start) instead of running it here;
                          --repo must then be a git URL or a path every runner host can read
  --json                  print one JSON object with the result on stdout
  -h, --help              show this help

With more than one run per commit, a culprit is "found" only when the runs it rests on (its
own and its parent's) agree enough: confidence = share of the culprit's runs that fail × share
of its parent's runs that pass, at least 0.9. Below that the answer is "likely", with the
numbers and the command that would settle it.

The command runs with sh -c in a checkout of each commit. One argument is taken as a shell
script ('make && ./test.sh'); several arguments are quoted and run as one command (npm test -- -t x).
Exit status: 0 when the culprit is found, 1 for any other result (likely included) or an error,
2 for usage errors, 130 when interrupted.`;

export type ExecutorKind = "docker" | "local";
export type EndpointChecks = "alongside" | "when-needed";

/** --endpoints by default: one run at a time waits for the answer to need them. */
export const defaultEndpointChecks = (parallel: number): EndpointChecks =>
  parallel === 1 ? "when-needed" : "alongside";

/** The engine's policy for --endpoints (the endpoints are always verified, only the time differs). */
export const endpointPolicy = (checks: EndpointChecks) =>
  checks === "alongside"
    ? { verifyEndpoints: true, overlapEndpoints: true }
    : { verifyEndpoints: true, deferEndpoints: true };

export interface CliOptions {
  repo: string;
  good: string;
  bad: string;
  parallel: number;
  runs: number;
  failThreshold: number;
  executor: ExecutorKind;
  image?: string;
  timeoutSeconds: number;
  firstParent: boolean;
  dockerHost?: string;
  json: boolean;
  /** Queue on the runner farm instead of running here. */
  farm: boolean;
  /** Set when any of --flaky, --crash, --timeout-is, --bad-if-output, --find was given. */
  predicate?: Predicate;
  /** When the good and bad revisions are tested (default: when-needed at --parallel 1). */
  endpoints: EndpointChecks;
  /** Run before the test on every commit. */
  setup?: string;
  /** Variables for the setup and the test. */
  env: Record<string, string>;
  network: NetworkPolicy;
  /** The dependency cache: off, or extra paths kept between runs (--cache, or --config's cache:). */
  cache?: CacheSetting;
  /** Only commits touching these paths are tested (from --config). */
  pathspec?: string[];
  /** The command line after `--`, as given. */
  commandArgs: string[];
  /** The shell command run with `sh -c`. */
  command: string;
}

export type ParseResult =
  | { kind: "options"; options: CliOptions }
  | { kind: "help" }
  | { kind: "usage-error"; message: string };

const optionConfig = {
  repo: { type: "string" },
  good: { type: "string" },
  bad: { type: "string" },
  parallel: { type: "string" },
  runs: { type: "string" },
  "fail-threshold": { type: "string" },
  executor: { type: "string" },
  image: { type: "string" },
  timeout: { type: "string" },
  "first-parent": { type: "boolean" },
  "docker-host": { type: "string" },
  json: { type: "boolean" },
  farm: { type: "boolean" },
  flaky: { type: "boolean" },
  crash: { type: "string" },
  "timeout-is": { type: "string" },
  "bad-if-output": { type: "string" },
  find: { type: "string" },
  endpoints: { type: "string" },
  setup: { type: "string" },
  env: { type: "string" },
  network: { type: "string" },
  config: { type: "string" },
  cache: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

type OptionName = keyof typeof optionConfig;

class UsageError extends Error {}

/** Reads the file of --config (injected so the parser stays testable). */
export type ReadConfig = (path: string) => string;
const readConfigFile: ReadConfig = (path) => readFileSync(path, "utf8");

/** Parse the arguments after `npm run bisect --` (i.e. `process.argv.slice(2)`). */
export function parseCliArgs(
  argv: readonly string[],
  readConfig: ReadConfig = readConfigFile,
): ParseResult {
  try {
    return parseOrThrow(argv, readConfig);
  } catch (error) {
    if (error instanceof UsageError) return { kind: "usage-error", message: error.message };
    throw error;
  }
}

function parseOrThrow(argv: readonly string[], readConfig: ReadConfig): ParseResult {
  const split = argv.indexOf("--");
  const optionArgs = split === -1 ? [...argv] : argv.slice(0, split);
  const commandArgs = split === -1 ? [] : argv.slice(split + 1);

  const { tokens } = parseArgs({
    args: optionArgs,
    options: optionConfig,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });

  const values = new Map<OptionName, string | true>();
  const envArgs: string[] = [];
  for (const token of tokens) {
    if (token.kind === "positional") {
      throw new UsageError(`unexpected argument '${token.value}': put the test command after --`);
    }
    if (token.kind !== "option") continue;
    const name = token.name as OptionName;
    const flag = token.rawName;
    const config = (optionConfig as Record<string, { type: "string" | "boolean" } | undefined>)[
      token.name
    ];
    if (!config) throw new UsageError(`unknown option ${flag}`);
    if (name === "env") {
      if (token.value === undefined) throw new UsageError("option --env needs a value (K=V)");
      envArgs.push(token.value);
      continue;
    }
    if (values.has(name)) throw new UsageError(`option --${name} is given more than once`);
    if (config.type === "boolean") {
      if (token.value !== undefined) throw new UsageError(`option --${name} takes no value`);
      values.set(name, true);
    } else {
      const value = token.value;
      if (value === undefined || (!token.inlineValue && value.startsWith("-"))) {
        throw new UsageError(`option --${name} needs a value`);
      }
      values.set(name, value);
    }
  }

  if (values.has("help")) return { kind: "help" };

  const configPath = values.get("config") as string | undefined;
  let file: RepoConfig = {};
  if (configPath !== undefined) {
    let text: string;
    try {
      text = readConfig(configPath);
    } catch (error) {
      throw new UsageError(`--config ${configPath}: ${(error as Error).message}`);
    }
    const parsed = parseRepoConfig(text);
    if (!parsed.ok)
      throw new UsageError(
        `--config ${configPath} is not valid:\n  ${parsed.problems.join("\n  ")}`,
      );
    file = parsed.config;
  }

  const str = (name: OptionName) => values.get(name) as string | undefined;
  const required = (name: OptionName, what: string) => {
    const value = str(name);
    if (value === undefined) throw new UsageError(`missing --${name} (${what})`);
    if (value.trim() === "") throw new UsageError(`--${name} is empty`);
    return value;
  };

  const repo = required("repo", "a repository path or git URL");
  if (isGitUrl(repo)) {
    const problem = urlProblem(repo);
    if (problem) throw new UsageError(`--repo URL ${JSON.stringify(repo)} ${problem}`);
  }
  const good = required("good", "a revision where the command passes");
  const bad = required("bad", "a revision where the command fails");
  for (const [name, ref] of [
    ["good", good],
    ["bad", bad],
  ] as const) {
    const problem = refProblem(ref);
    if (problem)
      throw new UsageError(
        `--${name} ${JSON.stringify(ref)} is not a valid revision: it ${problem}`,
      );
  }

  const parallel = integer("parallel", str("parallel"), 1, 1, 64);
  let runs = integer("runs", str("runs"), 1, 1, 5);
  let failThreshold = integer("fail-threshold", str("fail-threshold"), 1, 1, 5);
  const flaky = values.has("flaky");
  if (flaky && (str("runs") !== undefined || str("fail-threshold") !== undefined)) {
    throw new UsageError(
      "--flaky sets --runs 5 and --fail-threshold 3 itself; give either --flaky or --runs/--fail-threshold",
    );
  }
  if (failThreshold > runs) {
    throw new UsageError(
      `--fail-threshold ${failThreshold} is more than --runs ${runs} (a commit cannot fail more often than it runs)`,
    );
  }
  const choice = (name: OptionName, allowed: readonly string[]) => {
    const value = str(name);
    if (value !== undefined && !allowed.includes(value)) {
      throw new UsageError(`--${name} must be ${allowed.join(" or ")}, got '${value}'`);
    }
    return value;
  };
  const crash = choice("crash", ["bad", "skip"]);
  const timeoutIs = choice("timeout-is", ["bad", "skip"]);
  const find = choice("find", ["regression", "fix"]);
  const endpoints = (choice("endpoints", ["alongside", "when-needed"]) ??
    defaultEndpointChecks(parallel)) as EndpointChecks;
  const badIfOutput = str("bad-if-output");
  let predicate: Predicate | undefined;
  // The command line's predicate fields over the file's (runs/fail-threshold replace flaky).
  const given: Record<string, unknown> = {
    ...(crash !== undefined ? { crash } : {}),
    ...(timeoutIs !== undefined ? { timeout: timeoutIs } : {}),
    ...(find !== undefined ? { find } : {}),
    ...(badIfOutput !== undefined ? { badIfOutput } : {}),
    ...(flaky ? { flaky } : {}),
    ...(str("runs") !== undefined ? { runs } : {}),
    ...(str("fail-threshold") !== undefined ? { failThreshold } : {}),
  };
  const fromFile: Record<string, unknown> = { ...file.predicate };
  if (given.runs !== undefined || given.failThreshold !== undefined) delete fromFile.flaky;
  if (given.flaky) {
    delete fromFile.runs;
    delete fromFile.failThreshold;
  }
  const fields = { ...fromFile, ...given };
  const extended = ["flaky", "crash", "timeout", "find", "badIfOutput"].some(
    (k) => fields[k] !== undefined,
  );
  if (extended || file.predicate) {
    try {
      predicate = normalizePredicate(fields);
    } catch (error) {
      if (error instanceof PredicateError)
        throw new UsageError(
          `--${error.message.replace(/^badIfOutput/, "bad-if-output")}${configPath ? ` (with the settings of ${configPath})` : ""}`,
        );
      throw error;
    }
    runs = predicate.runs;
    failThreshold = predicate.failThreshold;
  }

  const executor = str("executor") ?? "docker";
  if (executor !== "docker" && executor !== "local") {
    throw new UsageError(`--executor must be docker or local, got '${executor}'`);
  }
  // The file's image applies to the docker executor only.
  const image = str("image") ?? (executor === "docker" ? file.image : undefined);
  const dockerHost = str("docker-host");
  if (values.has("farm")) {
    if (str("executor") !== undefined)
      throw new UsageError("--farm runs on the farm's hosts; drop --executor");
    if (dockerHost !== undefined)
      throw new UsageError("--farm runs on the farm's hosts; drop --docker-host");
    // The farm's lanes test them on spare slots, so a wrong revision is said at once.
    if (str("endpoints") === "when-needed")
      throw new UsageError(
        "--endpoints when-needed applies to runs here; the farm tests the endpoints alongside the first probes",
      );
  }
  if (executor === "local") {
    if (image !== undefined) throw new UsageError("--image applies only to --executor docker");
    if (dockerHost !== undefined)
      throw new UsageError("--docker-host applies only to --executor docker");
  }
  if (image !== undefined && (image.trim() === "" || image.startsWith("-"))) {
    throw new UsageError(`--image ${JSON.stringify(image)} is not an image name`);
  }
  if (dockerHost !== undefined && !/^(unix|tcp|ssh|npipe):\/\/\S+$/.test(dockerHost)) {
    throw new UsageError(
      `--docker-host must look like unix:///path, tcp://host:port or ssh://user@host, got '${dockerHost}'`,
    );
  }

  const timeoutText = str("timeout");
  let timeoutSeconds = file.timeout ?? 600;
  if (timeoutText !== undefined) {
    timeoutSeconds = Number(timeoutText);
    if (!/^\d+(\.\d+)?$/.test(timeoutText) || !(timeoutSeconds > 0) || timeoutSeconds > 86_400) {
      throw new UsageError(
        `--timeout must be a number of seconds greater than 0 and at most 86400, got '${timeoutText}'`,
      );
    }
  }

  const setup = str("setup") ?? file.setup;
  if (setup !== undefined && setup.trim() === "") throw new UsageError("--setup is empty");
  const env: Record<string, string> = { ...file.env };
  for (const assignment of envArgs) {
    const kv = splitEnvAssignment(assignment);
    if (!kv) throw new UsageError(`--env ${JSON.stringify(assignment)} must be NAME=value`);
    env[kv[0]] = kv[1];
  }
  const problems = envProblems(env);
  if (problems.length > 0) throw new UsageError(`--env: ${problems.join("; ")}`);
  const networkText = str("network");
  const network =
    networkText === undefined ? (file.network ?? "none") : parseNetworkPolicy(networkText);
  if (network === undefined)
    throw new UsageError(`--network must be none, setup or all, got '${networkText}'`);
  if (network !== "none" && values.has("farm"))
    throw new UsageError(
      "--network applies to runs here; on the farm the repository's settings and the plan decide",
    );

  const cacheText = str("cache");
  let cache = file.cache;
  if (cacheText !== undefined) {
    const parsed = parseCacheSetting(
      cacheText === "off" ? false : cacheText.split(",").map((p) => p.trim()),
    );
    if (!parsed.ok) throw new UsageError(`--cache ${parsed.problems.join("; ")}`);
    cache = parsed.cache;
  }

  if (commandArgs.length === 0 && file.command !== undefined) commandArgs.push(file.command);
  if (commandArgs.length === 0 || commandArgs.every((a) => a.trim() === "")) {
    throw new UsageError(
      split === -1
        ? "missing the test command: put it after --, as in -- npm test"
        : "missing the test command after --",
    );
  }

  return {
    kind: "options",
    options: {
      repo,
      good,
      bad,
      parallel,
      runs,
      failThreshold,
      executor,
      ...(image !== undefined ? { image } : {}),
      timeoutSeconds,
      firstParent: values.has("first-parent"),
      ...(dockerHost !== undefined ? { dockerHost } : {}),
      json: values.has("json"),
      farm: values.has("farm"),
      ...(predicate ? { predicate } : {}),
      endpoints,
      ...(setup !== undefined ? { setup } : {}),
      env,
      network,
      ...(cache !== undefined ? { cache } : {}),
      ...(file.pathspec ? { pathspec: file.pathspec } : {}),
      commandArgs: [...commandArgs],
      command: shellCommand(commandArgs),
    },
  };
}

function integer(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got '${text}'`);
  }
  return value;
}

/**
 * The `sh -c` script for the words after `--`: one word is a script as written; several words are
 * each single-quoted, so `npm test -- -t "parses dates"` runs exactly those arguments.
 */
export function shellCommand(words: readonly string[]): string {
  if (words.length === 1) return words[0]!;
  return words.map(shellQuote).join(" ");
}

export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
