// Small, pure Markdown helpers for text that came from people or from git (titles, refs,
// commands, logs): nothing in it may turn into markup, links or @-mentions.

/**
 * Inline text: Markdown punctuation escaped, @-mentions defused, one line. `&` is escaped too, so
 * an entity such as `&commat;` or `&#64;` cannot turn back into an `@` (or any other character).
 */
export function text(value: string): string {
  return value
    .replace(/[\r\n]+/g, " ")
    .replace(/[\\`*_[\]<>|~#!&]/g, (c) => `\\${c}`)
    .replace(/@(?=\w)/g, "@\u200b");
}

/** An inline code span that survives backticks in the value. */
export function code(value: string): string {
  const oneLine = value.replace(/[\r\n]+/g, " ");
  const longest = Math.max(0, ...(oneLine.match(/`+/g) ?? []).map((run) => run.length));
  const ticks = "`".repeat(longest + 1);
  const pad = oneLine.startsWith("`") || oneLine.endsWith("`") ? " " : "";
  return `${ticks}${pad}${oneLine}${pad}${ticks}`;
}

/** A code span usable inside a table cell (pipes escaped). */
export function cellCode(value: string): string {
  return code(value).replace(/\|/g, "\\|");
}

/** A fenced block that the content cannot close early. */
export function fence(content: string, lang = ""): string {
  const longest = Math.max(0, ...(content.match(/`{3,}/g) ?? []).map((run) => run.length));
  const ticks = "`".repeat(Math.max(3, longest + 1));
  return `${ticks}${lang}\n${content.replace(/\n+$/, "")}\n${ticks}`;
}

/** Single-quotes a word for sh unless it is plainly safe. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The last `max` characters of a log, cut at a line start, with a note of what was left out. */
export function tail(log: string, max: number): string {
  if (log.length <= max) return log;
  const cut = log.slice(log.length - max);
  const newline = cut.indexOf("\n");
  const start = newline >= 0 && newline < max / 2 ? newline + 1 : 0;
  return `[… ${log.length - max + start} earlier characters left out]\n${cut.slice(start)}`;
}
