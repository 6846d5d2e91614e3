import { describe, expect, it } from "vitest";
import { ago, formatResult, stamp, table } from "./format";
import type { HostView } from "./runners";
import { quotaPercent } from "./usage";

const now = new Date("2026-11-26T12:00:00Z");

const host = (over: Partial<HostView> = {}): HostView => ({
  name: "h1",
  endpoint: "tcp://10.0.0.1:2376",
  state: "active",
  source: "admin",
  capacity: 4,
  slotsInUse: 1,
  labels: {},
  lastSeenAt: "2026-11-26T11:59:48Z",
  lastError: null,
  ...over,
});

describe("table", () => {
  it("aligns columns, right-aligns numbers, shows empty cells as -", () => {
    expect(
      table(
        ["NAME", "N", "NOTE"],
        [
          ["a", 1, null],
          ["long-name", 120, "x"],
        ],
      ),
    ).toBe(["NAME         N  NOTE", "a            1  -", "long-name  120  x"].join("\n"));
  });
});

describe("times", () => {
  it("says how long ago", () => {
    expect(ago(null, now)).toBe("never");
    expect(ago("2026-11-26T11:59:48Z", now)).toBe("12s ago");
    expect(ago("2026-11-26T11:30:00Z", now)).toBe("30m ago");
    expect(ago("2026-11-26T06:00:00Z", now)).toBe("6h ago");
    expect(ago("2026-11-20T12:00:00Z", now)).toBe("6d ago");
    expect(ago("2026-11-26T12:00:05Z", now)).toBe("just now");
    expect(stamp("2026-11-26T11:59:48.123Z")).toBe("2026-11-26 11:59");
  });
});

describe("formatResult", () => {
  it("lists runner hosts with slots in use and last errors", () => {
    const text = formatResult(
      "runners.list",
      {
        hosts: [
          host(),
          host({
            name: "h2",
            state: "down",
            slotsInUse: 0,
            capacity: 2,
            lastSeenAt: null,
            lastError: "h2 unreachable: ECONNREFUSED",
          }),
        ],
      },
      now,
    );
    expect(text.split("\n")).toEqual([
      "NAME  ENDPOINT             STATE   SLOTS  LAST SEEN  LAST ERROR",
      "h1    tcp://10.0.0.1:2376  active  1/4    12s ago    -",
      "h2    tcp://10.0.0.1:2376  down    0/2    never      h2 unreachable: ECONNREFUSED",
    ]);
    expect(
      formatResult("runners.list", { hosts: [host({ labels: { zone: "eu" } })] }, now),
    ).toContain("zone=eu");
    expect(formatResult("runners.list", { hosts: [] }, now)).toContain("no runner hosts");
  });

  it("shows each check of runners add and whether the host was added", () => {
    const refused = formatResult("runners.add", {
      added: false,
      host: null,
      checks: [
        { check: "name", ok: true, detail: "h3 is free" },
        { check: "connection", ok: false, detail: "refusing plain tcp to 10.0.0.3" },
      ],
    });
    expect(refused).toBe(
      [
        "ok    name        h3 is free",
        "FAIL  connection  refusing plain tcp to 10.0.0.3",
        "",
        "not added",
      ].join("\n"),
    );
    const added = formatResult("runners.add", {
      added: true,
      host: host({ name: "h3", slotsInUse: 0 }),
      checks: [{ check: "image", ok: true, detail: "copied from h1" }],
    });
    expect(added).toContain("added h3: active, 4 slots, tcp://10.0.0.1:2376");
  });

  it("phrases the one-line results", () => {
    expect(
      formatResult("runners.drain", {
        host: host({ state: "draining", slotsInUse: 2 }),
        previousState: "active",
      }),
    ).toBe("h1 is draining (was active): it takes no new work; 2 runs in flight will finish.");
    expect(formatResult("runners.activate", { host: host(), previousState: "draining" })).toBe(
      "h1 is active (was draining).",
    );
    expect(
      formatResult("runners.remove", {
        name: "h1",
        removed: true,
        drained: true,
        waitedSeconds: 7,
        note: null,
      }),
    ).toBe("removed h1 after draining it for 7s.");
    expect(
      formatResult("installations.set-tier", {
        id: 42,
        login: "octo",
        previousTier: "free",
        tier: "pro",
      }),
    ).toBe("installation 42 (octo): free → pro.");
    expect(
      formatResult("installations.suspend", {
        id: 42,
        login: "octo",
        alreadySuspended: false,
        cancelledJobs: [5, 6],
      }),
    ).toBe("installation 42 (octo) suspended; cancelled 2 jobs (5, 6).");
    expect(
      formatResult("installations.resume", { id: 42, login: "octo", wasSuspended: true }),
    ).toBe("installation 42 (octo) resumed.");
    expect(
      formatResult("jobs.cancel", { id: 5, previousStatus: "running", status: "cancelled" }),
    ).toContain("job 5 cancelled (was running)");
    expect(formatResult("jobs.retry", { id: 5, newJobId: 9 })).toBe("job 9 re-runs job 5.");
    expect(formatResult("workers.unlock-dead", { unlocked: [], deadAfterSeconds: 45 })).toBe(
      "no dead worker holds jobs.",
    );
    expect(formatResult("workers.unlock-dead", { unlocked: ["w1"], deadAfterSeconds: 45 })).toBe(
      "freed the jobs of 1 dead worker: w1",
    );
  });

  it("reports usage against the plan", () => {
    const text = formatResult("usage.report", {
      month: "2026-11",
      installations: [
        {
          installationId: 1,
          login: "octo",
          tier: "free",
          state: "active",
          jobs: 40,
          computeMinutes: 12.5,
          jobsPerMonth: 50,
          maxDurationMinutes: 30,
          maxConcurrent: 1,
          quotaPercent: 80,
        },
        {
          installationId: 2,
          login: "big",
          tier: "enterprise",
          state: "suspended",
          jobs: 7,
          computeMinutes: 3,
          jobsPerMonth: null,
          maxDurationMinutes: 120,
          maxConcurrent: 10,
          quotaPercent: null,
        },
      ],
      totals: { jobs: 47, computeMinutes: 15.5 },
    });
    expect(text).toContain("usage in 2026-11 (UTC)");
    expect(text).toMatch(/octo\s+free\s+40\s+50\s+80%\s+12.5\s+30\s+1/);
    expect(text).toMatch(/big \(suspended\)\s+enterprise\s+7\s+unlimited\s+-/);
    expect(text).toContain("total: 47 jobs, 15.5 compute minutes");
  });

  it("lists jobs, installations, workers and prune counts", () => {
    const jobs = formatResult(
      "jobs.list",
      {
        jobs: [
          {
            id: 3,
            status: "finished",
            outcome: "found",
            source: "github",
            installation: "octo",
            repository: "octo/app",
            goodRef: "v1",
            badRef: "main",
            culprit: "a".repeat(40),
            createdAt: "2026-11-26T11:00:00Z",
            finishedAt: null,
            error: null,
          },
        ],
      },
      now,
    );
    expect(jobs).toMatch(
      /3\s+finished\s+found\s+octo\s+octo\/app\s+v1\.\.main\s+60m ago\s+aaaaaaaaaaaa$/m,
    );
    expect(formatResult("installations.list", { installations: [] })).toBe("no installations yet");
    expect(formatResult("workers.list", { workers: [], deadAfterSeconds: 45 })).toContain(
      "none is running",
    );
    const prune = formatResult("prune", {
      olderThan: "90d",
      cutoff: "2026-08-28T12:00:00.000Z",
      stepLogs: 3,
      webhookPayloads: 2,
      adminRuns: 1,
      leases: 0,
    });
    expect(prune).toContain("older than 90d");
    expect(prune).toMatch(/step log excerpts cleared\s+3/);
    const byRetention = formatResult("prune", {
      olderThan: "90d",
      cutoff: "2026-08-28T12:00:00.000Z",
      retention: { stepLogs: "90d", webhookPayloads: "30d", auditLog: "365d", other: "90d" },
      stepLogs: 3,
      webhookPayloads: 2,
      auditLog: 7,
      adminRuns: 1,
      leases: 0,
    });
    expect(byRetention).toMatch(/webhook payloads cleared\s+2\s+30d/);
    expect(byRetention).toMatch(/audit log entries deleted\s+7\s+365d/);
    const backup = formatResult("backup", {
      file: "/b/bisect-20261207T031700Z.dump",
      bytes: 2048,
      kept: ["bisect-20261207T031700Z.dump", "bisect-20261206T031700Z.dump"],
      deleted: ["bisect-20261205T031700Z.dump"],
    });
    expect(backup).toBe(
      "wrote /b/bisect-20261207T031700Z.dump (2048 bytes); 2 dumps kept; deleted 1 older dump (bisect-20261205T031700Z.dump).",
    );
  });
});

describe("quotaPercent", () => {
  it("is null for unlimited plans and rounds to one decimal", () => {
    expect(quotaPercent(5, null)).toBeNull();
    expect(quotaPercent(1, 3)).toBe(33.3);
    expect(quotaPercent(60, 50)).toBe(120);
    expect(quotaPercent(0, 0)).toBe(0);
  });
});
