// The bisection as a picture: one row per round, the candidate range as a bar, and each tested
// commit as a marker whose shape, colour and text label all say its verdict.
import {
  VERDICT_SYMBOL,
  VERDICT_TEXT,
  type Picture,
  type PictureProbe,
  type ProbeVerdict,
} from "../bisection-picture";
import { plural, shortSha } from "../format";

const WIDTH = 760;
const BAR_X = 168;
const BAR_W = WIDTH - BAR_X - 12;
const ROW_H = 56;
const TOP = 8;
const MAX_LABELS = 6;

export function VerdictMarker({
  verdict,
  x,
  y,
  size = 6,
}: {
  verdict: ProbeVerdict;
  x: number;
  y: number;
  size?: number;
}) {
  const cls = `marker v-${verdict}`;
  switch (verdict) {
    case "good":
      return <circle className={cls} cx={x} cy={y} r={size} />;
    case "bad":
      return <rect className={cls} x={x - size} y={y - size} width={size * 2} height={size * 2} />;
    case "skip":
      return (
        <path
          className={cls}
          d={`M${x} ${y - size} L${x + size} ${y + size} L${x - size} ${y + size} Z`}
        />
      );
    case "error":
      return (
        <path
          className={cls}
          d={`M${x} ${y - size - 1} L${x + size + 1} ${y} L${x} ${y + size + 1} L${x - size - 1} ${y} Z`}
        />
      );
    default:
      return <circle className={cls} cx={x} cy={y} r={size - 1} />;
  }
}

function probeText(probes: PictureProbe[]): string {
  const shown = probes
    .slice(0, MAX_LABELS)
    .map((p) => `${shortSha(p.sha)} ${VERDICT_SYMBOL[p.verdict]} ${VERDICT_TEXT[p.verdict]}`);
  if (probes.length > MAX_LABELS) shown.push(`+${probes.length - MAX_LABELS} more`);
  return shown.join("   ");
}

function rowTitle(round: number | null): string {
  return round === null ? "Result" : round === 0 ? "Endpoints" : `Round ${round}`;
}

export function describePicture(picture: Picture): string {
  const parts = picture.rows.map((row) => {
    const head = `${rowTitle(row.round)}: ${picture.commits > 0 ? plural(row.candidates, "candidate") : "range not known yet"}`;
    if (row.probes.length === 0) return head;
    return `${head}; tested ${row.probes.map((p) => `${shortSha(p.sha)} (${VERDICT_TEXT[p.verdict]})`).join(", ")}`;
  });
  return `${parts.join(". ")}.`;
}

export function BisectionPicture({
  picture,
  idPrefix = "bisection",
}: {
  picture: Picture;
  idPrefix?: string;
}) {
  if (
    picture.rows.length === 0 ||
    (picture.commits === 0 && picture.rows.every((r) => r.probes.length === 0))
  ) {
    return (
      <p className="empty">
        Nothing has been tested yet. The picture appears once the first commits are tested.
      </p>
    );
  }
  const height = TOP + picture.rows.length * ROW_H + 4;
  const colW = BAR_W / Math.max(1, picture.columns);
  const xOf = (column: number) => (column < 0 ? BAR_X - 8 : BAR_X + (column + 0.5) * colW);
  return (
    <figure className="picture">
      <svg
        viewBox={`0 0 ${WIDTH} ${height}`}
        role="img"
        aria-labelledby={`${idPrefix}-title ${idPrefix}-desc`}
        preserveAspectRatio="xMinYMin meet"
        className="bisection-svg"
      >
        <title id={`${idPrefix}-title`}>
          {picture.commits > 0
            ? `How the range of ${plural(picture.commits, "commit")} narrowed, round by round`
            : "Commits tested, round by round"}
        </title>
        <desc id={`${idPrefix}-desc`}>{describePicture(picture)}</desc>
        {picture.rows.map((row, r) => {
          const y = TOP + r * ROW_H;
          const barY = y + 14;
          return (
            <g key={row.round ?? "end"} className={row.round === null ? "row result" : "row"}>
              <text className="row-label" x={0} y={barY + 4}>
                {rowTitle(row.round)}
              </text>
              <text className="row-sub" x={0} y={barY + 20}>
                {picture.commits > 0 ? plural(row.candidates, "candidate") : ""}
              </text>
              {picture.commits > 0 ? (
                <rect
                  className="range-track"
                  x={BAR_X}
                  y={barY - 5}
                  width={BAR_W}
                  height={10}
                  rx={2}
                />
              ) : null}
              {row.segments.map(([a, b]) => (
                <rect
                  key={a}
                  className="range"
                  x={BAR_X + a * colW}
                  y={barY - 5}
                  width={Math.max(2, (b - a) * colW)}
                  height={10}
                  rx={2}
                />
              ))}
              {row.probes.map((p, i) => (
                <g key={`${p.sha}-${i}`}>
                  <title>{`${shortSha(p.sha)}: ${VERDICT_TEXT[p.verdict]}`}</title>
                  <VerdictMarker
                    verdict={p.verdict}
                    x={picture.commits > 0 ? xOf(p.column) : BAR_X + 10 + i * 18}
                    y={barY}
                  />
                </g>
              ))}
              {row.probes.length > 0 ? (
                <text className="probe-labels" x={BAR_X} y={barY + 24}>
                  {probeText(row.probes)}
                </text>
              ) : row.round === null ? (
                <text className="probe-labels" x={BAR_X} y={barY + 24}>
                  {picture.commits > 0
                    ? row.candidates === 1
                      ? "one commit left: the first bad one"
                      : `${plural(row.candidates, "commit")} left`
                    : ""}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <ul className="legend" aria-label="Legend">
          {(["good", "bad", "skip", "error", "pending"] as const).map((v) => (
            <li key={v}>
              <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
                <VerdictMarker verdict={v} x={8} y={8} size={5} />
              </svg>{" "}
              {VERDICT_TEXT[v]}
            </li>
          ))}
          <li>
            <svg width="22" height="16" viewBox="0 0 22 16" aria-hidden="true">
              <rect className="range" x={1} y={3} width={20} height={10} rx={2} />
            </svg>{" "}
            candidate range (oldest commits left)
          </li>
        </ul>
      </figcaption>
    </figure>
  );
}
