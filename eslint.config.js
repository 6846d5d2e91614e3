import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

// The one direction of dependencies: server and app → jobs → runner, and everything → db and config.
// runner and db (and config) import nothing of the layers above them. server/ (the web process)
// loads the Remix build at run time, never app/ sources, and nothing imports server/.
const patternsOf = (name) => [`**/${name}`, `**/${name}/**`];
const MESSAGE =
  "Dependencies flow server and app → jobs → runner, and everything → db/config. See docs/decisions/002-layers.md.";
// "server" is also a subpath of packages (react-dom/server) and of test helpers: only the
// top-level folder, reached by a relative path, is meant.
const SERVER = { regex: "^(\\.\\./)+server(/|$)", message: MESSAGE };
const forbid = (...layers) => {
  const others = layers.filter((l) => l !== "server");
  return {
    "no-restricted-imports": [
      "error",
      {
        patterns: [
          { group: others.flatMap(patternsOf), message: MESSAGE },
          ...(layers.includes("server") ? [SERVER] : []),
        ],
      },
    ],
  };
};

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
      // One import style: relative imports name the module without an extension.
      "no-restricted-syntax": [
        "error",
        {
          selector: "ImportDeclaration[source.value=/^\\.{1,2}\\/.*\\.js$/]",
          message: "Import relative modules without the .js extension.",
        },
      ],
    },
  },
  // runner/ takes plain parameters: the engine, executors and the standalone CLI need no database.
  ...layer("runner", ["app", "server", "jobs", "config", "db"]),
  // The engine is pure: it knows no executor (it names how a run ended itself, as RunEnd).
  ...layer("runner/engine", ["app", "server", "jobs", "config", "db", "executors", "docker"]),
  ...layer("db", ["app", "server", "jobs", "runner"]),
  ...layer("config", ["app", "server", "jobs", "runner", "db"]),
  ...layer("jobs", ["app", "server"]),
  ...layer("app", ["server"]),
  ...layer("server", ["app", "runner"]),
);
