// Fixture projects of the ecosystems the zero-configuration table knows, each a git repository
// with a short history and one known culprit, their dependencies served by real local servers:
//
// - Node: `tiny-math` from a verdaccio registry; the culprit upgrades it to a broken release.
// - Python: `tinystats` from a PEP 503 index of local wheels; the culprit upgrades it likewise.
// - C with CMake: a library and a ctest; the culprit breaks the library's code.
// - Rust: `unitconv` vendored (cargo vendor's directory source); the culprit upgrades it.
// - Go: `example.com/money` from a Go module proxy (tests/helpers/go-proxy.ts); likewise.
//
// The Node, Python and CMake repositories have four commits: v1.0.0 (good), a harmless change,
// the culprit, and one more harmless change on `main` (bad); the Rust and Go ones nine, the fifth
// the culprit. `padding` adds that many more harmless commits on each side of the culprit (longer
// histories for benchmarks). With `bisectYml`, `.github/bisect.yml` is there from the first
// commit on.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { NpmRegistry } from "../helpers/verdaccio";

export type Files = Record<string, string>;

export interface ProjectRepo {
  path: string;
  /** Oldest first: v1.0.0, harmless changes, the culprit, harmless changes (the last is main). */
  shas: string[];
  culprit: string;
}

export interface ProjectOptions {
  bisectYml?: string;
  /** Harmless commits added before and after the culprit (default 0). */
  padding?: number;
}

type Change = { message: string; files: Record<string, string | null> };

/** first, harmless, culprit, last — with `padding` more harmless commits on each side. */
function history(
  first: Change,
  harmless: Change,
  culprit: Change,
  last: Change,
  padding = 0,
): { changes: Change[]; culpritIndex: number } {
  const pad = (side: string) =>
    Array.from({ length: padding }, (_, i) => ({
      message: `Notes, ${side} ${i + 1}`,
      files: { [`notes/${side}-${i + 1}.md`]: `Note ${i + 1}\n` },
    }));
  const changes = [first, harmless, ...pad("before"), culprit, ...pad("after"), last];
  return { changes, culpritIndex: 2 + padding };
}

const gitEnv = (home: string): NodeJS.ProcessEnv => ({
  NODE_ENV: "test",
  PATH: process.env.PATH,
  HOME: home,
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "Carol Example",
  GIT_AUTHOR_EMAIL: "carol@example.com",
  GIT_COMMITTER_NAME: "Carol Example",
  GIT_COMMITTER_EMAIL: "carol@example.com",
});

/** A repository whose commits apply `changes` in turn (a file set to null is removed). */
export function makeProjectRepo(
  dir: string,
  name: string,
  { changes, culpritIndex }: { changes: Change[]; culpritIndex: number },
): ProjectRepo {
  const repo = path.join(dir, name);
  const env = gitEnv(dir);
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", repo, ...args], { env, encoding: "utf8" }).trim();
  execFileSync("git", ["init", "-q", "-b", "main", repo], { env });
  const shas: string[] = [];
  for (const change of changes) {
    for (const [file, content] of Object.entries(change.files)) {
      const target = path.join(repo, file);
      if (content === null) {
        git("rm", "-q", file);
        continue;
      }
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, content);
    }
    git("add", "-A");
    git("commit", "-q", "-m", change.message);
    shas.push(git("rev-parse", "HEAD"));
  }
  git("tag", "v1.0.0", shas[0]!);
  return { path: repo, shas, culprit: shas[culpritIndex]! };
}

// --- Node -----------------------------------------------------------------------------------

/** Publishes tiny-math 1.0.0 (right) and 1.1.0 (`add` subtracts) into the registry. */
export function publishTinyMath(registry: NpmRegistry): void {
  for (const [version, op] of [
    ["1.0.0", "+"],
    ["1.1.0", "-"],
  ] as const)
    registry.publish({
      "package.json": JSON.stringify({ name: "tiny-math", version, main: "index.js" }, null, 2),
      "index.js": `exports.add = (a, b) => a ${op} b;\n`,
    });
}

/** package.json and its lockfile (made by npm against the registry) for tiny-math `version`. */
function nodeManifest(registry: NpmRegistry, work: string, version: string): Files {
  const dir = path.join(work, `node-manifest-${version}`);
  mkdirSync(dir, { recursive: true });
  const pkg = JSON.stringify(
    {
      name: "calculator",
      version: "1.0.0",
      private: true,
      scripts: { test: "node test.js" },
      dependencies: { "tiny-math": version },
    },
    null,
    2,
  );
  writeFileSync(path.join(dir, "package.json"), pkg);
  execFileSync(
    "npm",
    [
      "install",
      "--package-lock-only",
      "--ignore-scripts",
      "--userconfig",
      registry.userconfig,
      "--loglevel=error",
    ],
    {
      cwd: dir,
      stdio: "pipe",
      env: { ...process.env, npm_config_cache: path.join(work, "npm-cache") },
    },
  );
  const lock = readFileSync(path.join(dir, "package-lock.json"), "utf8");
  return { "package.json": pkg, "package-lock.json": lock };
}

export function nodeProject(
  dir: string,
  name: string,
  registry: NpmRegistry,
  { bisectYml, padding }: ProjectOptions = {},
): ProjectRepo {
  const good = nodeManifest(registry, dir, "1.0.0");
  const bad = nodeManifest(registry, dir, "1.1.0");
  return makeProjectRepo(
    dir,
    name,
    history(
      {
        message: "Calculator",
        files: {
          ...good,
          ".npmrc": `registry=${registry.url}\nupdate-notifier=false\naudit=false\nfund=false\n`,
          ".gitignore": "node_modules/\n",
          "test.js": [
            'const { add } = require("tiny-math");',
            "const sum = add(2, 3);",
            "if (sum !== 5) { console.log(`FAIL add(2, 3) = ${sum}`); process.exit(1); }",
            'console.log("ok add");',
            "",
          ].join("\n"),
          ...(bisectYml ? { ".github/bisect.yml": bisectYml } : {}),
        },
      },
      { message: "Describe the calculator", files: { "README.md": "# Calculator\n" } },
      { message: "Upgrade tiny-math to 1.1.0", files: bad },
      { message: "Usage in the README", files: { "README.md": "# Calculator\n\nnpm test\n" } },
      padding,
    ),
  );
}

// --- Python ---------------------------------------------------------------------------------

export const TINYSTATS = {
  "1.0": "def mean(xs):\n    return sum(xs) / len(xs)\n",
  "1.1": "def mean(xs):\n    return sum(xs) / (len(xs) + 1)\n",
} as const;

export function pythonProject(
  dir: string,
  name: string,
  indexUrl: string,
  { bisectYml, padding }: ProjectOptions = {},
): ProjectRepo {
  const requirements = (v: string) => `--index-url ${indexUrl}\ntinystats==${v}\n`;
  return makeProjectRepo(
    dir,
    name,
    history(
      {
        message: "Report",
        files: {
          "requirements.txt": requirements("1.0"),
          "test_report.py": [
            "import unittest",
            "from tinystats import mean",
            "",
            "class Report(unittest.TestCase):",
            "    def test_mean(self):",
            "        self.assertEqual(mean([2, 4, 6]), 4)",
            "",
            'if __name__ == "__main__":',
            "    unittest.main()",
            "",
          ].join("\n"),
          ...(bisectYml ? { ".github/bisect.yml": bisectYml } : {}),
        },
      },
      { message: "Describe the report", files: { "README.md": "# Report\n" } },
      { message: "Upgrade tinystats to 1.1", files: { "requirements.txt": requirements("1.1") } },
      {
        message: "Usage in the README",
        files: { "README.md": "# Report\n\npython -m unittest\n" },
      },
      padding,
    ),
  );
}

// --- C with CMake ---------------------------------------------------------------------------

const cmakeLists = [
  "cmake_minimum_required(VERSION 3.16)",
  "project(clamp C)",
  "add_library(clamp clamp.c)",
  "add_executable(clamp_test clamp_test.c)",
  "target_link_libraries(clamp_test clamp)",
  "enable_testing()",
  "add_test(NAME clamp COMMAND clamp_test)",
  "",
].join("\n");

const clampC = (upper: string) =>
  `#include "clamp.h"\nint clamp(int x, int lo, int hi) {\n  if (x < lo) return lo;\n  if (${upper}) return hi;\n  return x;\n}\n`;

export function cmakeProject(
  dir: string,
  name: string,
  { bisectYml, padding }: ProjectOptions = {},
): ProjectRepo {
  return makeProjectRepo(
    dir,
    name,
    history(
      {
        message: "Clamp",
        files: {
          "CMakeLists.txt": cmakeLists,
          "clamp.h": "int clamp(int x, int lo, int hi);\n",
          "clamp.c": clampC("x > hi"),
          "clamp_test.c": [
            "#include <stdio.h>",
            '#include "clamp.h"',
            "int main(void) {",
            '  if (clamp(12, 0, 10) != 10) { printf("FAIL clamp(12, 0, 10) = %d\\n", clamp(12, 0, 10)); return 1; }',
            '  if (clamp(5, 0, 10) != 5) { printf("FAIL clamp(5, 0, 10) = %d\\n", clamp(5, 0, 10)); return 1; }',
            '  printf("ok clamp\\n");',
            "  return 0;",
            "}",
            "",
          ].join("\n"),
          ...(bisectYml ? { ".github/bisect.yml": bisectYml } : {}),
        },
      },
      { message: "Describe clamp", files: { "README.md": "# clamp\n" } },
      { message: "Compare with the upper bound once", files: { "clamp.c": clampC("x >= hi + 5") } },
      {
        message: "Build steps in the README",
        files: { "README.md": "# clamp\n\ncmake -S . -B build\n" },
      },
      padding,
    ),
  );
}

// --- Longer histories (Rust, Go) --------------------------------------------------------------

/** `before` (the first is v1.0.0), the culprit, then `after` (the last is main), padded likewise. */
function longHistory(
  before: Change[],
  culprit: Change,
  after: Change[],
  padding = 0,
): { changes: Change[]; culpritIndex: number } {
  const pad = (side: string) =>
    Array.from({ length: padding }, (_, i) => ({
      message: `Notes, ${side} ${i + 1}`,
      files: { [`notes/${side}-${i + 1}.md`]: `Note ${i + 1}\n` },
    }));
  return {
    changes: [...before, ...pad("before"), culprit, ...pad("after"), ...after],
    culpritIndex: before.length + padding,
  };
}

const ciWorkflow = (steps: string[]) =>
  [
    "name: ci",
    "on: [push, pull_request]",
    "jobs:",
    "  test:",
    "    runs-on: ubuntu-latest",
    "    steps:",
    "      - uses: actions/checkout@v4",
    ...steps.map((s) => `      - run: ${s}`),
    "",
  ].join("\n");

// --- Rust -----------------------------------------------------------------------------------
//
// `thermo` depends on the crate `unitconv`, vendored as `cargo vendor` leaves it: the sources
// under vendor/ with their .cargo-checksum.json, and .cargo/config.toml replacing crates.io with
// that directory, so cargo builds offline. The culprit upgrades unitconv to 1.1.0, whose
// Fahrenheit conversion adds before it multiplies.

const unitconvLib = (fahrenheit: string) =>
  [
    "//! Unit conversions.",
    "",
    "/// Degrees Celsius to degrees Fahrenheit.",
    "pub fn celsius_to_fahrenheit(c: f64) -> f64 {",
    `    ${fahrenheit}`,
    "}",
    "",
    "/// Degrees Celsius to kelvin.",
    "pub fn celsius_to_kelvin(c: f64) -> f64 {",
    "    c + 273.15",
    "}",
    "",
  ].join("\n");

export const UNITCONV = {
  "1.0.0": unitconvLib("c * 9.0 / 5.0 + 32.0"),
  "1.1.0": unitconvLib("(c + 32.0) * 9.0 / 5.0"),
} as const;

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** Cargo.toml, Cargo.lock and the vendored unitconv `version` (as `cargo vendor` writes them). */
function rustManifest(version: keyof typeof UNITCONV): Files {
  const vendored: Files = {
    "Cargo.toml": [
      "[package]",
      'edition = "2021"',
      'name = "unitconv"',
      `version = "${version}"`,
      'description = "Unit conversions"',
      'license = "MIT"',
      "",
    ].join("\n"),
    "src/lib.rs": UNITCONV[version],
  };
  // The package checksum stands for the .crate archive's sha256; Cargo.lock must repeat it.
  const checksum = sha256(Object.values(vendored).join("\0"));
  const files = Object.fromEntries(Object.entries(vendored).map(([n, c]) => [n, sha256(c)]));
  return {
    "Cargo.toml": [
      "[package]",
      'name = "thermo"',
      'version = "0.1.0"',
      'edition = "2021"',
      "",
      "[dependencies]",
      `unitconv = "${version}"`,
      "",
    ].join("\n"),
    "Cargo.lock": [
      "# This file is automatically @generated by Cargo.",
      "# It is not intended for manual editing.",
      "version = 3",
      "",
      "[[package]]",
      'name = "thermo"',
      'version = "0.1.0"',
      "dependencies = [",
      ' "unitconv",',
      "]",
      "",
      "[[package]]",
      'name = "unitconv"',
      `version = "${version}"`,
      'source = "registry+https://github.com/rust-lang/crates.io-index"',
      `checksum = "${checksum}"`,
      "",
    ].join("\n"),
    ...Object.fromEntries(Object.entries(vendored).map(([n, c]) => [`vendor/unitconv/${n}`, c])),
    "vendor/unitconv/.cargo-checksum.json": JSON.stringify({ files, package: checksum }),
  };
}

const thermoLib = (tests: string[], kelvin = false) =>
  [
    "//! Thermometer readings for display.",
    kelvin
      ? "use unitconv::{celsius_to_fahrenheit, celsius_to_kelvin};"
      : "use unitconv::celsius_to_fahrenheit;",
    "",
    "/// A reading in degrees Celsius, in Fahrenheit with one decimal.",
    "pub fn fahrenheit(celsius: f64) -> String {",
    '    format!("{:.1}°F", celsius_to_fahrenheit(celsius))',
    "}",
    ...(kelvin
      ? [
          "",
          "/// A reading in degrees Celsius, in kelvin with two decimals.",
          "pub fn kelvin(celsius: f64) -> String {",
          '    format!("{:.2} K", celsius_to_kelvin(celsius))',
          "}",
        ]
      : []),
    "",
    "#[cfg(test)]",
    "mod tests {",
    "    use super::*;",
    ...tests.flatMap((t) => ["", "    #[test]", ...t.split("\n").map((l) => `    ${l}`)]),
    "}",
    "",
  ].join("\n");

const BOILING = 'fn boiling_point() {\n    assert_eq!(fahrenheit(100.0), "212.0°F");\n}';
const ABSOLUTE = 'fn absolute_zero() {\n    assert_eq!(kelvin(-273.15), "0.00 K");\n}';
const FREEZING = 'fn freezing_point() {\n    assert_eq!(fahrenheit(0.0), "32.0°F");\n}';

/** A Rust crate with a vendored dependency and nine commits; the fifth is the culprit. */
export function rustProject(
  dir: string,
  name: string,
  { bisectYml, padding }: ProjectOptions = {},
): ProjectRepo {
  return makeProjectRepo(
    dir,
    name,
    longHistory(
      [
        {
          message: "Thermometer readings in Fahrenheit",
          files: {
            ...rustManifest("1.0.0"),
            ".cargo/config.toml": [
              "[source.crates-io]",
              'replace-with = "vendored-sources"',
              "",
              "[source.vendored-sources]",
              'directory = "vendor"',
              "",
            ].join("\n"),
            ".gitignore": "/target\n",
            "src/lib.rs": thermoLib([BOILING]),
            ...(bisectYml ? { ".github/bisect.yml": bisectYml } : {}),
          },
        },
        { message: "Describe the crate", files: { "README.md": "# thermo\n" } },
        {
          message: "Readings in kelvin",
          files: { "src/lib.rs": thermoLib([BOILING, ABSOLUTE], true) },
        },
        {
          message: "Test on every push",
          files: { ".github/workflows/ci.yml": ciWorkflow(["cargo test --offline --locked"]) },
        },
      ],
      { message: "Upgrade unitconv to 1.1.0", files: rustManifest("1.1.0") },
      [
        { message: "Changelog", files: { "CHANGELOG.md": "# Changelog\n\n- unitconv 1.1.0\n" } },
        {
          message: "Test the freezing point",
          files: { "src/lib.rs": thermoLib([BOILING, ABSOLUTE, FREEZING], true) },
        },
        {
          message: "Usage in the README",
          files: { "README.md": "# thermo\n\n`thermo::fahrenheit(21.5)` gives `70.7°F`.\n" },
        },
        {
          message: "Build steps in the README",
          files: {
            "README.md":
              "# thermo\n\n`thermo::fahrenheit(21.5)` gives `70.7°F`.\n\n    cargo test --offline\n",
          },
        },
      ],
      padding,
    ),
  );
}

// --- Go -------------------------------------------------------------------------------------
//
// `example.com/invoice` depends on the module `example.com/money`, served by a Go module proxy
// (tests/helpers/go-proxy.ts); go.sum is complete, so no checksum database is asked. The culprit
// upgrades money to v1.1.0, whose Format drops the zero padding of the cents.

export const MONEY_MODULE = "example.com/money";

const moneyGo = (cents: string) =>
  [
    "// Package money formats amounts of money.",
    "package money",
    "",
    'import "fmt"',
    "",
    '// Format renders an amount in cents as a decimal string: 1205 is "12.05".',
    "func Format(cents int64) string {",
    '\tsign := ""',
    "\tif cents < 0 {",
    '\t\tsign, cents = "-", -cents',
    "\t}",
    `\treturn fmt.Sprintf("%s%d.${cents}", sign, cents/100, cents%100)`,
    "}",
    "",
  ].join("\n");

/** The releases of example.com/money: v1.0.0 right, v1.1.0 broken. */
export const MONEY: Record<string, Files> = {
  "v1.0.0": { "go.mod": `module ${MONEY_MODULE}\n\ngo 1.19\n`, "money.go": moneyGo("%02d") },
  "v1.1.0": { "go.mod": `module ${MONEY_MODULE}\n\ngo 1.19\n`, "money.go": moneyGo("%d") },
};

/** go.sum lines per money version, as GoProxy.addModule returns them. */
export type GoSums = Record<string, string[]>;

function goManifest(sums: GoSums, version: string): Files {
  const lines = sums[version];
  if (!lines) throw new Error(`${MONEY_MODULE} ${version} is not published`);
  return {
    "go.mod": `module example.com/invoice\n\ngo 1.19\n\nrequire ${MONEY_MODULE} ${version}\n`,
    "go.sum": [...lines].sort().join("\n") + "\n",
  };
}

const invoiceGo = (tax: boolean) =>
  [
    "// Package invoice adds up invoice lines.",
    "package invoice",
    "",
    `import "${MONEY_MODULE}"`,
    "",
    "// Total is the sum of the lines (in cents), formatted.",
    "func Total(lines []int64) string {",
    "\tvar sum int64",
    "\tfor _, l := range lines {",
    "\t\tsum += l",
    "\t}",
    "\treturn money.Format(sum)",
    "}",
    ...(tax
      ? [
          "",
          "// Tax is `rate` percent of the amount (in cents), rounded down, formatted.",
          "func Tax(cents, rate int64) string {",
          "\treturn money.Format(cents * rate / 100)",
          "}",
        ]
      : []),
    "",
  ].join("\n");

const goTests = (tests: string[]) =>
  ["package invoice", "", 'import "testing"', ...tests.map((t) => `\n${t}`), ""].join("\n");

const TOTAL_TEST = [
  "func TestTotal(t *testing.T) {",
  '\tif got := Total([]int64{1000, 205}); got != "12.05" {',
  '\t\tt.Fatalf("Total = %q, want 12.05", got)',
  "\t}",
  "}",
].join("\n");
const TAX_TEST = [
  "func TestTax(t *testing.T) {",
  '\tif got := Tax(10000, 20); got != "20.00" {',
  '\t\tt.Fatalf("Tax = %q, want 20.00", got)',
  "\t}",
  "}",
].join("\n");
const CREDIT_TEST = [
  "func TestCreditNote(t *testing.T) {",
  '\tif got := Total([]int64{-1000, -5}); got != "-10.05" {',
  '\t\tt.Fatalf("Total = %q, want -10.05", got)',
  "\t}",
  "}",
].join("\n");

/** A Go module with a dependency from a module proxy and nine commits; the fifth is the culprit. */
export function goProject(
  dir: string,
  name: string,
  sums: GoSums,
  { bisectYml, padding }: ProjectOptions = {},
): ProjectRepo {
  return makeProjectRepo(
    dir,
    name,
    longHistory(
      [
        {
          message: "Invoice totals",
          files: {
            ...goManifest(sums, "v1.0.0"),
            "invoice.go": invoiceGo(false),
            "invoice_test.go": goTests([TOTAL_TEST]),
            ...(bisectYml ? { ".github/bisect.yml": bisectYml } : {}),
          },
        },
        { message: "Describe the package", files: { "README.md": "# invoice\n" } },
        {
          message: "Tax lines",
          files: {
            "invoice.go": invoiceGo(true),
            "invoice_test.go": goTests([TOTAL_TEST, TAX_TEST]),
          },
        },
        {
          message: "Test on every push",
          files: { ".github/workflows/ci.yml": ciWorkflow(["go test ./..."]) },
        },
      ],
      { message: `Upgrade ${MONEY_MODULE} to v1.1.0`, files: goManifest(sums, "v1.1.0") },
      [
        { message: "Changelog", files: { "CHANGELOG.md": "# Changelog\n\n- money v1.1.0\n" } },
        {
          message: "Test credit notes",
          files: { "invoice_test.go": goTests([TOTAL_TEST, TAX_TEST, CREDIT_TEST]) },
        },
        {
          message: "Usage in the README",
          files: {
            "README.md": '# invoice\n\n`invoice.Total([]int64{1000, 205})` is `"12.05"`.\n',
          },
        },
        {
          message: "Build steps in the README",
          files: {
            "README.md":
              '# invoice\n\n`invoice.Total([]int64{1000, 205})` is `"12.05"`.\n\n    go test ./...\n',
          },
        },
      ],
      padding,
    ),
  );
}
