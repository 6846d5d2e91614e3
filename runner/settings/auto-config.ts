// The `auto:` section of `.github/bisect.yml` (read on the default branch only): which checks
// are bisected automatically when they turn red there, the command that reproduces each, and
// where the answer goes. Pure: a parsed YAML value in, a validated section or problems out.
//
//   auto:
//     checks:
//       "test (ubuntu-latest)": npm test          # check name: the command that reproduces it
//       lint:                                     # or a mapping with per-check settings
//         command: npm run lint
//         setup: npm ci                           # default: the file's `setup`
//         image: node:20-bookworm                 # default: the file's `image`
//         runs: 3                                 # and the other predicate settings
//     notify: pull-request                        # pull-request | commit | issue | none
import {
  normalizePredicate,
  PredicateError,
  renamePredicateFields,
  type Predicate,
} from "../engine/predicate";
import { LIMITS } from "./limits";

export const NOTIFY_TARGETS = ["pull-request", "commit", "issue", "none"] as const;
export type NotifyTarget = (typeof NOTIFY_TARGETS)[number];
/** More checks than this in one file is a mistake, not a configuration. */
export const MAX_AUTO_CHECKS = 20;

export interface AutoCheck {
  /** The check run's name as GitHub shows it (for Actions: the job's name). */
  name: string;
  command: string;
  setup?: string;
  image?: string;
  /** The predicate fields this check sets (merged over the file's, then normalised). */
  predicate?: Partial<Predicate>;
}

export interface AutoConfig {
  checks: AutoCheck[];
  notify: NotifyTarget;
}

const ENTRY_PREDICATE_KEYS: Record<string, keyof Predicate> = {
  runs: "runs",
  "fail-threshold": "failThreshold",
  flaky: "flaky",
  crash: "crash",
  "timeout-is": "timeout",
  "bad-if-output": "badIfOutput",
};
const ENTRY_KEYS = ["command", "setup", "image", ...Object.keys(ENTRY_PREDICATE_KEYS)];
const FIELD_NAMES: Record<string, string> = Object.fromEntries(
  Object.entries(ENTRY_PREDICATE_KEYS).map(([file, field]) => [field, `\`${file}\``]),
);

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function scriptProblem(value: unknown, what: string): string | null {
  if (typeof value !== "string") return `must be a string (the ${what})`;
  if (value.trim() === "") return `must not be empty (the ${what})`;
  if (value.length > LIMITS.commandLength)
    return `must be at most ${LIMITS.commandLength} characters`;
  return null;
}

/**
 * Validates the section. `validImage` is the file's own image rule (one rule for both places).
 * Problems name where they are, e.g. "`auto.checks.lint.setup` must not be empty".
 */
export function parseAutoSection(
  value: unknown,
  validImage: (image: string) => boolean,
): { auto?: AutoConfig; problems: string[] } {
  const problems: string[] = [];
  if (!isMapping(value))
    return { problems: ["`auto` must be a mapping with `checks` and `notify`"] };
  for (const key of Object.keys(value))
    if (key !== "checks" && key !== "notify")
      problems.push(
        `\`auto\` has an unknown setting \`${key}\` (the settings are \`checks\`, \`notify\`)`,
      );
  const notify = value.notify ?? "pull-request";
  if (typeof notify !== "string" || !(NOTIFY_TARGETS as readonly string[]).includes(notify))
    problems.push(`\`auto.notify\` must be one of ${NOTIFY_TARGETS.join(", ")}`);
  const checks: AutoCheck[] = [];
  if (!isMapping(value.checks) || Object.keys(value.checks).length === 0) {
    problems.push(
      "`auto.checks` must map at least one check name to the command that reproduces it",
    );
  } else if (Object.keys(value.checks).length > MAX_AUTO_CHECKS) {
    problems.push(`\`auto.checks\` may name at most ${MAX_AUTO_CHECKS} checks`);
  } else {
    for (const [name, entry] of Object.entries(value.checks)) {
      const at = (sub?: string) => `\`auto.checks.${name}${sub ? `.${sub}` : ""}\``;
      const where = at();
      if (name.trim() === "" || name.length > 200) {
        problems.push("`auto.checks` has a check name that is empty or longer than 200 characters");
        continue;
      }
      const fields: Record<string, unknown> = isMapping(entry) ? entry : { command: entry };
      const unknown = Object.keys(fields).filter((k) => !ENTRY_KEYS.includes(k));
      if (unknown.length > 0)
        problems.push(
          `${where} has unknown setting${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `\`${k}\``).join(", ")} (the settings are ${ENTRY_KEYS.map((k) => `\`${k}\``).join(", ")})`,
        );
      const check: AutoCheck = { name, command: "" };
      for (const [key, what] of [
        ["command", "test command"],
        ["setup", "setup command"],
      ] as const) {
        if (key === "setup" && fields.setup === undefined) continue;
        const problem = scriptProblem(fields[key], what);
        if (problem)
          problems.push(
            `${at(key === "command" && !isMapping(entry) ? undefined : key)} ${problem}`,
          );
        else check[key] = String(fields[key]).trim();
      }
      if (fields.image !== undefined) {
        if (typeof fields.image !== "string" || !validImage(fields.image.trim()))
          problems.push(
            `${at("image")} is not a valid image name (for example node:20-bookworm or ghcr.io/acme/runner:1.2)`,
          );
        else check.image = fields.image.trim();
      }
      const predicate: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(ENTRY_PREDICATE_KEYS))
        if (fields[key] !== undefined) predicate[field] = fields[key];
      if (Object.keys(predicate).length > 0) {
        try {
          normalizePredicate(predicate);
          check.predicate = predicate as Partial<Predicate>;
        } catch (error) {
          if (!(error instanceof PredicateError)) throw error;
          problems.push(`${where}: ${renamePredicateFields(error.message, FIELD_NAMES)}`);
        }
      }
      checks.push(check);
    }
  }
  if (problems.length > 0) return { problems };
  return { auto: { checks, notify: notify as NotifyTarget }, problems };
}
