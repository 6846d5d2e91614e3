// Jobs and compute minutes per month, last six months, as a small server-rendered bar chart.
import type { MonthUsage } from "../dashboard.server";
import { monthLabel } from "../format";

const W = 320;
const H = 150;
const PAD_TOP = 18;
const PAD_BOTTOM = 34;

export function UsageChart({
  history,
  limit,
  id,
}: {
  history: MonthUsage[];
  limit: number | null;
  id: string;
}) {
  const max = Math.max(1, limit ?? 0, ...history.map((m) => m.jobs));
  const slot = W / history.length;
  const barW = Math.min(30, slot * 0.55);
  const plotH = H - PAD_TOP - PAD_BOTTOM;
  const yOf = (v: number) => PAD_TOP + plotH - (v / max) * plotH;
  const summary = history
    .map((m) => `${monthLabel(m.month)}: ${m.jobs} jobs, ${m.computeMinutes} compute minutes`)
    .join("; ");
  return (
    <svg
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-labelledby={`${id}-title ${id}-desc`}
      className="usage-svg"
    >
      <title id={`${id}-title`}>Jobs per month, last six months</title>
      <desc id={`${id}-desc`}>
        {summary}.
        {limit !== null ? ` Plan limit: ${limit} jobs a month.` : " No monthly job limit."}
      </desc>
      <line className="axis" x1={0} x2={W} y1={yOf(0)} y2={yOf(0)} />
      {limit !== null ? (
        <g>
          <line className="limit" x1={0} x2={W} y1={yOf(limit)} y2={yOf(limit)} />
          <text className="chart-note" x={W - 2} y={yOf(limit) - 4} textAnchor="end">
            limit {limit}
          </text>
        </g>
      ) : null}
      {history.map((m, i) => {
        const x = i * slot + (slot - barW) / 2;
        const current = i === history.length - 1;
        return (
          <g key={m.month}>
            <rect
              className={current ? "bar current" : "bar"}
              x={x}
              y={yOf(m.jobs)}
              width={barW}
              height={Math.max(0, yOf(0) - yOf(m.jobs))}
            />
            <text className="chart-value" x={x + barW / 2} y={yOf(m.jobs) - 4} textAnchor="middle">
              {m.jobs}
            </text>
            <text
              className="chart-label"
              x={x + barW / 2}
              y={H - PAD_BOTTOM + 14}
              textAnchor="middle"
            >
              {monthLabel(m.month, false)}
            </text>
            <text
              className="chart-sub"
              x={x + barW / 2}
              y={H - PAD_BOTTOM + 28}
              textAnchor="middle"
            >
              {m.computeMinutes} min
            </text>
          </g>
        );
      })}
    </svg>
  );
}
