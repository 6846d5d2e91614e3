// Status and verdict badges: a word and a symbol, never colour alone.
import type { ProbeVerdict } from "../bisection-picture";

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

const VERDICT_SYMBOL: Record<ProbeVerdict, string> = {
  good: "✓",
  bad: "✗",
  skip: "–",
  error: "!",
  pending: "…",
};

export function VerdictBadge({ verdict }: { verdict: ProbeVerdict }) {
  const word = verdict === "skip" ? "skipped" : verdict === "pending" ? "running" : verdict;
  return (
    <span className={`badge v-${verdict}`}>
      <span aria-hidden="true">{VERDICT_SYMBOL[verdict]}</span> {word}
    </span>
  );
}
