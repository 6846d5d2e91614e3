import { describe, expect, it } from "vitest";
import { crontab } from "./catalog";
import { cronTaskIdentifiers, workerLogLevel } from "./worker-log";

describe("worker log levels", () => {
  it("finds every task the crontab schedules", () => {
    expect([...cronTaskIdentifiers(crontab)]).toEqual(
      expect.arrayContaining([
        "runners__check",
        "runners__reap",
        "workers__unlock_dead",
        "admin__prune",
        "usage__rollover",
        "images__evict",
      ]),
    );
    expect(cronTaskIdentifiers("# a comment\n\n*/5 * * * * some__task ?max=1")).toEqual(
      new Set(["some__task"]),
    );
  });

  it("sends a recurring task's routine lines to debug, and keeps everything else", () => {
    expect(workerLogLevel("info", "runners__check")).toBe("debug");
    expect(workerLogLevel("info", "workers__unlock_dead")).toBe("debug");
    expect(workerLogLevel("info", "bisect__step")).toBe("info");
    expect(workerLogLevel("info", undefined)).toBe("info");
    expect(workerLogLevel("warning", "runners__check")).toBe("warn");
    expect(workerLogLevel("error", "runners__check")).toBe("error");
    expect(workerLogLevel("debug", "bisect__step")).toBe("debug");
  });
});
