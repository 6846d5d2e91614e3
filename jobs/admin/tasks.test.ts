import { parseCrontab } from "graphile-worker";
import { describe, expect, it } from "vitest";
import { crontab } from "../catalog";
import type { WorkerContext } from "../worker-context";
import { adminTasks } from "./tasks";

describe("admin tasks in the crontab", () => {
  const items = parseCrontab(crontab);
  const byTask = new Map(items.map((i) => [i.task, i]));

  it("rolls usage over on the 1st at 00:05 UTC, backfilling a missed boundary", () => {
    const item = byTask.get("usage__rollover")!;
    expect(item).toBeDefined();
    expect(item.match({ min: 5, hour: 0, date: 1, month: 3, dow: 0 })).toBe(true);
    expect(item.match({ min: 5, hour: 0, date: 2, month: 3, dow: 1 })).toBe(false);
    expect(item.options.backfillPeriod).toBeGreaterThan(0);
  });

  it("prunes nightly", () => {
    const item = byTask.get("admin__prune")!;
    expect(item).toBeDefined();
    const hours = Array.from({ length: 24 }, (_, hour) => hour).filter((hour) =>
      Array.from({ length: 60 }, (_, min) => min).some((min) =>
        item.match({ min, hour, date: 10, month: 5, dow: 3 }),
      ),
    );
    expect(hours).toHaveLength(1);
  });

  it("names only tasks the admin task list defines", () => {
    const tasks = adminTasks({} as WorkerContext);
    for (const name of ["usage__rollover", "admin__prune"]) expect(tasks).toHaveProperty(name);
    expect(tasks).toHaveProperty("admin__run");
  });
});
