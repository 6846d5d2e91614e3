import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { detectEcosystem, loadEcosystems } from "./ecosystems";

describe("detectEcosystem", () => {
  it.each([
    [["package.json", "package-lock.json"], "Node (npm)", "node:20-bookworm", "npm ci"],
    [
      ["package.json", "yarn.lock"],
      "Node (yarn)",
      "node:20-bookworm",
      "yarn install --frozen-lockfile",
    ],
    [
      ["package.json", "pnpm-lock.yaml", "package-lock.json"],
      "Node (pnpm)",
      "node:20-bookworm",
      "pnpm install --frozen-lockfile",
    ],
    [["pyproject.toml", "src"], "Python", "python:3.12-bookworm", "pip install -e ."],
    [["requirements-dev.txt", "app.py"], "Python", "python:3.12-bookworm", 'pip install -r "$f"'],
    [["Cargo.toml", "Cargo.lock"], "Rust", "rust:1-bookworm", "cargo build --locked"],
    [["Cargo.toml"], "Rust", "rust:1-bookworm", "cargo build"],
    [["go.mod", "go.sum"], "Go", "golang:1-bookworm", "go mod download\ngo test -exec true ./..."],
    [["CMakeLists.txt", "Makefile"], "C/C++ (CMake)", undefined, "cmake -S . -B build"],
    [["Makefile", "main.c"], "Make", undefined, "make"],
  ])("%j → %s", (files, ecosystem, image, setup) => {
    const choice = detectEcosystem(files);
    expect(choice).toMatchObject({ ecosystem });
    expect(choice?.image).toBe(image);
    expect(choice?.setup).toContain(setup);
  });

  it("marks the setups that download dependencies as needing network, and only those", () => {
    expect(detectEcosystem(["package-lock.json"])?.network).toBe("setup");
    expect(detectEcosystem(["requirements.txt"])?.network).toBe("setup");
    expect(detectEcosystem(["go.mod"])?.network).toBe("setup");
    expect(detectEcosystem(["CMakeLists.txt"])?.network).toBeUndefined();
    expect(detectEcosystem(["Makefile"])?.network).toBeUndefined();
  });

  it("keeps the build directory of compiled projects between steps, and checks an operator's paths", () => {
    expect(detectEcosystem(["Cargo.lock"])?.cache).toEqual(["target"]);
    expect(detectEcosystem(["Cargo.toml"])?.cache).toEqual(["target"]);
    expect(detectEcosystem(["CMakeLists.txt"])?.cache).toEqual(["build"]);
    expect(detectEcosystem(["package-lock.json"])?.cache).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), "eco-"));
    const file = join(dir, "zig.json");
    const rule = { ecosystem: "Zig", files: ["build.zig"], setup: "zig build" };
    writeFileSync(file, JSON.stringify([{ ...rule, cache: ["./zig-cache/", "zig-out"] }]));
    expect(detectEcosystem(["build.zig"], loadEcosystems(file))?.cache).toEqual([
      "zig-cache",
      "zig-out",
    ]);
    writeFileSync(file, JSON.stringify([{ ...rule, cache: ["../elsewhere"] }]));
    expect(() => loadEcosystems(file)).toThrow(/0\.cache has a path with '\.\.'/);
  });

  it("finds nothing in an unknown project, nor from a package.json without a lockfile", () => {
    expect(detectEcosystem(["README.md", "main.sh"])).toBeNull();
    expect(detectEcosystem(["package.json"])).toBeNull();
  });

  it("takes an operator's table from a file, and says what is wrong with a bad one", () => {
    const dir = mkdtempSync(join(tmpdir(), "eco-"));
    const good = join(dir, "good.json");
    writeFileSync(
      good,
      JSON.stringify([
        {
          ecosystem: "Deno",
          files: ["deno.json"],
          image: "denoland/deno:2",
          setup: "deno cache main.ts",
        },
      ]),
    );
    const table = loadEcosystems(good);
    expect(detectEcosystem(["deno.json"], table)).toEqual({
      ecosystem: "Deno",
      file: "deno.json",
      image: "denoland/deno:2",
      setup: "deno cache main.ts",
    });
    expect(detectEcosystem(["package-lock.json"], table)).toBeNull();
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify([{ ecosystem: "X", files: [] }]));
    expect(() => loadEcosystems(bad)).toThrow(/ecosystem table .*bad\.json: 0\.files/);
  });

  it("carries an operator's variables for an ecosystem, under the rules of a repository's env", () => {
    const dir = mkdtempSync(join(tmpdir(), "eco-"));
    const file = join(dir, "go.json");
    const rule = { ecosystem: "Go", files: ["go.mod"], setup: "go mod download" };
    writeFileSync(file, JSON.stringify([{ ...rule, env: { GOPROXY: "http://proxy.internal" } }]));
    expect(detectEcosystem(["go.mod"], loadEcosystems(file))?.env).toEqual({
      GOPROXY: "http://proxy.internal",
    });
    expect(detectEcosystem(["go.mod"])?.env).toBeUndefined();
    writeFileSync(file, JSON.stringify([{ ...rule, env: { PATH: "/opt/go/bin" } }]));
    expect(() => loadEcosystems(file)).toThrow(/0\.env.*PATH cannot be set here/);
  });
});
