// Variables a repository (`env:` in bisect.yml) or the CLI (`--env K=V`) gives the setup and the
// test. They are not secrets: they are shown in the status comment and the reproduce block.
//
// Names are upper case (`[A-Z_][A-Z0-9_]*`). The names the run's own shell and sandbox depend on
// are refused — PATH among them: prepend to PATH with `export PATH=…:$PATH` in the setup, which
// reaches the test. The tool cache variables (CARGO_HOME, npm_config_cache, …) may be overridden.

export const ENV_LIMITS = { count: 50, nameLength: 128, valueLength: 4096, totalBytes: 16384 };

/** Names a run's environment may not set. */
export const RESERVED_ENV_NAMES = new Set([
  "PATH",
  "HOME",
  "PWD",
  "OLDPWD",
  "SHLVL",
  "IFS",
  "ENV",
  "BASH_ENV",
  "TMPDIR",
  "HOSTNAME",
  "USER",
  "LOGNAME",
  "SHELL",
]);

const NAME = /^[A-Z_][A-Z0-9_]*$/;

/** One variable's problem, or null. */
export function envEntryProblem(name: string, value: string): string | null {
  if (name.length > ENV_LIMITS.nameLength)
    return `name ${JSON.stringify(name.slice(0, 40))}… is longer than ${ENV_LIMITS.nameLength} characters`;
  if (!NAME.test(name))
    return `name ${JSON.stringify(name)} must be upper case letters, digits and _ (not starting with a digit)`;
  if (RESERVED_ENV_NAMES.has(name))
    return name === "PATH"
      ? 'PATH cannot be set here: prepend to it in the setup (export PATH="$PWD/bin:$PATH"), which reaches the test'
      : `${name} is set by the runner and cannot be changed`;
  if (name.startsWith("BISECT_")) return `${name}: names starting with BISECT_ are the runner's`;
  if (value.length > ENV_LIMITS.valueLength)
    return `${name} is longer than ${ENV_LIMITS.valueLength} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value))
    return `${name} holds a control character or a line break (values are one line)`;
  return null;
}

/** Every problem of a whole set of variables (empty when it is valid). */
export function envProblems(env: Record<string, string>): string[] {
  const entries = Object.entries(env);
  const problems = entries
    .map(([k, v]) => envEntryProblem(k, v))
    .filter((p): p is string => p !== null);
  if (entries.length > ENV_LIMITS.count)
    problems.push(`at most ${ENV_LIMITS.count} variables may be set (${entries.length} are)`);
  const total = entries.reduce((n, [k, v]) => n + k.length + v.length + 2, 0);
  if (total > ENV_LIMITS.totalBytes)
    problems.push(`the variables take more than ${ENV_LIMITS.totalBytes} characters together`);
  return problems;
}

/** `K=V` (as `--env` takes it) → [K, V]; null when there is no `=`. */
export function splitEnvAssignment(text: string): [string, string] | null {
  const i = text.indexOf("=");
  return i <= 0 ? null : [text.slice(0, i), text.slice(i + 1)];
}
