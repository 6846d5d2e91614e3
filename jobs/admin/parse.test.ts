import { describe, expect, it } from "vitest";
import { COMMAND_NAMES, COMMANDS, formatDuration, parseDuration, validateArgs } from "./commands";
import { helpText, parseAdminArgs, usageOf } from "./parse";

const run = (...argv: string[]) => {
  const parsed = parseAdminArgs(argv);
  if (parsed.kind !== "run")
    throw new Error(
      `expected a command, got ${parsed.kind}: ${"message" in parsed ? parsed.message : ""}`,
    );
  return parsed;
};
const usageError = (...argv: string[]) => {
  const parsed = parseAdminArgs(argv);
  if (parsed.kind !== "usage-error") throw new Error(`expected a usage error, got ${parsed.kind}`);
  return parsed.message;
};

describe("parseAdminArgs", () => {
  it("parses runners add with its options, labels repeated", () => {
    expect(
      run(
        "runners",
        "add",
        "h3",
        "tcp://10.0.0.3:2376",
        "--tls-dir",
        "certs/h3",
        "--capacity=4",
        "--label",
        "zone=eu",
        "--label",
        "disk=ssd",
      ),
    ).toEqual({
      kind: "run",
      command: "runners.add",
      args: {
        name: "h3",
        endpoint: "tcp://10.0.0.3:2376",
        tlsDir: "certs/h3",
        capacity: 4,
        labels: { zone: "eu", disk: "ssd" },
      },
      json: false,
      timeoutSeconds: COMMANDS["runners.add"].timeoutSeconds,
    });
  });

  it("fills defaults from the command's schema", () => {
    expect(run("runners", "add", "h3", "unix:///var/run/docker.sock").args).toEqual({
      name: "h3",
      endpoint: "unix:///var/run/docker.sock",
      capacity: 2,
      labels: {},
    });
    expect(run("jobs", "list").args).toEqual({ limit: 20 });
    // No age: the RETENTION_* settings apply.
    expect(run("prune").args).toEqual({});
    expect(run("backup", "--keep", "3").args).toEqual({ keep: 3 });
    expect(run("runners", "remove", "h1").args).toEqual({ name: "h1", force: false });
  });

  it("takes global flags anywhere", () => {
    const parsed = run(
      "--json",
      "jobs",
      "list",
      "--status",
      "active",
      "--timeout",
      "5",
      "--limit",
      "3",
    );
    expect(parsed).toMatchObject({
      command: "jobs.list",
      args: { status: "active", limit: 3 },
      json: true,
      timeoutSeconds: 5,
    });
    expect(run("usage", "report", "--month", "2026-02", "--json")).toMatchObject({
      command: "usage.report",
      args: { month: "2026-02" },
      json: true,
    });
  });

  it("parses every other command", () => {
    expect(run("runners", "list").command).toBe("runners.list");
    expect(run("runners", "check").args).toEqual({});
    expect(run("runners", "check", "h2").args).toEqual({ name: "h2" });
    expect(run("runners", "drain", "h2").command).toBe("runners.drain");
    expect(run("runners", "activate", "h2").command).toBe("runners.activate");
    expect(run("runners", "remove", "h2", "--force").args).toEqual({ name: "h2", force: true });
    expect(run("installations", "list").command).toBe("installations.list");
    expect(run("installations", "set-tier", "octo-org", "pro").args).toEqual({
      installation: "octo-org",
      tier: "pro",
    });
    expect(run("installations", "suspend", "42").args).toEqual({ installation: "42" });
    expect(run("installations", "resume", "42").command).toBe("installations.resume");
    expect(run("jobs", "cancel", "17").args).toEqual({ id: 17 });
    expect(run("jobs", "retry", "17").args).toEqual({ id: 17 });
    expect(run("workers", "list").command).toBe("workers.list");
    expect(run("workers", "unlock-dead").command).toBe("workers.unlock-dead");
    expect(run("prune", "--older-than", "2w").args).toEqual({ olderThanSeconds: 14 * 86_400 });
  });

  it("explains usage errors with the command's usage line", () => {
    expect(usageError("runners", "add", "h1")).toBe(
      `runners add: missing <endpoint>\nusage: ${usageOf("runners.add")}`,
    );
    expect(usageError("runners", "add", "h1", "tcp://x:2376", "--capacity", "two")).toContain(
      '--capacity must be a whole number, not "two"',
    );
    expect(usageError("runners", "add", "h1", "tcp://x:2376", "--capacity", "0")).toContain(
      "capacity is at least 1",
    );
    expect(usageError("runners", "add", "bad name!", "tcp://x:2376")).toContain(
      "name: a host name is",
    );
    expect(usageError("runners", "add", "h1", "tcp://x:2376", "--label", "zone")).toContain(
      "--label takes key=value",
    );
    expect(usageError("runners", "add", "h1", "tcp://x:2376", "--tls-dir")).toContain(
      "--tls-dir needs a value (DIR)",
    );
    expect(usageError("runners", "drain")).toContain("missing <name>");
    expect(usageError("runners", "drain", "h1", "h2")).toContain('unexpected argument "h2"');
    expect(usageError("runners", "list", "--verbose")).toContain("unknown option --verbose");
    expect(usageError("runners", "list", "-v")).toContain("unknown option -v");
    expect(usageError("runners", "remove", "h1", "--force=yes")).toContain(
      "--force takes no value",
    );
    expect(usageError("installations", "set-tier", "42", "gold")).toContain(
      "the tier is one of free, pro, enterprise",
    );
    expect(usageError("jobs", "cancel", "abc")).toContain("<id> must be a whole number");
    expect(usageError("jobs", "cancel", "0")).toContain("id:");
    expect(usageError("jobs", "list", "--status", "sleeping")).toContain("the status is one of");
    expect(usageError("jobs", "list", "--limit", "5", "--limit", "6")).toContain(
      "--limit given twice",
    );
    expect(usageError("usage", "report", "--month", "2026-13")).toContain("the month is YYYY-MM");
    expect(usageError("prune", "--older-than", "10m")).toContain("at least an hour");
    expect(usageError("jobs", "list", "--timeout", "soon")).toContain(
      "--timeout needs a number of seconds",
    );
  });

  it("names unknown commands and lists an area's actions", () => {
    expect(usageError("deploy")).toContain("no such command: deploy");
    const area = usageError("runners", "explode");
    expect(area).toContain('runners: no such action "explode"');
    expect(area).toContain("runners drain <name>");
    expect(area).not.toContain("installations list");
    expect(usageError("jobs")).toContain("jobs: which action?");
    expect(usageError()).toContain("no command given");
  });

  it("answers help: all commands, an area, one command", () => {
    const all = parseAdminArgs(["help"]);
    expect(all.kind).toBe("help");
    for (const name of COMMAND_NAMES) expect(helpText()).toContain(COMMANDS[name].words.join(" "));
    expect(parseAdminArgs(["--help"])).toEqual(all);
    const one = parseAdminArgs(["help", "runners", "add"]);
    expect(one.kind === "help" && one.text).toContain("--tls-dir DIR");
    expect(parseAdminArgs(["runners", "add", "--help"])).toEqual(one);
    const area = parseAdminArgs(["help", "workers"]);
    expect(area.kind === "help" && area.text).toContain("workers unlock-dead");
    expect(parseAdminArgs(["help", "nothing"]).kind).toBe("usage-error");
  });
});

describe("argument schemas", () => {
  it("validate what the task reads back from the database", () => {
    expect(
      validateArgs("runners.add", {
        name: "h1",
        endpoint: "tcp://127.0.0.1:2376",
        capacity: 3,
        labels: {},
      }),
    ).toMatchObject({ ok: true });
    expect(validateArgs("runners.add", { name: "h1" })).toEqual({
      ok: false,
      problems: [expect.stringContaining("endpoint")],
    });
    expect(validateArgs("jobs.cancel", { id: "7" })).toMatchObject({ ok: false });
  });
});

describe("durations", () => {
  it("parses and prints ages", () => {
    expect(parseDuration("90d")).toBe(90 * 86_400);
    expect(parseDuration("90")).toBe(90 * 86_400);
    expect(parseDuration("36h")).toBe(36 * 3600);
    expect(parseDuration("2w")).toBe(14 * 86_400);
    expect(parseDuration("-1d")).toBeNull();
    expect(parseDuration("1.5d")).toBeNull();
    expect(formatDuration(90 * 86_400)).toBe("90d");
    expect(formatDuration(14 * 86_400)).toBe("2w");
    expect(formatDuration(36 * 3600)).toBe("36h");
    expect(formatDuration(61)).toBe("61s");
  });
});
