// Status and verdict badges: a word and a symbol, never colour alone.
import { VERDICT_SYMBOL, VERDICT_TEXT, type ProbeVerdict } from "../bisection-picture";

const STATUS_SYMBOL: Record<string, string> = {
  queued: "◷",
  preparing: "◔",
  running: "▶",
  finished: "✓",
  failed: "✗",
  cancelled: "■",
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge s-${status}`}>
      <span aria-hidden="true">{STATUS_SYMBOL[status] ?? "•"}</span> {status}
    </span>
  );
}

export function VerdictBadge({ verdict }: { verdict: ProbeVerdict }) {
  const word = VERDICT_TEXT[verdict];
  return (
    <span className={`badge v-${verdict}`}>
      <span aria-hidden="true">{VERDICT_SYMBOL[verdict]}</span> {word}
    </span>
  );
}

/** A job nobody asked for: a configured check turned red on the default branch. */
export function AutomaticBadge({ source }: { source: string }) {
  if (source !== "auto") return null;
  return (
    <span className="badge automatic" title="Started because a configured check turned red">
      <span aria-hidden="true">⟳</span> automatic
    </span>
  );
}
