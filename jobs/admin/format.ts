// Human output of admin results: plain-text tables and sentences. Pure: `now` is a parameter.
import type { CommandName } from "./commands";
import type { InstallationView, SuspendResult } from "./installations";
import type { AdminJobRow } from "./jobs";
import type { BackupReport } from "./backup";
import type { PruneReport } from "./prune";
import type { AddResult, HostView, ProbeView, RemoveResult } from "./runners";
import type { UsageReport } from "./usage";
import type { WorkerView } from "./workers";

type Cell = string | number | null | undefined;

/** A left-aligned table with a header row; numbers are right-aligned; empty cells show "-". */
export function table(headers: readonly string[], rows: readonly Cell[][]): string {
  const text = rows.map((r) =>
    headers.map((_, i) =>
      r[i] === null || r[i] === undefined || r[i] === "" ? "-" : String(r[i]),
    ),
  );
  const numeric = headers.map(
    (_, i) =>
      rows.length > 0 &&
      rows.every((r) => typeof r[i] === "number" || r[i] === null || r[i] === undefined),
  );
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i === cells.length - 1 && !numeric[i]
          ? c
          : numeric[i]
            ? c.padStart(widths[i]!)
            : c.padEnd(widths[i]!),
      )
      .join("  ")
      .trimEnd();
  return [line([...headers]), ...text.map(line)].join("\n");
}

/** "12s ago", "5m ago", "3h ago", "2d ago"; "never" for null. */
export function ago(iso: string | null, now: Date): string {
  if (!iso) return "never";
  const seconds = Math.round((now.getTime() - new Date(iso).getTime()) / 1000);
  if (seconds < 0) return "just now";
  if (seconds < 90) return `${seconds}s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86_400)}d ago`;
}

/** "2026-11-26 21:07" (UTC). */
export function stamp(iso: string | null): string {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : "-";
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const short = (text: string | null, max = 60) =>
  text && text.length > max ? `${text.slice(0, max - 1)}…` : text;

function hostsTable(hosts: HostView[], now: Date): string {
  if (hosts.length === 0)
    return "no runner hosts (add one: npm run admin -- runners add <name> <endpoint> --tls-dir DIR)";
  const withLabels = hosts.some((h) => Object.keys(h.labels).length > 0);
  return table(
    [
      "NAME",
      "ENDPOINT",
      "STATE",
      "SLOTS",
      "LAST SEEN",
      ...(withLabels ? ["LABELS"] : []),
      "LAST ERROR",
    ],
    hosts.map((h) => [
      h.name,
      h.endpoint,
      h.state,
      `${h.slotsInUse}/${h.capacity}`,
      ago(h.lastSeenAt, now),
      ...(withLabels
        ? [
            Object.entries(h.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(","),
          ]
        : []),
      short(h.lastError),
    ]),
  );
}

function addLines(r: AddResult): string {
  const width = Math.max(...r.checks.map((c) => c.check.length));
  const lines = r.checks.map(
    (c) => `${c.ok ? "ok  " : "FAIL"}  ${c.check.padEnd(width)}  ${c.detail}`,
  );
  if (r.added && r.host)
    lines.push(
      "",
      `added ${r.host.name}: ${r.host.state}, ${plural(r.host.capacity, "slot")}, ${r.host.endpoint}`,
    );
  else lines.push("", "not added");
  return lines.join("\n");
}

function probeTable(hosts: ProbeView[]): string {
  if (hosts.length === 0) return "no runner hosts";
  return table(
    ["NAME", "CHECK", "STATE", "VERSION", "ERROR"],
    hosts.map((h) => [h.name, h.ok ? "ok" : "failed", h.state, h.version, h.error]),
  );
}

/** The human rendering of a command's result (success, or the details a failure carried). */
export function formatResult(command: CommandName, result: unknown, now = new Date()): string {
  if (result === null || result === undefined) return "";
  switch (command) {
    case "runners.add":
      return addLines(result as AddResult);
    case "runners.list":
      return hostsTable((result as { hosts: HostView[] }).hosts, now);
    case "runners.check":
      return probeTable((result as { hosts: ProbeView[] }).hosts);
    case "runners.drain": {
      const { host, previousState } = result as { host: HostView; previousState: string };
      const inFlight = host.slotsInUse
        ? `; ${plural(host.slotsInUse, "run")} in flight will finish`
        : "; nothing runs there now";
      return `${host.name} is draining (was ${previousState}): it takes no new work${inFlight}.`;
    }
    case "runners.activate": {
      const { host, previousState } = result as { host: HostView; previousState: string };
      return `${host.name} is ${host.state} (was ${previousState}).`;
    }
    case "runners.remove": {
      const r = result as RemoveResult;
      if (!r.removed) return "";
      const lines = [
        `removed ${r.name}${r.drained ? ` after draining it for ${r.waitedSeconds}s` : ""}.`,
      ];
      if (r.note) lines.push(`note: ${r.note}`);
      return lines.join("\n");
    }
    case "installations.list": {
      const list = (result as { installations: InstallationView[] }).installations;
      if (list.length === 0) return "no installations yet";
      return table(
        ["ID", "ACCOUNT", "TYPE", "TIER", "STATE", "REPOS", "ACTIVE JOBS", "JOBS THIS MONTH"],
        list.map((i) => [
          i.id,
          i.login,
          i.type,
          i.tier,
          i.state,
          i.repositories,
          i.activeJobs,
          i.jobsThisMonth,
        ]),
      );
    }
    case "installations.set-tier": {
      const r = result as { id: number; login: string; previousTier: string; tier: string };
      return r.previousTier === r.tier
        ? `installation ${r.id} (${r.login}) is already on ${r.tier}.`
        : `installation ${r.id} (${r.login}): ${r.previousTier} → ${r.tier}.`;
    }
    case "installations.suspend": {
      const r = result as SuspendResult;
      const jobs = r.cancelledJobs.length
        ? `cancelled ${plural(r.cancelledJobs.length, "job")} (${r.cancelledJobs.join(", ")})`
        : "no active jobs to cancel";
      return `installation ${r.id} (${r.login}) ${r.alreadySuspended ? "was already suspended" : "suspended"}; ${jobs}.`;
    }
    case "installations.resume": {
      const r = result as { id: number; login: string; wasSuspended: boolean };
      return r.wasSuspended
        ? `installation ${r.id} (${r.login}) resumed.`
        : `installation ${r.id} (${r.login}) was not suspended.`;
    }
    case "jobs.list": {
      const jobs = (result as { jobs: AdminJobRow[] }).jobs;
      if (jobs.length === 0) return "no jobs";
      return table(
        [
          "ID",
          "STATUS",
          "OUTCOME",
          "INSTALLATION",
          "REPOSITORY",
          "GOOD..BAD",
          "CREATED",
          "CULPRIT",
        ],
        jobs.map((j) => [
          j.id,
          j.status,
          j.outcome,
          j.installation,
          short(j.repository, 40),
          short(`${j.goodRef}..${j.badRef}`, 30),
          ago(j.createdAt, now),
          j.culprit?.slice(0, 12),
        ]),
      );
    }
    case "jobs.cancel": {
      const r = result as { id: number; previousStatus: string };
      return `job ${r.id} cancelled (was ${r.previousStatus}); its running containers are being stopped.`;
    }
    case "jobs.retry": {
      const r = result as { id: number; newJobId: number };
      return `job ${r.newJobId} re-runs job ${r.id}.`;
    }
    case "usage.report": {
      const r = result as UsageReport;
      const lines = [`usage in ${r.month} (UTC)`, ""];
      if (r.installations.length === 0) lines.push("no installations");
      else
        lines.push(
          table(
            [
              "INSTALLATION",
              "ACCOUNT",
              "TIER",
              "JOBS",
              "LIMIT",
              "QUOTA",
              "COMPUTE MIN",
              "MAX MIN/JOB",
              "CONCURRENT",
            ],
            r.installations.map((i) => [
              i.installationId,
              i.state === "active" ? i.login : `${i.login} (${i.state})`,
              i.tier,
              i.jobs,
              i.jobsPerMonth === null ? "unlimited" : String(i.jobsPerMonth),
              i.quotaPercent === null ? "-" : `${i.quotaPercent}%`,
              i.computeMinutes,
              i.maxDurationMinutes,
              i.maxConcurrent,
            ]),
          ),
        );
      lines.push(
        "",
        `total: ${plural(r.totals.jobs, "job")}, ${r.totals.computeMinutes} compute minutes`,
      );
      return lines.join("\n");
    }
    case "workers.list": {
      const { workers, deadAfterSeconds } = result as {
        workers: WorkerView[];
        deadAfterSeconds: number;
      };
      if (workers.length === 0) return "no worker has a heartbeat: none is running";
      return [
        table(
          ["WORKER", "HOST", "PID", "STARTED", "LAST BEAT", "ALIVE", "LOCKED JOBS"],
          workers.map((w) => [
            w.workerId,
            w.hostname,
            w.pid,
            stamp(w.startedAt),
            ago(w.lastBeatAt, now),
            w.alive ? "yes" : "no",
            w.lockedJobs,
          ]),
        ),
        "",
        `(alive = a heartbeat within ${deadAfterSeconds}s)`,
      ].join("\n");
    }
    case "workers.unlock-dead": {
      const { unlocked } = result as { unlocked: string[] };
      return unlocked.length
        ? `freed the jobs of ${plural(unlocked.length, "dead worker")}: ${unlocked.join(", ")}`
        : "no dead worker holds jobs.";
    }
    case "secrets.re-encrypt": {
      const { reencrypted, cleared } = result as { reencrypted: number; cleared: number };
      return (
        `re-encrypted ${plural(reencrypted, "token")} with the current key` +
        (cleared
          ? `; cleared ${plural(cleared, "token")} no key opens (those users sign in again)`
          : "")
      );
    }
    case "prune": {
      const r = result as PruneReport;
      const kept = r.retention ?? {
        stepLogs: r.olderThan,
        webhookPayloads: r.olderThan,
        auditLog: "forever",
        other: r.olderThan,
      };
      return [
        `pruned by retention (admin runs and leases older than ${r.olderThan}, ended before ${stamp(r.cutoff)} UTC):`,
        table(
          ["WHAT", "COUNT", "OLDER THAN"],
          [
            ["step log excerpts cleared", r.stepLogs, kept.stepLogs],
            ["webhook payloads cleared", r.webhookPayloads, kept.webhookPayloads],
            [
              "audit log entries deleted",
              r.auditLog ?? 0,
              kept.auditLog === "forever" ? "never (kept)" : kept.auditLog,
            ],
            ["admin runs deleted", r.adminRuns, kept.other],
            ["ended leases deleted", r.leases, kept.other],
          ],
        ),
      ].join("\n");
    }
    case "backup": {
      const r = result as BackupReport;
      const deleted = r.deleted.length
        ? `; deleted ${plural(r.deleted.length, "older dump")} (${r.deleted.join(", ")})`
        : "";
      return `wrote ${r.file} (${r.bytes} bytes); ${plural(r.kept.length, "dump")} kept${deleted}.`;
    }
  }
}
