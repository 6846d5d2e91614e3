import { describe, expect, it } from "vitest";
import { safeRedirect } from "./safe-redirect.server";

describe("safeRedirect", () => {
  it.each([
    ["/dashboard", "/dashboard"],
    ["/dashboard/jobs/12?status=running#steps", "/dashboard/jobs/12?status=running#steps"],
    ["/", "/"],
    ["/a/../dashboard", "/dashboard"],
  ])("keeps the same-origin path %s", (to, expected) => {
    expect(safeRedirect(to)).toBe(expected);
  });

  it.each([
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/%5Cevil.example\\",
    " /dashboard",
    "/dash\nboard",
    "/dash\tboard",
    "dashboard",
    "",
    "/" + "a".repeat(3000),
  ])("refuses %j", (to) => {
    expect(safeRedirect(to, "/fallback")).toBe("/fallback");
  });

  it("refuses non-strings", () => {
    expect(safeRedirect(null)).toBe("/dashboard");
    expect(safeRedirect(undefined)).toBe("/dashboard");
  });
});
