// The `/bisect` command in an issue comment: a pure parser (no I/O), unit-tested.
//
//   /bisect <good> <bad> [options] [--] <command…>
//     options: --runs N, --fail-threshold M, --flaky, --crash bad|skip, --timeout-is bad|skip,
//     --bad-if-output REGEX (in backticks or double quotes when it holds spaces), --find fix|regression,
//     --timeout 90s|10m|1h, --parallel K, --first-parent
//   /bisect <good> <bad>            (command in a fenced code block under the line, or from .github/bisect.yml)
//   /bisect cancel [job]   /bisect retry [job]   /bisect verify [job]   /bisect status   /bisect help
//
// The command is taken from the first line of the comment that starts with `/bisect`; lines inside
// fenced code blocks, block quotes (`> `), HTML comments and indented code are not commands, so
// quoting someone else's `/bisect` never starts anything.
import { normalizePredicate, PredicateError, type Predicate } from "../../runner/engine/predicate";
import { refProblem } from "../../runner/git/refs";
import { code } from "./markdown";

export { LIMITS, OPTION_NAMES } from "./limits";
export { parseDuration } from "../../runner/settings/duration";
export { renamePredicateFields } from "../../runner/engine/predicate";
import { parseDuration } from "../../runner/settings/duration";
import { renamePredicateFields } from "../../runner/engine/predicate";
import { LIMITS, OPTION_NAMES } from "./limits";

export const EXAMPLE = '/bisect v1.4.0 main -- npm test -- -t "parses dates"';

export interface BisectRequest {
  kind: "bisect";
  good: string;
  bad: string;
  runs?: number;
  parallel?: number;
  timeoutSeconds?: number;
  firstParent: boolean;
  /** What a run's outcome means; each is set only when the comment gives it (it overrides the file). */
  failThreshold?: number;
  crash?: Predicate["crash"];
  timeoutIs?: Predicate["timeout"];
  badIfOutput?: string;
  find?: Predicate["find"];
  flaky?: true;
  /** The shell command (one line, or a script from a fenced block); null: use the repository's default. */
  command: string | null;
}

export type ParsedCommand =
  | BisectRequest
  | { kind: "cancel"; jobId?: number }
  | { kind: "retry"; jobId?: number }
  | { kind: "verify"; jobId?: number }
  | { kind: "status" }
  | { kind: "help" }
  /** A `/bisect` line that cannot be understood: what is wrong, and a correct example. */
  | { kind: "error"; message: string; example: string };

export type ParseResult = ParsedCommand | { kind: "none" };

const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const QUOTE = /^ {0,3}>/;
const COMMAND_LINE = /^ {0,3}\/bisect(?=\s|$)(.*)$/;

interface FoundLine {
  /** Index of the line in the comment. */
  index: number;
  /** The text after `/bisect`. */
  rest: string;
}

/** True when a line of the comment may be a command: a cheap pre-filter for the webhook route. */
export function mentionsBisect(body: string): boolean {
  return /^[ \t]*\/bisect(?=\s|$)/m.test(body);
}

/** The first line that starts with `/bisect` outside code blocks, quotes and HTML comments. */
export function findCommandLine(lines: readonly string[]): FoundLine | null {
  let fence: { char: string; length: number } | null = null;
  let inComment = false;
  for (let index = 0; index < lines.length; index++) {
    let line = lines[index]!;
    if (fence) {
      if (closesFence(line, fence)) fence = null;
      continue;
    }
    if (inComment) {
      const end = line.indexOf("-->");
      if (end === -1) continue;
      inComment = false;
      line = line.slice(end + 3);
    }
    // HTML comments that open and close on this line go; one left open swallows what follows.
    line = line.replace(/<!--[\s\S]*?-->/g, "");
    const open = line.indexOf("<!--");
    if (open !== -1) {
      inComment = true;
      line = line.slice(0, open);
    }
    const opening = FENCE_OPEN.exec(line);
    if (opening && !(opening[1]![0] === "`" && opening[2]!.includes("`"))) {
      fence = { char: opening[1]![0]!, length: opening[1]!.length };
      continue;
    }
    if (QUOTE.test(line)) continue;
    const match = COMMAND_LINE.exec(line);
    if (match) return { index, rest: match[1]! };
  }
  return null;
}

function closesFence(line: string, fence: { char: string; length: number }): boolean {
  const m = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line);
  return m !== null && m[1]![0] === fence.char && m[1]!.length >= fence.length;
}

/** The content of a fenced code block starting at the first non-blank line from `from`, if any. */
function fencedBlockAfter(
  lines: readonly string[],
  from: number,
): { content: string } | { unclosed: true } | null {
  let i = from;
  while (i < lines.length && lines[i]!.trim() === "") i++;
  if (i >= lines.length) return null;
  const opening = FENCE_OPEN.exec(lines[i]!);
  if (!opening) return null;
  const fence = { char: opening[1]![0]!, length: opening[1]!.length };
  const body: string[] = [];
  for (let j = i + 1; j < lines.length; j++) {
    if (closesFence(lines[j]!, fence)) return { content: body.join("\n") };
    body.push(lines[j]!);
  }
  return { unclosed: true };
}

interface Token {
  text: string;
  start: number;
}

/**
 * Words separated by white space; a part in backticks (`a b`) or double quotes ("a b") belongs to
 * its word even when it holds spaces, so `--bad-if-output `panicked at|Segfault`` is one option.
 * An unclosed quote is an ordinary character.
 */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const re = /(?:[^\s`"]+|(`+)[\s\S]+?\1|"[^"]*"|[`"])+/g;
  for (let m = re.exec(text); m; m = re.exec(text)) tokens.push({ text: m[0], start: m.index });
  return tokens;
}

/** `v1.4.0` written as inline code is still `v1.4.0`. */
function unwrapCode(text: string): string {
  const m = /^(`+)([^`]+)\1$/.exec(text);
  return m ? m[2]!.trim() : text;
}

/** An option's value: inline code (``a `b` c`` too) or a double-quoted string loses its quotes. */
function unquote(text: string): string {
  const m = /^"([^"]*)"$/.exec(text);
  if (m) return m[1]!;
  const run = /^`+/.exec(text)?.[0];
  if (run && text.length > 2 * run.length && text.endsWith(run)) {
    const inner = text.slice(run.length, -run.length);
    if (!inner.startsWith("`") && !inner.endsWith("`") && !inner.includes(run)) return inner.trim();
  }
  return text;
}

/** 75 → "1m 15s", 3600 → "1h", 0.4 → "0s". */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const parts = [h ? `${h}h` : "", m ? `${m}m` : "", sec || (!h && !m) ? `${sec}s` : ""].filter(
    Boolean,
  );
  return parts.join(" ");
}

/** Git's ref-name rules on top of the runner's own check (which refuses option-like and range syntax). */
export function revisionProblem(ref: string): string | null {
  const basic = refProblem(ref);
  if (basic) return basic;
  // The API that checks the revision and reads .github/bisect.yml takes names, not expressions.
  if (/[~^]/.test(ref))
    return "contains '~' or '^' (give a commit SHA, tag or branch; ancestry steps like main~3 are not supported here)";
  if (ref === "@") return "is '@' (name the revision)";
  if (ref.endsWith("/") || ref.endsWith(".")) return "ends with '/' or '.'";
  if (ref.includes("//")) return "contains '//'";
  if (ref.split("/").some((part) => part.startsWith(".") || part.endsWith(".lock"))) {
    return "has a part starting with '.' or ending with '.lock'";
  }
  if (/[<>`'"|;&$]/.test(ref))
    return "contains a character git refs cannot have here (< > ` ' \" | ; & $)";
  return null;
}

const SUBCOMMAND_EXAMPLES = {
  cancel: "/bisect cancel 12",
  retry: "/bisect retry 12",
  verify: "/bisect verify 12",
} as const;

function error(message: string, example: string = EXAMPLE): ParsedCommand {
  return { kind: "error", message, example };
}

function jobReference(name: "cancel" | "retry" | "verify", args: Token[]): ParsedCommand {
  if (args.length === 0) return { kind: name };
  if (args.length > 1) {
    return error(
      `\`/bisect ${name}\` takes at most one bisection number, got ${code(args.map((a) => a.text).join(" "))}.`,
      SUBCOMMAND_EXAMPLES[name],
    );
  }
  const m = /^#?(\d{1,15})$/.exec(args[0]!.text);
  if (!m || Number(m[1]) < 1) {
    return error(
      `${code(args[0]!.text)} is not a bisection number: write it as \`12\` (or leave it out for the latest bisection on this issue).`,
      SUBCOMMAND_EXAMPLES[name],
    );
  }
  return { kind: name, jobId: Number(m[1]) };
}

/** Options that take no value. */
const SWITCHES = new Set(["--first-parent", "--flaky"]);
/** Options whose value is one of a few words. */
const CHOICES: Record<string, readonly string[]> = {
  "--crash": ["bad", "skip"],
  "--timeout-is": ["bad", "skip"],
  "--find": ["fix", "regression"],
};

/** A predicate field's name as the comment spells it. */
export const PREDICATE_FLAGS: Record<string, string> = {
  crash: "--crash",
  timeout: "--timeout-is",
  badIfOutput: "--bad-if-output",
  find: "--find",
  runs: "--runs",
  failThreshold: "--fail-threshold",
  flaky: "--flaky",
};

/** The predicate fields a comment gave (only those), named as in `Predicate`. */
export function predicateFieldsOf(request: BisectRequest): Partial<Predicate> {
  const fields: Partial<Predicate> = {};
  if (request.runs !== undefined) fields.runs = request.runs;
  if (request.failThreshold !== undefined) fields.failThreshold = request.failThreshold;
  if (request.crash !== undefined) fields.crash = request.crash;
  if (request.timeoutIs !== undefined) fields.timeout = request.timeoutIs;
  if (request.badIfOutput !== undefined) fields.badIfOutput = request.badIfOutput;
  if (request.find !== undefined) fields.find = request.find;
  if (request.flaky) fields.flaky = true;
  return fields;
}

/**
 * The file's predicate fields under the comment's. The flaky preset and explicit runs/threshold
 * exclude each other, so whichever the comment gives replaces the other from the file.
 */
export function mergePredicateFields(
  file: Partial<Predicate>,
  comment: Partial<Predicate>,
): Partial<Predicate> {
  const base = { ...file };
  if (comment.flaky) {
    delete base.runs;
    delete base.failThreshold;
  }
  if (comment.runs !== undefined || comment.failThreshold !== undefined) delete base.flaky;
  return { ...base, ...comment };
}

/** Parses a comment body. `none` when no line is a `/bisect` command. */
export function parseCommand(body: string): ParseResult {
  const lines = body.replace(/\r\n?/g, "\n").split("\n");
  const found = findCommandLine(lines);
  if (!found) return { kind: "none" };
  const rest = found.rest;
  const tokens = tokenize(rest);
  const first = tokens[0];
  if (!first) {
    return error("`/bisect` needs a good revision, a bad revision and the test command.");
  }
  const word = first.text.toLowerCase();
  if (word === "cancel" || word === "retry" || word === "verify")
    return jobReference(word, tokens.slice(1));
  if (word === "status") return { kind: "status" };
  if (word === "help" || word === "--help" || word === "-h") return { kind: "help" };

  const good = unwrapCode(first.text);
  if (good.startsWith("-")) {
    return error(
      `The first word after \`/bisect\` must be the good revision (a commit, tag or branch where the test passes), not the option ${code(good)}.`,
    );
  }
  const goodProblem = revisionProblem(good);
  if (goodProblem)
    return error(`The good revision ${code(good)} is not a valid revision: it ${goodProblem}.`);
  const second = tokens[1];
  if (!second || second.text.startsWith("-")) {
    return error(
      `Missing the bad revision: after the good revision ${code(good)} give a commit, tag or branch where the test fails.`,
    );
  }
  const bad = unwrapCode(second.text);
  const badProblem = revisionProblem(bad);
  if (badProblem)
    return error(`The bad revision ${code(bad)} is not a valid revision: it ${badProblem}.`);
  if (good === bad)
    return error(
      `The good and the bad revision are both ${code(good)}: give two different revisions.`,
    );

  const request: BisectRequest = { kind: "bisect", good, bad, firstParent: false, command: null };
  const seen = new Set<string>();
  let commandStart: number | null = null;
  let explicitSeparator = false;
  for (let i = 2; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.text === "--") {
      explicitSeparator = true;
      commandStart = i + 1 < tokens.length ? tokens[i + 1]!.start : rest.length;
      break;
    }
    if (!token.text.startsWith("-")) {
      commandStart = token.start;
      break;
    }
    const eq = token.text.indexOf("=");
    const name = (eq === -1 ? token.text : token.text.slice(0, eq)).toLowerCase();
    if (!OPTION_NAMES.includes(name)) {
      return error(
        `Unknown option ${code(token.text)}. The options are ${OPTION_NAMES.map((o) => `\`${o}\``).join(", ")}; ` +
          "if your test command starts with a dash, put `--` before it.",
      );
    }
    if (seen.has(name)) return error(`The option \`${name}\` is given more than once.`);
    seen.add(name);
    if (SWITCHES.has(name)) {
      if (eq !== -1) return error(`\`${name}\` takes no value.`);
      if (name === "--flaky") request.flaky = true;
      else request.firstParent = true;
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = token.text.slice(eq + 1);
    else {
      const next = tokens[i + 1];
      if (next && next.text !== "--" && !next.text.startsWith("--")) {
        value = next.text;
        i++;
      }
    }
    if (value === undefined || value === "") {
      const hint =
        name === "--timeout"
          ? "a duration such as `90s`, `10m` or `1h`"
          : name === "--bad-if-output"
            ? "a regular expression, in backticks when it holds spaces (`panicked at|Segmentation fault`)"
            : CHOICES[name]
              ? CHOICES[name].map((c) => `\`${c}\``).join(" or ")
              : "a whole number";
      return error(`The option \`${name}\` needs a value: ${hint}.`);
    }
    value = unquote(value);
    if (CHOICES[name]) {
      const v = value.toLowerCase();
      if (!CHOICES[name].includes(v))
        return error(
          `${code(`${name} ${value}`)} is not allowed: ${name} must be ${CHOICES[name].map((c) => `\`${c}\``).join(" or ")}.`,
        );
      if (name === "--crash") request.crash = v as Predicate["crash"];
      else if (name === "--timeout-is") request.timeoutIs = v as Predicate["timeout"];
      else request.find = v as Predicate["find"];
    } else if (name === "--bad-if-output") {
      request.badIfOutput = value;
    } else if (name === "--timeout") {
      const seconds = parseDuration(value);
      const { min, max } = LIMITS.timeoutSeconds;
      if (seconds === null)
        return error(
          `${code(`--timeout ${value}`)} is not a duration: write it like \`90s\`, \`10m\` or \`1h\`.`,
        );
      if (seconds < min || seconds > max)
        return error(`${code(`--timeout ${value}`)} is out of range: give from 1s to 24h.`);
      request.timeoutSeconds = seconds;
    } else {
      const key =
        name === "--runs" ? "runs" : name === "--fail-threshold" ? "failThreshold" : "parallel";
      const { min, max } = LIMITS[key];
      if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
        return error(
          `${code(`${name} ${value}`)} is not allowed: ${name} must be a whole number from ${min} to ${max}.`,
        );
      }
      request[key] = Number(value);
    }
  }

  try {
    // The comment's own choices must agree with each other (the file's are merged later).
    normalizePredicate(predicateFieldsOf(request));
  } catch (problem) {
    if (!(problem instanceof PredicateError)) throw problem;
    return error(`${renamePredicateFields(problem.message, PREDICATE_FLAGS)}.`);
  }

  let command = commandStart === null ? "" : rest.slice(commandStart).trim();
  command = unwrapCode(command);
  if (command === "") {
    const block = fencedBlockAfter(lines, found.index + 1);
    if (block && "unclosed" in block) {
      return error(
        "The code block with the test command under the `/bisect` line is not closed: end it with a line of three backticks.",
      );
    }
    if (block) command = block.content.trim();
  }
  if (command === "" && explicitSeparator && commandStart !== null) {
    return error(
      "Missing the test command after `--`: write it on the same line, or in a code block under the line.",
    );
  }
  if (command.length > LIMITS.commandLength) {
    return error(
      `The test command is ${command.length} characters long; the limit is ${LIMITS.commandLength}. Put it in a script in the repository and run that.`,
    );
  }
  request.command = command === "" ? null : command;
  return request;
}
