// The admin commands: their words, arguments and one argument schema each. The command line
// parses with it (jobs/admin/parse.ts) and the `admin__run` task validates the stored arguments
// with the same schema before running anything.
import { z } from "zod";
import { JOB_STATUSES, TIERS } from "../../db/models";

export type ValueKind = "string" | "int" | "duration";

export interface PositionalSpec {
  key: string;
  metavar: string;
  kind: ValueKind;
  optional?: boolean;
}

export interface OptionSpec {
  /** `--tls-dir` */
  flag: string;
  key: string;
  /** `label` collects repeated `k=v` pairs into an object; `bool` takes no value. */
  kind: ValueKind | "bool" | "label";
  metavar?: string;
  help: string;
}

export interface CommandSpec<S extends z.ZodType = z.ZodType> {
  words: readonly string[];
  summary: string;
  positionals: readonly PositionalSpec[];
  options: readonly OptionSpec[];
  schema: S;
  /** How long the command line waits for the result unless --timeout says otherwise. */
  timeoutSeconds: number;
  /** Longer help shown by `help <command>`. */
  details?: string;
}

const spec = <S extends z.ZodType>(s: CommandSpec<S>): CommandSpec<S> => s;

export const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const hostName = z
  .string()
  .regex(HOST_NAME, "a host name is letters, digits, '.', '_' or '-' (at most 63)");
const labelKey = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/,
    "a label key is letters, digits, '.', '_', '/' or '-'",
  );
const installationRef = z.string().min(1, "give an installation id or account login").max(100);
const jobId = z.number().int().positive();
const DAY = 86_400;

export const DEFAULT_PRUNE_SECONDS = 90 * DAY;

export const COMMANDS = {
  "runners.add": spec({
    words: ["runners", "add"],
    summary: "check a Docker engine, then register it as an active runner host",
    positionals: [
      { key: "name", metavar: "<name>", kind: "string" },
      { key: "endpoint", metavar: "<endpoint>", kind: "string" },
    ],
    options: [
      {
        flag: "--tls-dir",
        key: "tlsDir",
        kind: "string",
        metavar: "DIR",
        help: "directory with ca.pem, cert.pem, key.pem (required for a remote tcp:// engine)",
      },
      {
        flag: "--capacity",
        key: "capacity",
        kind: "int",
        metavar: "N",
        help: "runs at once on this host (default 2)",
      },
      {
        flag: "--label",
        key: "labels",
        kind: "label",
        metavar: "k=v",
        help: "a label (repeatable)",
      },
      {
        flag: "--ssh-host-key",
        key: "sshHostKey",
        kind: "string",
        metavar: "SHA256:…",
        help: "ssh:// only: the host key fingerprint to pin (default: the key seen now, printed)",
      },
    ],
    schema: z.object({
      name: hostName,
      endpoint: z.string().min(1).max(500),
      tlsDir: z.string().min(1).max(1000).optional(),
      sshHostKey: z
        .string()
        .regex(
          /^SHA256:[A-Za-z0-9+/]{43}$/,
          "an ssh host key fingerprint looks like SHA256: and 43 characters (ssh-keygen -lf prints it)",
        )
        .optional(),
      capacity: z
        .number()
        .int()
        .min(1, "capacity is at least 1")
        .max(256, "capacity is at most 256")
        .default(2),
      labels: z.record(labelKey, z.string().max(200)).default({}),
    }),
    timeoutSeconds: 900,
    details:
      "The host is added only when it passes every check: the connection (a remote tcp:// engine only over TLS\n" +
      "with client certificates), a ping, the engine's version, and the runner image — copied from an active\n" +
      "host that has it, or built there. Endpoints: unix:///var/run/docker.sock, tcp://host:2376 (with --tls-dir),\n" +
      "ssh://user@host. The TLS directory must exist at that path on every worker's machine. An ssh host's key\n" +
      "is pinned: give it with --ssh-host-key (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the host), or\n" +
      "the key seen while adding is pinned and printed — compare it with the host's before relying on it.",
  }),
  "runners.list": spec({
    words: ["runners", "list"],
    summary: "runner hosts: state, capacity, slots in use, last seen, last error",
    positionals: [],
    options: [],
    schema: z.object({}),
    timeoutSeconds: 60,
  }),
  "runners.check": spec({
    words: ["runners", "check"],
    summary: "probe one host (or all) now and record the result",
    positionals: [{ key: "name", metavar: "[name]", kind: "string", optional: true }],
    options: [],
    schema: z.object({ name: hostName.optional() }),
    timeoutSeconds: 120,
  }),
  "runners.drain": spec({
    words: ["runners", "drain"],
    summary: "take no new work on a host; runs in flight finish",
    positionals: [{ key: "name", metavar: "<name>", kind: "string" }],
    options: [],
    schema: z.object({ name: hostName }),
    timeoutSeconds: 60,
  }),
  "runners.activate": spec({
    words: ["runners", "activate"],
    summary: "undo a drain: check the host and let it take work again",
    positionals: [{ key: "name", metavar: "<name>", kind: "string" }],
    options: [],
    schema: z.object({ name: hostName }),
    timeoutSeconds: 120,
  }),
  "runners.remove": spec({
    words: ["runners", "remove"],
    summary: "remove a host that holds no open leases (--force drains it and waits first)",
    positionals: [{ key: "name", metavar: "<name>", kind: "string" }],
    options: [
      {
        flag: "--force",
        key: "force",
        kind: "bool",
        help: "drain the host and wait for its runs to finish, then remove it",
      },
    ],
    schema: z.object({ name: hostName, force: z.boolean().default(false) }),
    timeoutSeconds: 1800,
  }),
  "installations.list": spec({
    words: ["installations", "list"],
    summary: "installations: account, tier, state, repositories, active jobs",
    positionals: [],
    options: [],
    schema: z.object({}),
    timeoutSeconds: 60,
  }),
  "installations.set-tier": spec({
    words: ["installations", "set-tier"],
    summary: "change an installation's plan",
    positionals: [
      { key: "installation", metavar: "<id|login>", kind: "string" },
      { key: "tier", metavar: `<${TIERS.join("|")}>`, kind: "string" },
    ],
    options: [],
    schema: z.object({
      installation: installationRef,
      tier: z.enum(TIERS, { error: `the tier is one of ${TIERS.join(", ")}` }),
    }),
    timeoutSeconds: 60,
  }),
  "installations.suspend": spec({
    words: ["installations", "suspend"],
    summary: "stop an installation: no new jobs, its queued and running jobs cancelled",
    positionals: [{ key: "installation", metavar: "<id|login>", kind: "string" }],
    options: [],
    schema: z.object({ installation: installationRef }),
    timeoutSeconds: 120,
  }),
  "installations.resume": spec({
    words: ["installations", "resume"],
    summary: "lift an installation's suspension",
    positionals: [{ key: "installation", metavar: "<id|login>", kind: "string" }],
    options: [],
    schema: z.object({ installation: installationRef }),
    timeoutSeconds: 60,
  }),
  "jobs.list": spec({
    words: ["jobs", "list"],
    summary: "bisection jobs, newest first",
    positionals: [],
    options: [
      {
        flag: "--status",
        key: "status",
        kind: "string",
        metavar: "S",
        help: `one of ${JOB_STATUSES.join(", ")}, or active`,
      },
      {
        flag: "--limit",
        key: "limit",
        kind: "int",
        metavar: "N",
        help: "how many (default 20, at most 1000)",
      },
    ],
    schema: z.object({
      status: z
        .enum([...JOB_STATUSES, "active"], {
          error: `the status is one of ${JOB_STATUSES.join(", ")}, or active`,
        })
        .optional(),
      limit: z
        .number()
        .int()
        .min(1, "the limit is at least 1")
        .max(1000, "the limit is at most 1000")
        .default(20),
    }),
    timeoutSeconds: 60,
  }),
  "jobs.cancel": spec({
    words: ["jobs", "cancel"],
    summary: "cancel a job; its running containers are stopped",
    positionals: [{ key: "id", metavar: "<id>", kind: "int" }],
    options: [],
    schema: z.object({ id: jobId }),
    timeoutSeconds: 60,
  }),
  "jobs.retry": spec({
    words: ["jobs", "retry"],
    summary: "run a job again as a new job (same repository, refs, command and options)",
    positionals: [{ key: "id", metavar: "<id>", kind: "int" }],
    options: [],
    schema: z.object({ id: jobId }),
    timeoutSeconds: 60,
  }),
  "usage.report": spec({
    words: ["usage", "report"],
    summary: "per installation: jobs, compute minutes, the plan's limits, % of the monthly quota",
    positionals: [],
    options: [
      {
        flag: "--month",
        key: "month",
        kind: "string",
        metavar: "YYYY-MM",
        help: "the month (UTC; default: this month)",
      },
    ],
    schema: z.object({
      month: z
        .string()
        .regex(/^\d{4}-(0[1-9]|1[0-2])$/, "the month is YYYY-MM")
        .optional(),
    }),
    timeoutSeconds: 60,
  }),
  "workers.list": spec({
    words: ["workers", "list"],
    summary: "workers by heartbeat: alive or not, jobs they hold",
    positionals: [],
    options: [],
    schema: z.object({}),
    timeoutSeconds: 60,
  }),
  "workers.unlock-dead": spec({
    words: ["workers", "unlock-dead"],
    summary: "free the jobs held by workers whose heartbeat stopped",
    positionals: [],
    options: [],
    schema: z.object({}),
    timeoutSeconds: 60,
  }),
  "secrets.re-encrypt": spec({
    words: ["secrets", "re-encrypt"],
    summary:
      "re-encrypt every stored GitHub token with the current ENCRYPTION_KEY (the end of a key rotation)",
    positionals: [],
    options: [],
    schema: z.object({}),
    timeoutSeconds: 600,
    details:
      "Rotating ENCRYPTION_KEY: set the old key as ENCRYPTION_KEY_PREVIOUS and a new ENCRYPTION_KEY on every\n" +
      "process, run this, then remove ENCRYPTION_KEY_PREVIOUS. Tokens no key opens are cleared (their users sign in again).",
  }),
  prune: spec({
    words: ["prune"],
    summary:
      "delete old step logs, webhook payloads, audit log entries, finished admin runs and ended leases",
    positionals: [],
    options: [
      {
        flag: "--older-than",
        key: "olderThanSeconds",
        kind: "duration",
        metavar: "AGE",
        help: "one age for all but the audit log, e.g. 12w, 36h (default: the RETENTION_* settings)",
      },
    ],
    schema: z.object({
      olderThanSeconds: z
        .number()
        .int()
        .min(3600, "prune only what is at least an hour old")
        .optional(),
    }),
    timeoutSeconds: 600,
    details:
      "Without --older-than: step logs after RETENTION_STEP_LOGS_DAYS (90), webhook payloads after\n" +
      "RETENTION_WEBHOOK_PAYLOADS_DAYS (30), audit log entries after RETENTION_AUDIT_LOG_DAYS (365; 0 keeps them),\n" +
      "finished admin runs and ended leases after 90 days. The same runs nightly. Verdicts, exit codes and\n" +
      "durations of steps are kept; only their log excerpts go.",
  }),
  backup: spec({
    words: ["backup"],
    summary: "pg_dump the database to a directory, keeping the newest N dumps",
    positionals: [],
    options: [
      {
        flag: "--dir",
        key: "dir",
        kind: "string",
        metavar: "DIR",
        help: "where dumps go, on the worker's machine (default BACKUP_DIR, else $DATA_DIR/backups)",
      },
      {
        flag: "--keep",
        key: "keep",
        kind: "int",
        metavar: "N",
        help: "dumps to keep, newest first (default BACKUP_KEEP, 7)",
      },
    ],
    schema: z.object({
      dir: z.string().min(1).max(1000).optional(),
      keep: z
        .number()
        .int()
        .min(1, "keep at least one dump")
        .max(1000, "keep at most 1000 dumps")
        .optional(),
    }),
    timeoutSeconds: 3600,
    details:
      "A worker runs pg_dump (BACKUP_PG_DUMP; its major version must be at least the server's) in PostgreSQL's\n" +
      "custom format to DIR/bisect-<UTC time>.dump, then deletes the oldest dumps beyond --keep. Restore with\n" +
      "pg_restore (docs/operations.md).",
  }),
} satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;
export type ArgsOf<C extends CommandName> = z.output<(typeof COMMANDS)[C]["schema"]>;

export const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];

export function isCommandName(name: string): name is CommandName {
  return Object.prototype.hasOwnProperty.call(COMMANDS, name);
}

/** Validates stored or parsed arguments; the problems, one per line, when they do not fit. */
export function validateArgs<C extends CommandName>(
  command: C,
  args: unknown,
): { ok: true; args: ArgsOf<C> } | { ok: false; problems: string[] } {
  const parsed = (COMMANDS[command].schema as z.ZodType).safeParse(args);
  if (parsed.success) return { ok: true, args: parsed.data as ArgsOf<C> };
  return {
    ok: false,
    problems: parsed.error.issues.map((i) =>
      i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message,
    ),
  };
}

/** `90d` → seconds. Units s, m, h, d, w; a bare number is days. Null when malformed. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,6})([smhdw]?)$/.exec(text.trim());
  if (!m) return null;
  const unit = { s: 1, m: 60, h: 3600, d: DAY, w: 7 * DAY, "": DAY }[
    m[2] as "s" | "m" | "h" | "d" | "w" | ""
  ];
  return Number(m[1]) * unit;
}

/** Seconds → the shortest exact phrase: 7776000 → `90d`. */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [
    ["w", 7 * DAY],
    ["d", DAY],
    ["h", 3600],
    ["m", 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
