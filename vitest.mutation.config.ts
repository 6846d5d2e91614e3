import { defineConfig } from "vitest/config";

// Mutation testing (`npm run mutation`, stryker.config.json) reruns the unit tests of the pure
// modules once per mutant: only those files, and no global setup (they need no database).
// MUTATION_QUICK=1 leaves out the simulated bisections (property tests over thousands of runs),
// which dominate the time of every engine mutant on a small machine.
const quick = process.env.MUTATION_QUICK === "1";

export default defineConfig({
  test: {
    include: [
      "runner/engine/*.test.ts",
      "jobs/github/{command,options,repo-config,repo-config.rules}.test.ts",
      "runner/settings/auto-config.test.ts",
    ],
    exclude: quick ? ["runner/engine/{simulate,flaky}.test.ts"] : [],
    pool: "forks",
    maxWorkers: 1,
    testTimeout: 300_000,
  },
});
