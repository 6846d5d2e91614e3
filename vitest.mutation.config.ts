import { defineConfig } from "vitest/config";

// Mutation testing (`npm run mutation`, stryker.config.json) reruns the unit tests of the pure
// modules once per mutant: only those files, and no global setup (they need no database).
export default defineConfig({
  test: {
    include: ["runner/engine/*.test.ts", "jobs/github/{command,options,repo-config}.test.ts"],
    pool: "forks",
    maxWorkers: 1,
    testTimeout: 60_000,
  },
});
