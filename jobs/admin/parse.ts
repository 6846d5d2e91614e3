// The admin command line's arguments → a command and its validated arguments. Pure: no I/O.
//
//   admin [--json] [--timeout SECONDS] <area> <action> [arguments] [options]
//   admin help [<area> [<action>]]
import {
  COMMAND_NAMES,
  COMMANDS,
  parseDuration,
  validateArgs,
  type CommandName,
  type CommandSpec,
} from "./commands";

export type Parsed =
  | { kind: "help"; text: string }
  | {
      kind: "run";
      command: CommandName;
      args: Record<string, unknown>;
      json: boolean;
      timeoutSeconds: number;
    }
  | { kind: "usage-error"; message: string };

const PROGRAM = "npm run admin --";

export function usageOf(name: CommandName): string {
  const c: CommandSpec = COMMANDS[name];
  const parts = [...c.words, ...c.positionals.map((p) => p.metavar)];
  for (const o of c.options)
    parts.push(o.kind === "bool" ? `[${o.flag}]` : `[${o.flag} ${o.metavar ?? "VALUE"}]`);
  return `${PROGRAM} ${parts.join(" ")}`;
}

function commandHelp(name: CommandName): string {
  const c: CommandSpec = COMMANDS[name];
  const lines = [`usage: ${usageOf(name)}`, "", c.summary + "."];
  if (c.details) lines.push("", c.details);
  if (c.options.length) {
    lines.push("", "options:");
    const width = Math.max(...c.options.map((o) => optionLabel(o).length));
    for (const o of c.options) lines.push(`  ${optionLabel(o).padEnd(width)}  ${o.help}`);
  }
  lines.push(
    "",
    "Add --json to print the result as JSON; --timeout SECONDS to wait longer or shorter.",
  );
  return lines.join("\n");
}

const optionLabel = (o: CommandSpec["options"][number]) =>
  o.kind === "bool" ? o.flag : `${o.flag} ${o.metavar ?? "VALUE"}`;

/** Every command, grouped by area. */
export function helpText(area?: string): string {
  const names = COMMAND_NAMES.filter((n) => !area || COMMANDS[n].words[0] === area);
  const lines = [
    `usage: ${PROGRAM} [--json] [--timeout SECONDS] <command> [arguments]`,
    "",
    "Each command runs as a job on a worker of the product (so a worker must be running) and",
    "prints its result. Exit status: 0 done, 1 failed (the reason is printed), 2 usage error.",
    "",
    "commands:",
  ];
  for (const n of names)
    lines.push(`  ${usageOf(n).slice(PROGRAM.length + 1)}`, `      ${COMMANDS[n].summary}`);
  lines.push(
    "  help [command]",
    "      this list, or one command's options",
    "",
    "The database is DATABASE_URL (or DATABASE_DIRECT_URL), else the embedded one a running `npm start` uses.",
  );
  return lines.join("\n");
}

const usageError = (message: string, name?: CommandName): Parsed => ({
  kind: "usage-error",
  message: name
    ? `${COMMANDS[name].words.join(" ")}: ${message}\nusage: ${usageOf(name)}`
    : message,
});

function parseValue(
  kind: "string" | "int" | "duration",
  raw: string,
  what: string,
): { value: string | number } | { error: string } {
  if (kind === "string") return { value: raw };
  if (kind === "int") {
    if (!/^-?\d{1,9}$/.test(raw)) return { error: `${what} must be a whole number, not "${raw}"` };
    return { value: Number(raw) };
  }
  const seconds = parseDuration(raw);
  if (seconds === null)
    return { error: `${what} must be an age such as 90d, 12w or 36h, not "${raw}"` };
  return { value: seconds };
}

/** Finds the command named by the leading words: `runners add`, or `prune`. */
function findCommand(words: string[]): { name: CommandName; used: number } | null {
  for (const name of COMMAND_NAMES) {
    const w = COMMANDS[name].words;
    if (w.every((word, i) => words[i] === word)) return { name, used: w.length };
  }
  return null;
}

export function parseAdminArgs(argv: readonly string[]): Parsed {
  let json = false;
  let timeoutSeconds: number | null = null;
  let wantsHelp = false;
  const rest: string[] = [];
  // Global flags may come anywhere.
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--json") json = true;
    else if (arg === "-h" || arg === "--help") wantsHelp = true;
    else if (arg === "--timeout" || arg.startsWith("--timeout=")) {
      const raw = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[++i];
      if (raw === undefined || !/^\d{1,6}$/.test(raw) || Number(raw) < 1)
        return usageError("--timeout needs a number of seconds (at least 1)");
      timeoutSeconds = Number(raw);
    } else rest.push(arg);
  }

  if (rest.length === 0)
    return wantsHelp
      ? { kind: "help", text: helpText() }
      : usageError(`no command given\n\n${helpText()}`);
  if (rest[0] === "help") {
    const topic = rest.slice(1);
    if (topic.length === 0) return { kind: "help", text: helpText() };
    const found = findCommand(topic);
    if (found) return { kind: "help", text: commandHelp(found.name) };
    if (COMMAND_NAMES.some((n) => COMMANDS[n].words[0] === topic[0]))
      return { kind: "help", text: helpText(topic[0]) };
    return usageError(`no such command: ${topic.join(" ")}\n\n${helpText()}`);
  }

  const found = findCommand(rest);
  if (!found) {
    const area = COMMAND_NAMES.filter((n) => COMMANDS[n].words[0] === rest[0]);
    if (area.length > 0) {
      const what =
        rest[1] === undefined
          ? `${rest[0]}: which action?`
          : `${rest[0]}: no such action "${rest[1]}"`;
      return usageError(`${what}\n\n${helpText(rest[0])}`);
    }
    return usageError(`no such command: ${rest[0]} (see \`${PROGRAM} help\`)`);
  }
  const { name } = found;
  if (wantsHelp) return { kind: "help", text: commandHelp(name) };
  const spec: CommandSpec = COMMANDS[name];

  const raw: Record<string, unknown> = {};
  const positionals: string[] = [];
  const words = rest.slice(found.used);
  for (let i = 0; i < words.length; i++) {
    const arg = words[i]!;
    if (arg === "--") {
      positionals.push(...words.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg === "-") {
      if (arg.startsWith("-") && arg !== "-" && !/^-\d/.test(arg))
        return usageError(`unknown option ${arg}`, name);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const option = spec.options.find((o) => o.flag === flag);
    if (!option) return usageError(`unknown option ${flag}`, name);
    if (option.kind === "bool") {
      if (eq > 0) return usageError(`${flag} takes no value`, name);
      raw[option.key] = true;
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : words[++i];
    if (value === undefined || (eq < 0 && value.startsWith("--")))
      return usageError(`${flag} needs a value (${option.metavar ?? "VALUE"})`, name);
    if (option.kind === "label") {
      const sep = value.indexOf("=");
      if (sep <= 0) return usageError(`${flag} takes key=value, not "${value}"`, name);
      const labels = (raw[option.key] ??= {}) as Record<string, string>;
      labels[value.slice(0, sep)] = value.slice(sep + 1);
      continue;
    }
    if (option.key in raw) return usageError(`${flag} given twice`, name);
    const parsed = parseValue(option.kind, value, flag);
    if ("error" in parsed) return usageError(parsed.error, name);
    raw[option.key] = parsed.value;
  }

  for (const [index, p] of spec.positionals.entries()) {
    const value = positionals[index];
    if (value === undefined) {
      if (p.optional) continue;
      return usageError(`missing ${p.metavar}`, name);
    }
    const parsed = parseValue(p.kind, value, p.metavar);
    if ("error" in parsed) return usageError(parsed.error, name);
    raw[p.key] = parsed.value;
  }
  if (positionals.length > spec.positionals.length) {
    return usageError(`unexpected argument "${positionals[spec.positionals.length]}"`, name);
  }

  const validated = validateArgs(name, raw);
  if (!validated.ok) return usageError(validated.problems.join("; "), name);
  return {
    kind: "run",
    command: name,
    args: validated.args as Record<string, unknown>,
    json,
    timeoutSeconds: timeoutSeconds ?? spec.timeoutSeconds,
  };
}
