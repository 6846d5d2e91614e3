import { describe, expect, it } from "vitest";
import { RUN_END, runEndOf } from "./sandbox";

describe("a sandbox run's end line", () => {
  it("is found only as the very last line, with its counter and length", () => {
    const line = `\n${RUN_END} oom_kill 3 work_kib 120\n`;
    expect(runEndOf(`output${line}`)).toEqual({ length: line.length, oomKills: 3, workKib: 120 });
    const unknown = `\n${RUN_END} oom_kill unknown work_kib -\n`;
    expect(runEndOf(unknown)).toEqual({ length: unknown.length, oomKills: null, workKib: null });
    expect(runEndOf(`${line}more output\n`)).toBeUndefined();
    expect(runEndOf(line.slice(1))).toBeUndefined();
    expect(runEndOf(`\n${RUN_END} oom_kill 3x work_kib -\n`)).toBeUndefined();
  });
});
