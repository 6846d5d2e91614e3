// Fixture projects of the ecosystems the zero-configuration table knows, each a git repository
// with a short history and one known culprit, their dependencies served by real local servers:
//
// - Node: `tiny-math` from a verdaccio registry; the culprit upgrades it to a broken release.
// - Python: `tinystats` from a PEP 503 index of local wheels; the culprit upgrades it likewise.
// - C with CMake: a library and a ctest; the culprit breaks the library's code.
//
// Every repository has four commits: v1.0.0 (good), a harmless change, the culprit, and one more
// harmless change on `main` (bad); `padding` adds that many more harmless commits on each side of
// the culprit (longer histories for benchmarks). With `bisectYml`, `.github/bisect.yml` is there
// from the first commit on.
import { execFileSync } from "node:child_process";
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
