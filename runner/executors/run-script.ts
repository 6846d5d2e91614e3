// The shell scripts runs are made of. `runScript` is what both executors run in the checkout, with
// the setup as $1 and the command as $2; the entry scripts are the Docker executor's container
// commands around it.
//
// The setup runs first, in a subshell under `set -e` (a multi-line script stops at its first
// failing line, as in CI), and a failure exits 125 — git bisect run's "skip". On its way out,
// however it ends, the subshell writes its exported environment (`export -p`) to `envFile`, which
// the command's shell reads back: an `export FOO=1` (or a PATH prepend) in the setup reaches the
// command. The command runs as a child (`sh -c`), never as the script's own process.
//
// Around the setup, and only there, the extra paths of bisect.yml's `cache:` are restored from
// the repository's cache and saved back after a setup that succeeded (cache-volume.ts): the test
// never writes into the cache.
//
// It must hold no single quote: the entry scripts embed it in one.
import { READ_ONLY_CACHE_SHELL, RESTORE_CACHE_PATHS, SAVE_CACHE_PATHS } from "./cache-volume";

/** Exit code reported when the setup command fails (git bisect run's "skip"). */
export const SETUP_FAILED_EXIT = 125;
/** Exit code of a container's checkout step when it fails (together with the run's marker). */
export const CHECKOUT_FAILED_EXIT = 213;

/**
 * Written in the work directory after a setup that succeeded (and its paths were saved): the
 * checkout box keeps that directory's `cache:` paths in place for the job's next run there
 * (workspace.ts). The box removes it with everything else before that run.
 */
export const SETUP_DONE_FILE = ".bisect-setup-done";

/** The setup under `set -e` in a subshell ($1), its exports written to `envFile`; 125 when it fails. */
const setupPart = (envFile: string) => [
  RESTORE_CACHE_PATHS,
  `(trap "export -p >${envFile}" EXIT; set -e; eval "$1"); r=$?;`,
  `if [ "$r" -ne 0 ]; then echo "bisect-runner: setup failed with exit code $r" >&2; exit ${SETUP_FAILED_EXIT}; fi;`,
  SAVE_CACHE_PATHS,
  `: >${envFile.replace(/[^/]*$/, SETUP_DONE_FILE)} 2>/dev/null;`,
];
const loadEnv = (envFile: string) => `if [ -f ${envFile} ]; then . ${envFile}; fi;`;
const checkPath = (envFile: string) => {
  if (!/^[\w./-]+$/.test(envFile)) throw new Error(`unsafe environment file path ${envFile}`);
};

/** Setup ($1, may be empty) then command ($2), in one shell. */
export function runScript(envFile: string): string {
  checkPath(envFile);
  return [
    'if [ -n "$1" ]; then',
    ...setupPart(envFile),
    loadEnv(envFile),
    "fi;",
    'sh -c "$2"; exit $?',
  ].join(" ");
}

/** The setup phase on its own ($1), when it runs in another sandbox than the test. */
export function setupPhaseScript(envFile: string): string {
  checkPath(envFile);
  return [...setupPart(envFile), "exit 0"].join(" ");
}

/**
 * The test phase on its own ($1), with what the setup phase exported — but for the online
 * setup's proxy when the test has none of its own (an offline test must not be told of a way
 * out; a test with network for the whole run keeps its container's) and for the caches the test
 * may not write (its /cache is read-only).
 */
export function testPhaseScript(envFile: string): string {
  checkPath(envFile);
  return [
    'own_proxy="${HTTP_PROXY-}${http_proxy-}";',
    loadEnv(envFile),
    '[ -n "$own_proxy" ] || unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy;',
    READ_ONLY_CACHE_SHELL,
    'sh -c "$1"; exit $?',
  ].join(" ");
}

/** The run script of a container: the work directory is /work, the checkout /work/src. */
const ENV_FILE = "/work/.bisect-setup-env";
const CONTAINER_RUN_SCRIPT = runScript(ENV_FILE);
const ENTER_CHECKOUT = `cd /work/src || { printf "cannot enter /work/src\\n%s\\n" "$1" >&2; exit ${CHECKOUT_FAILED_EXIT}; }`;

/**
 * A container's command: $1 marker, then the script's arguments. The checkout box has put the
 * commit in /work/src; the shell replaces itself (so the marker is gone from /proc before any
 * repository code runs) with one that runs `script`.
 */
function entry(script: string, marker: string, args: string[]): string[] {
  const text = [ENTER_CHECKOUT, "shift 1", `exec sh -c '${script}' bisect-run "$@"`].join("\n");
  return ["sh", "-c", text, "bisect-run", marker, ...args];
}

/** A container that runs the setup and the command. */
export function entryCommand(marker: string, setup: string, command: string): string[] {
  return entry(CONTAINER_RUN_SCRIPT, marker, [setup, command]);
}

/** A container that runs only the setup (its own sandbox, e.g. with network). */
export function setupPhaseCommand(marker: string, setup: string): string[] {
  return entry(setupPhaseScript(ENV_FILE), marker, [setup]);
}

/** A container that runs only the command, after a setup phase in the same work directory. */
export function testPhaseCommand(marker: string, command: string): string[] {
  return entry(testPhaseScript(ENV_FILE), marker, [command]);
}

// A warm container's entry: $1 marker. Blocks until its assignment arrives on stdin — two lines,
// the setup and the command base64-encoded (so they may hold any newline or quote) — by then the
// checkout box has checked the commit out into /work/src; then it execs exactly like the entry
// command, the command's stdin being /dev/null as in a cold container. Without a whole assignment
// (the pool was closed, or its process died and the engine closed stdin) it exits with the
// marker, never running anything. `$(…; echo .)` then `${x%.}` keeps trailing newlines that a
// plain command substitution drops.
const WARM_ENTRY_SCRIPT = [
  "if ! { IFS= read -r s64 && IFS= read -r c64; }; then",
  '  printf "no assignment\\n%s\\n" "$1" >&2',
  `  exit ${CHECKOUT_FAILED_EXIT}`,
  "fi",
  'setup=$(printf "%s" "$s64" | base64 -d && echo .) && cmd=$(printf "%s" "$c64" | base64 -d && echo .) || {',
  '  printf "unreadable assignment\\n%s\\n" "$1" >&2',
  `  exit ${CHECKOUT_FAILED_EXIT}`,
  "}",
  "setup=${setup%.}; cmd=${cmd%.}",
  ENTER_CHECKOUT,
  `exec sh -c '${CONTAINER_RUN_SCRIPT}' bisect-run "$setup" "$cmd" </dev/null`,
].join("\n");

/** A warm container's command: waits for `warmAssignment` on stdin. */
export function warmEntryCommand(marker: string): string[] {
  return ["sh", "-c", WARM_ENTRY_SCRIPT, "bisect-warm", marker];
}

/** What a warm container reads on stdin: the setup and the command. */
export function warmAssignment(setup: string, command: string): string {
  const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
  return `${b64(setup)}\n${b64(command)}\n`;
}

/** The scripts of a run, its setup phase and its test phase, with the checkout step (sandbox.ts). */
export const CONTAINER_SCRIPTS = {
  run: CONTAINER_RUN_SCRIPT,
  setup: setupPhaseScript(ENV_FILE),
  test: testPhaseScript(ENV_FILE),
  enterCheckout: ENTER_CHECKOUT,
} as const;
