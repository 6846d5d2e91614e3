import { describe, expect, it } from "vitest";
import { InfrastructureError } from "../errors";
import {
  CONTAINER_PATHS,
  containerPlan,
  createOptions,
  poolKey,
  TOOL_CACHES,
  validateSpec,
} from "./container-recipe";
import { readOnly } from "./mounts";
import { defaultLimits, type RunSpec } from "./types";

const mirror = {
  mounts: [readOnly({ Type: "bind", Source: "/srv/repo", Target: "/mirror" })],
  mirrorDir: "/mirror",
};
const spec = (over: Partial<RunSpec> = {}): RunSpec => ({
  labels: { job: "1" },
  repo: { kind: "host-path", path: "/srv/repo" },
  sha: "0123456789abcdef0123456789abcdef01234567",
  command: "npm test",
  timeoutMs: 60_000,
  limits: defaultLimits,
  network: false,
  logLimitBytes: 1024,
  ...over,
});
const run = {
  Cmd: ["sh", "-c", "true"],
  labels: { job: "1", app: "bisect-bot" },
  stdin: false,
  workMounts: [{ Type: "bind" as const, Source: "/box/run-1", Target: "/work" }],
  networkMode: "bisect-egress",
};

describe("container recipe", () => {
  it("makes a hardened container: non-root, no capabilities, read-only root, limits, no log driver", () => {
    const o = createOptions(containerPlan(spec(), "node:20", mirror), run);
    expect(o.Image).toBe("node:20");
    expect(o.User).toBe("1000:1000");
    expect(o.Entrypoint).toEqual([]);
    expect(o.WorkingDir).toBe(CONTAINER_PATHS.work);
    const h = o.HostConfig!;
    expect(h.Privileged).toBe(false);
    expect(h.CapDrop).toEqual(["ALL"]);
    expect(h.SecurityOpt).toEqual(["no-new-privileges"]);
    expect(h.ReadonlyRootfs).toBe(true);
    expect(h.AutoRemove).toBe(false);
    expect(h.Memory).toBe(defaultLimits.memoryBytes);
    expect(h.MemorySwap).toBe(defaultLimits.memoryBytes);
    expect(h.NanoCpus).toBe(defaultLimits.nanoCpus);
    expect(h.PidsLimit).toBe(defaultLimits.pids);
    expect(h.Ulimits).toContainEqual({
      Name: "fsize",
      Soft: defaultLimits.workBytes,
      Hard: defaultLimits.workBytes,
    });
    expect(h.Ulimits).toContainEqual({ Name: "core", Soft: 0, Hard: 0 });
    expect(h.LogConfig).toEqual({ Type: "none", Config: {} });
    expect(h.RestartPolicy).toEqual({ Name: "no" });
  });

  it("mounts the repository read-only and the work directory writable", () => {
    const h = createOptions(containerPlan(spec(), "img", mirror), run).HostConfig!;
    expect(h.Mounts).toEqual([
      { Type: "bind", Source: "/srv/repo", Target: "/mirror", ReadOnly: true },
      { Type: "bind", Source: "/box/run-1", Target: "/work" },
    ]);
  });

  it("gives no network unless the spec asks, and then the executor's network", () => {
    expect(createOptions(containerPlan(spec(), "img", mirror), run).HostConfig!.NetworkMode).toBe(
      "none",
    );
    expect(
      createOptions(containerPlan(spec({ network: true }), "img", mirror), run).HostConfig!
        .NetworkMode,
    ).toBe("bisect-egress");
  });

  it("points HOME and the tools' caches into the work directory; the spec's env wins", () => {
    const o = createOptions(
      containerPlan(spec({ env: { CARGO_HOME: "/work/cargo", FOO: "1" } }), "img", mirror),
      run,
    );
    expect(o.Env).toContain("HOME=/work");
    expect(o.Env).toContain(`npm_config_cache=${TOOL_CACHES.npm_config_cache}`);
    expect(o.Env).toContain("CARGO_HOME=/work/cargo");
    expect(o.Env).toContain("FOO=1");
    expect(o.Env!.some((e) => e.startsWith("PATH="))).toBe(false);
  });

  it("mounts the repository's cache at /cache, read-only when asked, and points the tools there", () => {
    const plan = containerPlan(
      spec({ cacheVolume: "bisect-cache-x", setup: "npm ci" }),
      "img",
      mirror,
    );
    const setup = createOptions(plan, run);
    expect(setup.HostConfig!.Mounts).toContainEqual({
      Type: "volume",
      Source: "bisect-cache-x",
      Target: "/cache",
      ReadOnly: false,
    });
    expect(setup.Env).toContain("npm_config_cache=/cache/npm");
    expect(setup.Env).toContain("CARGO_HOME=/cache/cargo");
    expect(setup.Env).toContain("GOCACHE=/cache/go/build");
    const test = createOptions(plan, { ...run, cacheReadOnly: true });
    expect(test.HostConfig!.Mounts).toContainEqual(expect.objectContaining({ ReadOnly: true }));
    // Go cannot build with a read-only build cache, ccache must not try to add to one: the test
    // keeps the downloaded modules and crates, and builds in its own work directory.
    expect(test.Env).toContain("GOMODCACHE=/cache/go/mod");
    expect(test.Env).toContain("GOCACHE=/work/.cache/go-build");
    expect(test.Env).toEqual(
      expect.arrayContaining(["CCACHE_READONLY=true", "CCACHE_TEMPDIR=/work/.cache/ccache-tmp"]),
    );
    // A value the repository chose is its own.
    const chosen = containerPlan(
      spec({ cacheVolume: "bisect-cache-x", setup: "make", env: { GOCACHE: "/work/gc" } }),
      "img",
      mirror,
    );
    expect(createOptions(chosen, { ...run, cacheReadOnly: true }).Env).toContain(
      "GOCACHE=/work/gc",
    );
    // Without a cache: nothing at /cache, the caches in the work directory.
    const none = createOptions(containerPlan(spec(), "img", mirror), run);
    expect(none.HostConfig!.Mounts!.some((m) => m.Target === "/cache")).toBe(false);
    expect(poolKey(plan)).not.toBe(poolKey(containerPlan(spec(), "img", mirror)));
    // A run without a setup is all test: read-only in every container, and pooled apart.
    const testOnly = containerPlan(spec({ cacheVolume: "bisect-cache-x" }), "img", mirror);
    expect(createOptions(testOnly, run).HostConfig!.Mounts).toContainEqual(
      expect.objectContaining({ Target: "/cache", ReadOnly: true }),
    );
    expect(poolKey(testOnly)).not.toBe(poolKey(plan));
  });

  it("tells the setup which extra paths to keep, as checked plain paths", () => {
    const plan = containerPlan(
      spec({ cacheVolume: "c", setup: "make", cachePaths: ["build", "target/release"] }),
      "img",
      mirror,
    );
    expect(plan.env.BISECT_CACHE_PATHS).toMatch(
      /^[0-9a-f]{16}:build [0-9a-f]{16}:target\/release$/,
    );
    expect(containerPlan(spec({ cachePaths: ["build"] }), "img", mirror).env).not.toHaveProperty(
      "BISECT_CACHE_PATHS",
    );
    expect(() => validateSpec(spec({ cacheVolume: "c", cachePaths: ["../x"] }))).toThrow(
      /cachePaths has a path with '\.\.'/,
    );
  });

  it("keeps stdin open only for a container that reads its assignment", () => {
    const cold = createOptions(containerPlan(spec(), "img", mirror), run);
    expect([cold.OpenStdin, cold.AttachStdin, cold.StdinOnce]).toEqual([false, false, false]);
    const warm = createOptions(containerPlan(spec(), "img", mirror), { ...run, stdin: true });
    expect([warm.OpenStdin, warm.AttachStdin, warm.StdinOnce]).toEqual([true, true, true]);
  });

  it("keys warm containers by what is fixed at create, not by the run's own input", () => {
    const key = (s: RunSpec) => poolKey(containerPlan(s, "img", mirror));
    const base = key(spec());
    expect(key(spec({ sha: "abcdef0", command: "make check", setup: "make", labels: {} }))).toBe(
      base,
    );
    expect(key(spec({ network: true }))).not.toBe(base);
    expect(key(spec({ env: { A: "1" } }))).not.toBe(base);
    expect(key(spec({ limits: { ...defaultLimits, pids: 64 } }))).not.toBe(base);
    expect(poolKey(containerPlan(spec(), "other", mirror))).not.toBe(base);
  });

  it("refuses a bad spec with every problem named", () => {
    const bad = spec({
      sha: "main",
      command: " ",
      timeoutMs: 0,
      env: { "BAD-NAME": "x" },
      limits: { ...defaultLimits, memoryBytes: 1024 },
    });
    expect(() => validateSpec(bad)).toThrow(InfrastructureError);
    expect(() => validateSpec(bad)).toThrow(
      /sha must be hexadecimal.*command is empty.*timeoutMs.*memoryBytes.*"BAD-NAME"/,
    );
    expect(() => validateSpec(spec())).not.toThrow();
  });
});
