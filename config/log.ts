// Structured logs: one JSON object per line, on stdout (stderr for errors). Secrets never reach
// them: fields named like secrets are replaced whole, and every string is scrubbed of credential
// shapes (tokens, Authorization headers, URL credentials, PEM blocks, JWTs).
import { scrubSecrets } from "./scrub";

export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const SECRET_FIELD =
  /(token|secret|password|passwd|authorization|cookie|private_?key|credential|signature|api_?key)/i;

/** A copy of `value` safe to log. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return scrubSecrets(value);
  if (value instanceof Error) return { name: value.name, message: scrubSecrets(value.message) };
  if (value === null || typeof value !== "object" || depth > 5) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [
      k,
      SECRET_FIELD.test(k) ? "[redacted]" : redact(v, depth + 1),
    ]),
  );
}

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function createLogger(
  component: string,
  minimum: Level = (process.env.LOG_LEVEL as Level) || "info",
  write: (line: string, level: Level) => void = (line, level) =>
    (level === "error" ? process.stderr : process.stdout).write(`${line}\n`),
): Logger {
  const emit =
    (level: Level) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      if (ORDER[level] < (ORDER[minimum] ?? 1)) return;
      write(
        JSON.stringify({
          time: new Date().toISOString(),
          level,
          component,
          message: scrubSecrets(message),
          ...(redact(fields) as object),
        }),
        level,
      );
    };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}
