// The shell script both executors run in the checkout, with the setup as $1 and the command as $2.
//
// The setup runs first, in a subshell under `set -e` (a multi-line script stops at its first
// failing line, as in CI), and a failure exits 125 — git bisect run's "skip". On its way out,
// however it ends, the subshell writes its exported environment (`export -p`) to `envFile`, which
// the command's shell reads back: an `export FOO=1` (or a PATH prepend) in the setup reaches the
// command. The command runs as a child (`sh -c`), never as the script's own process.
//
// It must hold no single quote: the Docker executor embeds it in one.

/** Exit code reported when the setup command fails (git bisect run's "skip"). */
export const SETUP_FAILED_EXIT = 125;

export function runScript(envFile: string): string {
  if (!/^[\w./-]+$/.test(envFile)) throw new Error(`unsafe environment file path ${envFile}`);
  return [
    'if [ -n "$1" ]; then',
    `(trap "export -p >${envFile}" EXIT; set -e; eval "$1"); r=$?;`,
    `if [ "$r" -ne 0 ]; then echo "bisect-runner: setup failed with exit code $r" >&2; exit ${SETUP_FAILED_EXIT}; fi;`,
    `if [ -f ${envFile} ]; then . ${envFile}; fi;`,
    "fi;",
    'sh -c "$2"; exit $?',
  ].join(" ");
}
