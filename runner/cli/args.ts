// Command-line arguments of `npm run bisect`: a pure parser, unit-tested.
import { parseArgs } from "node:util";
import { refProblem } from "../git/refs.js";
import { isGitUrl, urlProblem } from "../git/prepare.js";

export const USAGE =
  "usage: npm run bisect -- --repo <path|git-url> --good <rev> --bad <rev> [--parallel K] [--runs R] " +
  "[--fail-threshold M] [--executor docker|local] [--image IMG] [--timeout SECONDS] [--first-parent] " +
  "[--docker-host ENDPOINT] [--farm] [--json] -- <command...>";

export const HELP = `${USAGE}

Finds the first bad commit between a good and a bad revision by running the test command on
commits, each run in a fresh container: exit 0 = good, 125 = cannot test (skip), 1-127 = bad;
a timeout, an out-of-memory kill or a signal counts as skip, never as bad. With the docker
executor a local repository must be readable by uid 1000 (the container's user).

  --repo <path|git-url>   repository: a local path (used in place) or a URL (cloned as a mirror)
  --good <rev>            a revision where the command passes (sha, tag or branch)
  --bad <rev>             a revision where the command fails
  --parallel K            runs at once, 1-64 (default 1)
  --runs R                runs per commit, 1-5 (default 1)
  --fail-threshold M      a commit is bad when at least M of its R runs fail (default 1)
  --executor docker|local docker (default): hardened containers on the Docker engine;
                          local: runs the command as this user on this machine (trusted use only)
  --image IMG             Docker image to run in (default: the runner image, built if missing)
  --timeout SECONDS       wall-clock limit of one run (default 600)
  --first-parent          follow only the first parent of merge commits
  --docker-host ENDPOINT  Docker engine (default: DOCKER_HOST or the local socket); for tcp://
                          endpoints the TLS files come from DOCKER_CERT_PATH or BISECT_ENGINE_CERTS
  --farm                  queue the job on the runner farm (the product's database and workers,
                          DATABASE_URL or a running npm start) instead of running it here;
                          --repo must then be a git URL or a path every runner host can read
  --json                  print one JSON object with the result on stdout
  -h, --help              show this help

The command runs with sh -c in a checkout of each commit. One argument is taken as a shell
script ('make && ./test.sh'); several arguments are quoted and run as one command (npm test -- -t x).
Exit status: 0 when the culprit is found, 1 for any other result or an error, 2 for usage errors,
130 when interrupted.`;

export type ExecutorKind = "docker" | "local";

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
  help: { type: "boolean", short: "h" },
} as const;

type OptionName = keyof typeof optionConfig;

class UsageError extends Error {}

/** Parse the arguments after `npm run bisect --` (i.e. `process.argv.slice(2)`). */
export function parseCliArgs(argv: readonly string[]): ParseResult {
  try {
    return parseOrThrow(argv);
  } catch (error) {
    if (error instanceof UsageError) return { kind: "usage-error", message: error.message };
    throw error;
  }
}

function parseOrThrow(argv: readonly string[]): ParseResult {
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
  for (const token of tokens) {
    if (token.kind === "positional") {
      throw new UsageError(`unexpected argument '${token.value}': put the test command after --`);
    }
    if (token.kind !== "option") continue;
    const name = token.name as OptionName;
    const flag = token.rawName;
    const config = (optionConfig as Record<string, { type: "string" | "boolean" } | undefined>)[token.name];
    if (!config) throw new UsageError(`unknown option ${flag}`);
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
  for (const [name, ref] of [["good", good], ["bad", bad]] as const) {
    const problem = refProblem(ref);
    if (problem) throw new UsageError(`--${name} ${JSON.stringify(ref)} is not a valid revision: it ${problem}`);
  }

  const parallel = integer("parallel", str("parallel"), 1, 1, 64);
  const runs = integer("runs", str("runs"), 1, 1, 5);
  const failThreshold = integer("fail-threshold", str("fail-threshold"), 1, 1, 5);
  if (failThreshold > runs) {
    throw new UsageError(`--fail-threshold ${failThreshold} is more than --runs ${runs} (a commit cannot fail more often than it runs)`);
  }

  const executor = str("executor") ?? "docker";
  if (executor !== "docker" && executor !== "local") {
    throw new UsageError(`--executor must be docker or local, got '${executor}'`);
  }
  const image = str("image");
  const dockerHost = str("docker-host");
  if (values.has("farm")) {
    if (str("executor") !== undefined) throw new UsageError("--farm runs on the farm's hosts; drop --executor");
    if (dockerHost !== undefined) throw new UsageError("--farm runs on the farm's hosts; drop --docker-host");
  }
  if (executor === "local") {
    if (image !== undefined) throw new UsageError("--image applies only to --executor docker");
    if (dockerHost !== undefined) throw new UsageError("--docker-host applies only to --executor docker");
  }
  if (image !== undefined && (image.trim() === "" || image.startsWith("-"))) {
    throw new UsageError(`--image ${JSON.stringify(image)} is not an image name`);
  }
  if (dockerHost !== undefined && !/^(unix|tcp|ssh|npipe):\/\/\S+$/.test(dockerHost)) {
    throw new UsageError(`--docker-host must look like unix:///path, tcp://host:port or ssh://user@host, got '${dockerHost}'`);
  }

  const timeoutText = str("timeout");
  let timeoutSeconds = 600;
  if (timeoutText !== undefined) {
    timeoutSeconds = Number(timeoutText);
    if (!/^\d+(\.\d+)?$/.test(timeoutText) || !(timeoutSeconds > 0) || timeoutSeconds > 86_400) {
      throw new UsageError(`--timeout must be a number of seconds greater than 0 and at most 86400, got '${timeoutText}'`);
    }
  }

  if (commandArgs.length === 0 || commandArgs.every((a) => a.trim() === "")) {
    throw new UsageError(
      split === -1 ? "missing the test command: put it after --, as in -- npm test" : "missing the test command after --",
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
      commandArgs: [...commandArgs],
      command: shellCommand(commandArgs),
    },
  };
}

function integer(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
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
