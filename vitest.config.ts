import { defineConfig } from "vitest/config";

// Test files: `*.test.ts` beside the module (unit), `*.integration.test.ts` (cross a process or
// network boundary: PostgreSQL, Docker, HTTP), `tests/e2e/*.test.ts` (browser).
export default defineConfig({
  test: {
    include: ["{app,server,jobs,runner,db,config,scripts,tests}/**/*.test.{ts,tsx}"],
    globalSetup: ["tests/setup/global-setup.ts"],
    // Two cores: two forks; each file gets its own database cloned from a migrated template.
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    reporters: ["default", "json"],
    outputFile: { json: "test-results/vitest.json" },
  },
});
