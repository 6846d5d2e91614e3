// `.github/bisect.yml`: a repository's defaults for bisections, read at the bad revision —
// except `image` and `network`, which are read on the default branch only (the bad revision can
// be any commit, a fork's included).
// Pure: YAML text in, a validated configuration or a list of problems out.
//
//   image: node:20-bookworm     # runner image the test runs in
//   setup: npm ci               # run before the test on every commit (a failure skips the commit)
//   command: npm test           # default test command when the comment gives none
//   timeout: 10m                # wall-clock limit of one run (seconds, or 90s / 10m / 1h)
//   runs: 1                     # runs per commit (more runs tell flaky tests apart)
//   fail-threshold: 1           # a commit fails when at least this many of its runs fail
//   flaky: false                # the flaky-test preset (5 runs, 3 must fail, more on the answer's commits)
//   crash: skip                 # bad | skip: exit codes >= 128 and signals
//   timeout-is: skip            # bad | skip: a run that hits the time limit
//   bad-if-output: "panicked at"  # a run whose output matches this regular expression fails
//   find: regression            # regression | fix (look for the first fixed commit)
//   network: setup              # none | setup (the setup downloads, the test is offline) | all
//   pathspec: [src, package.json]  # only commits touching these paths are tested
//   env:                        # variables for the setup and the test (not secrets: shown in the comment)
//     NODE_OPTIONS: --max-old-space-size=2048
//   cache: [target, .venv]      # extra paths kept between steps on a host (false: no cache at all)
//   auto:                       # default branch only: bisect these checks when they turn red there
//     checks: { lint: npm run lint }   # (see auto-config.ts)
import { parseDocument } from "yaml";
import { z } from "zod";
import {
  normalizePredicate,
  PredicateError,
  renamePredicateFields,
  type Predicate,
} from "../engine/predicate";
import { parseAutoSection } from "./auto-config";
import { parseCacheSetting } from "./cache-paths";
import { parseDuration } from "./duration";
import { envProblems } from "./env-vars";
import { LIMITS } from "./limits";
import { NETWORK_CHOICES, parseNetworkPolicy } from "./network";

export const CONFIG_PATH = ".github/bisect.yml";

/** `node:20`, `ghcr.io/acme/runner:1.2`, `registry:5000/x/y@sha256:…` */
const IMAGE =
  /^(?:[a-z0-9]+(?:[.-][a-z0-9]+)*(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

const script = (what: string) =>
  z
    .string({ error: `must be a string (the ${what})` })
    .trim()
    .min(1, `must not be empty (the ${what})`)
    .max(LIMITS.commandLength, `must be at most ${LIMITS.commandLength} characters`);

const pathEntry = z
  .string({ error: "must be a list of paths" })
  .trim()
  .min(1, "must not contain an empty path")
  .max(1000, "has a path longer than 1000 characters")
  .refine((p) => !p.startsWith("-"), "has a path starting with '-'")
  // eslint-disable-next-line no-control-regex
  .refine((p) => !/[\u0000-\u001f]/.test(p), "has a path with control characters");

const schema = z.strictObject({
  image: z
    .string({ error: "must be a string (an image name such as node:20)" })
    .trim()
    .max(255, "must be at most 255 characters")
    .regex(
      IMAGE,
      "is not a valid image name (for example node:20-bookworm or ghcr.io/acme/runner:1.2)",
    )
    .optional(),
  setup: script("setup command").optional(),
  command: script("test command").optional(),
  timeout: z
    .union([z.number(), z.string()], {
      error: "must be a number of seconds or a duration such as 10m",
    })
    .transform((v, ctx) => {
      const seconds = typeof v === "number" ? v : parseDuration(v);
      const { min, max } = LIMITS.timeoutSeconds;
      if (seconds === null || !Number.isInteger(seconds) || seconds < min || seconds > max) {
        ctx.addIssue({
          code: "custom",
          message: "must be a duration from 1s to 24h, such as 90s, 10m or 1h",
        });
        return z.NEVER;
      }
      return seconds;
    })
    .optional(),
  runs: z
    .number({ error: `must be a whole number from ${LIMITS.runs.min} to ${LIMITS.runs.max}` })
    .int(`must be a whole number from ${LIMITS.runs.min} to ${LIMITS.runs.max}`)
    .min(LIMITS.runs.min, `must be a whole number from ${LIMITS.runs.min} to ${LIMITS.runs.max}`)
    .max(LIMITS.runs.max, `must be a whole number from ${LIMITS.runs.min} to ${LIMITS.runs.max}`)
    .optional(),
  // Checked together by normalizePredicate below (one list of every problem).
  "fail-threshold": z.unknown().optional(),
  flaky: z.unknown().optional(),
  crash: z.unknown().optional(),
  "timeout-is": z.unknown().optional(),
  "bad-if-output": z.unknown().optional(),
  find: z.unknown().optional(),
  network: z
    .unknown()
    .transform((v, ctx) => {
      const policy = parseNetworkPolicy(v);
      if (policy === undefined) {
        ctx.addIssue({ code: "custom", message: `must be ${NETWORK_CHOICES}` });
        return z.NEVER;
      }
      return policy;
    })
    .optional(),
  env: z
    .unknown()
    .transform((v, ctx) => {
      if (typeof v !== "object" || v === null || Array.isArray(v)) {
        ctx.addIssue({ code: "custom", message: "must be a mapping of NAME: value" });
        return z.NEVER;
      }
      const env: Record<string, string> = {};
      const problems: string[] = [];
      for (const [name, value] of Object.entries(v)) {
        if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
          env[name] = String(value);
        else problems.push(`${name} must be a string, a number or true/false`);
      }
      problems.push(...envProblems(env));
      for (const message of problems) ctx.addIssue({ code: "custom", message });
      return problems.length > 0 ? z.NEVER : env;
    })
    .optional(),
  cache: z
    .unknown()
    .transform((v, ctx) => {
      const result = parseCacheSetting(v);
      if (!result.ok) {
        for (const message of result.problems) ctx.addIssue({ code: "custom", message });
        return z.NEVER;
      }
      return result.cache;
    })
    .optional(),
  auto: z
    .unknown()
    .transform((v, ctx) => {
      const { auto, problems } = parseAutoSection(v, (image) => IMAGE.test(image));
      for (const message of problems) ctx.addIssue({ code: "custom", message });
      return auto ?? z.NEVER;
    })
    .optional(),
  pathspec: z
    .union(
      [
        pathEntry.transform((p) => [p]),
        z
          .array(pathEntry)
          .min(1, "must list at least one path")
          .max(100, "may list at most 100 paths"),
      ],
      {
        error: "must be a path or a list of paths",
      },
    )
    .optional(),
});

type Parsed = z.output<typeof schema>;
const PREDICATE_KEYS = {
  "fail-threshold": "failThreshold",
  flaky: "flaky",
  crash: "crash",
  "timeout-is": "timeout",
  "bad-if-output": "badIfOutput",
  find: "find",
} as const;
type PredicateKey = keyof typeof PREDICATE_KEYS;

export type RepoConfig = Omit<Parsed, PredicateKey> & {
  /** The predicate fields the file sets (only those; merged under the comment's, then normalised). */
  predicate?: Partial<Predicate>;
};

/** A predicate field's name as the file spells it. */
export const PREDICATE_CONFIG_KEYS: Record<string, string> = {
  runs: "`runs`",
  failThreshold: "`fail-threshold`",
  flaky: "`flaky`",
  crash: "`crash`",
  timeout: "`timeout-is`",
  badIfOutput: "`bad-if-output`",
  find: "`find`",
};

/** The file's predicate fields, checked together; problems named as the file names them. */
function predicateOf(parsed: Parsed): { fields?: Partial<Predicate>; problems: string[] } {
  const fields: Record<string, unknown> = {};
  if (parsed.runs !== undefined) fields.runs = parsed.runs;
  for (const [key, field] of Object.entries(PREDICATE_KEYS))
    if (parsed[key as PredicateKey] !== undefined) fields[field] = parsed[key as PredicateKey];
  if (Object.keys(fields).length === 0) return { problems: [] };
  try {
    normalizePredicate(fields);
  } catch (error) {
    if (!(error instanceof PredicateError)) throw error;
    const problems: string[] = [];
    for (const part of error.message.split("; ")) {
      const text = renamePredicateFields(part, PREDICATE_CONFIG_KEYS);
      // "flaky sets runs…; give either…" is one problem.
      if (part.startsWith("give ") && problems.length > 0)
        problems[problems.length - 1] += `; ${text}`;
      else problems.push(text);
    }
    return { problems };
  }
  return { fields: fields as Partial<Predicate>, problems: [] };
}

export const CONFIG_KEYS = Object.keys(schema.shape);

export type RepoConfigResult = { ok: true; config: RepoConfig } | { ok: false; problems: string[] };

export function parseRepoConfig(text: string): RepoConfigResult {
  if (text.length > 64 * 1024) return { ok: false, problems: ["the file is larger than 64 KiB"] };
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.slice(0, 5).map((e) => {
        const at = e.linePos?.[0];
        return `YAML syntax error${at ? ` at line ${at.line}, column ${at.col}` : ""}: ${e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`;
      }),
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 50 });
  } catch (error) {
    // yaml refuses a document whose aliases expand too far (a "billion laughs" file) by throwing.
    if (!(error instanceof ReferenceError)) throw error;
    return { ok: false, problems: ["the file uses YAML aliases (*name) too often"] };
  }
  if (data === null || data === undefined) return { ok: true, config: {} };
  if (typeof data !== "object" || Array.isArray(data)) {
    return {
      ok: false,
      problems: [`the file must be a mapping of settings (${CONFIG_KEYS.join(", ")})`],
    };
  }
  const parsed = schema.safeParse(data);
  if (parsed.success) {
    const { fields, problems } = predicateOf(parsed.data);
    if (problems.length > 0) return { ok: false, problems };
    const config: RepoConfig = { ...parsed.data };
    for (const key of Object.keys(PREDICATE_KEYS)) delete (config as Record<string, unknown>)[key];
    return { ok: true, config: fields ? { ...config, predicate: fields } : config };
  }
  const problems: string[] = parsed.error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      return `unknown setting${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `\`${k}\``).join(", ")} (the settings are ${CONFIG_KEYS.map((k) => `\`${k}\``).join(", ")})`;
    }
    const [key, index] = issue.path;
    if (key === "auto") return issue.message; // the section names its own places
    const where =
      index === undefined ? `\`${String(key)}\`` : `\`${String(key)}\` (item ${Number(index) + 1})`;
    return `${where} ${issue.message}`;
  });
  // The predicate's own problems too, so one answer lists everything (runs only if it is valid).
  const raw = data as Record<string, unknown>;
  const runsOk = !parsed.error.issues.some((i) => i.path[0] === "runs");
  problems.push(...predicateOf({ ...raw, runs: runsOk ? raw.runs : undefined } as Parsed).problems);
  return { ok: false, problems };
}
