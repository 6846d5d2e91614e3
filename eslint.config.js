import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

// The one direction of dependencies: app → jobs → runner, and everything → db and config.
// runner and db (and config) import nothing of the layers above them.
const layer = (name) => [`**/${name}`, `**/${name}/**`];
const forbid = (...layers) => ({
  "no-restricted-imports": [
    "error",
    {
      patterns: [
        {
          group: layers.flatMap(layer),
          message: "Dependencies flow app → jobs → runner, and everything → db/config. See docs/decisions/002-layers.md.",
        },
      ],
    },
  ],
});

export default tseslint.config(
  { ignores: ["node_modules/", "build/", "public/build/", ".cache/", ".data/", "test-results/", "artifacts/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "no-console": "off",
    },
  },
  { files: ["runner/**"], rules: forbid("app", "jobs", "db", "config", "scripts", "tests") },
  { files: ["db/**"], rules: forbid("app", "jobs", "runner", "scripts", "tests") },
  { files: ["config/**"], rules: forbid("app", "jobs", "runner", "db", "scripts", "tests") },
  { files: ["jobs/**"], rules: forbid("app", "scripts", "tests") },
  { files: ["app/**"], rules: forbid("scripts", "tests") },
);
