// Zero configuration: the files at a repository's root → an image and a setup for its ecosystem.
// Pure: a listing in, a choice out. The table is ordered (the first rule whose file is present
// wins: a lockfile says more than a manifest) and an operator may replace it with a JSON file of
// the same shape (BISECT_ECOSYSTEMS_FILE). A rule without `image` runs on the runner image.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { CACHE_LIMITS, cachePathProblem, normalizeCachePath } from "./cache-paths";
import { envProblems } from "./env-vars";

const ruleSchema = z.strictObject({
  ecosystem: z.string().min(1).max(40),
  /** File names at the root; `*` matches any characters (`requirements*.txt`). */
  files: z.array(z.string().min(1).max(100)).min(1).max(20),
  image: z.string().min(1).max(255).optional(),
  setup: z.string().min(1).max(10_000),
  /** "setup": the setup downloads dependencies (from the package registries) and needs network. */
  network: z.literal("setup").optional(),
  /**
   * Variables for the setup and the test of such projects, e.g. the operator's own Go module
   * proxy (`GOPROXY`). The rules of a repository's `env:` apply; a repository's variables win.
   */
  env: z
    .record(z.string(), z.string())
    .superRefine((env, ctx) => {
      for (const problem of envProblems(env)) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional(),
  /**
   * Paths of the checkout kept between steps, as bisect.yml's `cache:` list (a build directory):
   * with them a step rebuilds what its commit changed, not everything. The repository's own
   * `cache:` replaces them.
   */
  cache: z
    .array(z.string())
    .max(CACHE_LIMITS.paths)
    .superRefine((paths, ctx) => {
      for (const path of paths) {
        const problem = cachePathProblem(path);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      }
    })
    .transform((paths) => paths.map(normalizeCachePath))
    .optional(),
});
const tableSchema = z.array(ruleSchema).max(100);

export type EcosystemRule = z.output<typeof ruleSchema>;

export interface EcosystemChoice {
  ecosystem: string;
  /** The file that decided it. */
  file: string;
  image?: string;
  setup: string;
  network?: "setup";
  env?: Record<string, string>;
  cache?: string[];
}

const PIP_SETUP = [
  "python -m venv /work/.venv",
  ". /work/.venv/bin/activate",
  'for f in requirements*.txt; do [ -f "$f" ] && pip install -r "$f"; done',
  "if [ -f pyproject.toml ]; then pip install -e .; fi",
].join("\n");

/**
 * The modules, then the packages and their tests compiled into the repository's build cache,
 * which the offline test reads (cache-volume.ts): `-exec true` links each test binary and runs
 * `true` instead, so no test runs here, and a package that does not compile is left for the test
 * to report (a bad commit, not a skipped one).
 */
const GO_SETUP = ["go mod download", "go test -exec true ./... >/dev/null 2>&1 || true"].join("\n");

export const DEFAULT_ECOSYSTEMS: readonly EcosystemRule[] = [
  {
    ecosystem: "Node (pnpm)",
    files: ["pnpm-lock.yaml"],
    image: "node:20-bookworm",
    setup: [
      "corepack enable --install-directory /work/.bin",
      'export PATH="/work/.bin:$PATH"',
      "pnpm install --frozen-lockfile",
    ].join("\n"),
    network: "setup",
  },
  {
    ecosystem: "Node (yarn)",
    files: ["yarn.lock"],
    image: "node:20-bookworm",
    setup: "yarn install --frozen-lockfile",
    network: "setup",
  },
  {
    ecosystem: "Node (npm)",
    files: ["package-lock.json", "npm-shrinkwrap.json"],
    image: "node:20-bookworm",
    setup: "npm ci",
    network: "setup",
  },
  {
    ecosystem: "Python",
    files: ["pyproject.toml", "requirements*.txt"],
    image: "python:3.12-bookworm",
    setup: PIP_SETUP,
    network: "setup",
  },
  {
    ecosystem: "Rust",
    files: ["Cargo.lock"],
    image: "rust:1-bookworm",
    setup: "cargo build --locked",
    network: "setup",
    cache: ["target"],
  },
  {
    ecosystem: "Rust",
    files: ["Cargo.toml"],
    image: "rust:1-bookworm",
    setup: "cargo build",
    network: "setup",
    cache: ["target"],
  },
  {
    ecosystem: "Go",
    files: ["go.mod"],
    image: "golang:1-bookworm",
    setup: GO_SETUP,
    network: "setup",
  },
  {
    ecosystem: "C/C++ (CMake)",
    files: ["CMakeLists.txt"],
    setup: [
      // Runner images built before cmake was part of them say so instead of "not found".
      'command -v cmake >/dev/null || { echo "cmake is not in this image: choose one with image: in .github/bisect.yml" >&2; exit 1; }',
      "cmake -S . -B build && cmake --build build -j2",
    ].join("\n"),
    cache: ["build"],
  },
  { ecosystem: "Make", files: ["Makefile", "makefile", "GNUmakefile"], setup: "make" },
];

const glob = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split("*")
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );

/** The first rule one of whose files is at the root, or null (an unknown kind of project). */
export function detectEcosystem(
  rootFiles: readonly string[],
  table: readonly EcosystemRule[] = DEFAULT_ECOSYSTEMS,
): EcosystemChoice | null {
  for (const rule of table)
    for (const pattern of rule.files) {
      const re = glob(pattern);
      const file = rootFiles.find((f) => re.test(f));
      if (file)
        return {
          ecosystem: rule.ecosystem,
          file,
          setup: rule.setup,
          ...(rule.image ? { image: rule.image } : {}),
          ...(rule.network ? { network: rule.network } : {}),
          ...(rule.env && Object.keys(rule.env).length > 0 ? { env: { ...rule.env } } : {}),
          ...(rule.cache?.length ? { cache: [...rule.cache] } : {}),
        };
    }
  return null;
}

/** The operator's table (BISECT_ECOSYSTEMS_FILE), checked; a clear error when it is not valid. */
export function loadEcosystems(file: string): EcosystemRule[] {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`ecosystem table ${file}: ${(error as Error).message}`);
  }
  const parsed = tableSchema.safeParse(data);
  if (!parsed.success)
    throw new Error(
      `ecosystem table ${file}: ${parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join(".") || "(top)"} ${i.message}`)
        .join("; ")}`,
    );
  return parsed.data;
}
