import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

// The one direction of dependencies: app → jobs → runner, and everything → db and config.
// runner and db (and config) import nothing of the layers above them.
const patternsOf = (name) => [`**/${name}`, `**/${name}/**`];
const forbid = (...layers) => ({
  "no-restricted-imports": [
    "error",
    {
      patterns: [
        {
          group: layers.flatMap(patternsOf),
          message:
            "Dependencies flow app → jobs → runner, and everything → db/config. See docs/decisions/002-layers.md.",
        },
      ],
    },
  ],
});

const TESTS = ["**/*.test.ts", "**/*.test.tsx"];
/** Source files of a layer may not import the given layers (nor scripts/tests); its tests may use tests/ helpers. */
const layer = (dir, forbidden) => [
  { files: [`${dir}/**`], ignores: TESTS, rules: forbid(...forbidden, "scripts", "tests") },
  { files: TESTS.map((t) => `${dir}/${t}`), rules: forbid(...forbidden, "scripts") },
];

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      "build/",
      "public/build/",
      ".cache/",
      ".data/",
      "test-results/",
      "artifacts/",
      ".stryker-tmp/",
      "reports/",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "no-console": "off",
    },
  },
  ...layer("runner", ["app", "jobs", "config"]),
  // The engine and everything the standalone CLI uses need no database.
  ...["engine", "executors", "docker", "git", "bisection", "cli", "mirror", "settings"].flatMap(
    (part) => layer(`runner/${part}`, ["app", "jobs", "config", "db"]),
  ),
  // The engine is pure: it knows no executor (it names how a run ended itself, as RunEnd).
  ...layer("runner/engine", ["app", "jobs", "config", "db", "executors", "docker", "farm"]),
  ...layer("db", ["app", "jobs", "runner"]),
  ...layer("config", ["app", "jobs", "runner", "db"]),
  ...layer("jobs", ["app"]),
  ...layer("app", []),
);
