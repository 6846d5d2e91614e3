import { describe, expect, it } from "vitest";
import { formatDate, formatDuration, monthLabel, plural, shortSha } from "./format";

describe("format", () => {
  it("durations", () => {
    expect(formatDuration(null)).toBe("—");
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(12_000)).toBe("12 s");
    expect(formatDuration(130_000)).toBe("2 min 10 s");
    expect(formatDuration(120_000)).toBe("2 min");
    expect(formatDuration(3_900_000)).toBe("1 h 5 min");
  });
  it("dates in UTC", () => {
    expect(formatDate("2026-11-26T21:30:59.123Z")).toBe("2026-11-26 21:30 UTC");
    expect(formatDate(null)).toBe("—");
    expect(formatDate("nonsense")).toBe("—");
  });
  it("words", () => {
    expect(shortSha("0123456789abcdef0123456789abcdef01234567")).toBe("0123456");
    expect(plural(1, "job")).toBe("1 job");
    expect(plural(1200, "job")).toBe("1,200 jobs");
    expect(monthLabel("2026-02")).toBe("Feb 2026");
  });
});
