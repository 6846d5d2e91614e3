import { describe, expect, it } from "vitest";
import { exitOf } from "./exec";

/** An exec as an engine reports it: running for the first `late` answers, then ended with `code`. */
function reported(late: number, code: number | null) {
  let asked = 0;
  const inspect = async () => {
    asked++;
    return asked <= late ? { Running: true, ExitCode: null } : { Running: false, ExitCode: code };
  };
  return { inspect, asked: () => asked };
}

describe("exitOf", () => {
  it("reads the exit code of an exec that has ended", async () => {
    const exec = reported(0, 3);
    expect(await exitOf(exec.inspect)).toEqual({ running: false, exitCode: 3 });
    expect(exec.asked()).toBe(1);
  });

  it("asks again while the engine has not yet recorded the exit after the stream ended", async () => {
    const exec = reported(3, 0);
    expect(await exitOf(exec.inspect)).toEqual({ running: false, exitCode: 0 });
    expect(exec.asked()).toBe(4);
  });

  it("believes an exec still running past the grace period, with no exit code", async () => {
    const exec = reported(Number.MAX_SAFE_INTEGER, 0);
    expect(await exitOf(exec.inspect, 30)).toEqual({ running: true, exitCode: null });
    expect(exec.asked()).toBeGreaterThan(1);
  });

  it("keeps a missing exit code of an ended exec missing", async () => {
    expect(await exitOf(reported(0, null).inspect)).toEqual({ running: false, exitCode: null });
  });
});
