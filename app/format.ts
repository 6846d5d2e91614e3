// Formatting shared by server and browser. Everything in UTC, so server-rendered text and the
// hydrated page agree whatever the visitor's time zone.

export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.trim().slice(0, 7) : "";
}

/** `2026-11-26 21:30 UTC` */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** `850 ms`, `12 s`, `2 min 10 s`, `1 h 5 min` */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

/** MiB → `512 MiB`, `1 GiB`, `2.5 GiB` */
export function formatMiB(mib: number): string {
  if (mib < 1024) return `${Math.round(mib)} MiB`;
  const gib = mib / 1024;
  return `${Number.isInteger(gib) ? gib : gib.toFixed(1)} GiB`;
}

/** `2026-11` → `Nov 2026` (UTC, fixed English so server and browser agree). */
export function monthLabel(month: string, withYear = true): string {
  const names = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
  ];
  const [y, m] = month.split("-");
  const name = names[Number(m) - 1] ?? month;
  return withYear ? `${name} ${y}` : name;
}
