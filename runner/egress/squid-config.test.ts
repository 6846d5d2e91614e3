import { describe, expect, it } from "vitest";
import { DEFAULT_EGRESS_ALLOW, parseEgressAllow, squidConfig } from "./squid-config";

describe("egress allow-list", () => {
  it("reads names, domains and addresses, and names every bad entry", () => {
    expect(parseEgressAllow("registry.npmjs.org, .pythonhosted.org 10.0.5.7\n::1")).toEqual({
      names: ["registry.npmjs.org", ".pythonhosted.org"],
      addresses: ["10.0.5.7", "::1"],
    });
    expect(() => parseEgressAllow("ok.example, http://x.example, a b_c")).toThrow(
      /"http:\/\/x\.example", "b_c"/,
    );
  });

  it("denies what is not on the list first, by name alone, then private addresses of allowed names", () => {
    const conf = squidConfig(parseEgressAllow("registry.npmjs.org 10.0.5.7"), "3128");
    const access = conf.split("\n").filter((l) => l.startsWith("http_access"));
    expect(access).toEqual([
      "http_access deny !allowed",
      "http_access allow operator_addresses",
      "http_access deny private",
      "http_access deny !web_ports",
      "http_access allow allowed",
      "http_access deny all",
    ]);
    expect(conf).toContain("acl allowed dstdomain -n registry.npmjs.org 10.0.5.7\n");
    expect(conf).toMatch(/acl private dst .*10\.0\.0\.0\/8 .*169\.254\.0\.0\/16 .*fe80::\/10/);
  });

  it("refuses everything with an empty list", () => {
    const conf = squidConfig(parseEgressAllow(""), "127.0.0.1:3128");
    expect(conf).toContain("http_port 127.0.0.1:3128\n");
    expect(conf).toContain("http_access deny all\n");
    expect(conf).not.toContain("acl allowed");
  });

  it("allows the common package registries by default", () => {
    expect(() => parseEgressAllow(DEFAULT_EGRESS_ALLOW.join(","))).not.toThrow();
    expect(DEFAULT_EGRESS_ALLOW).toEqual(
      expect.arrayContaining(["registry.npmjs.org", "pypi.org", "crates.io", "proxy.golang.org"]),
    );
  });
});
