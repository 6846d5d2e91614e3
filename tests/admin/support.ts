// The admin command line as an operator runs it: a separate process (`scripts/admin.ts` under
// tsx) against the product's database, with nothing of the test's environment but what it passes.
import { spawn } from "node:child_process";
import type { Knex } from "knex";

export interface AdminCall {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed, for `--json` calls. */
  json: {
    runId: number;
    command: string;
    status: string;
    result: Record<string, unknown> | null;
    error: string | null;
  };
}

export function admin(
  databaseUrl: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<AdminCall> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/admin.ts", ...args], {
      env: {
        NODE_ENV: "test",
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: databaseUrl,
        ...env,
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.once("error", reject);
    child.once("close", (code) => {
      let json = null as unknown as AdminCall["json"];
      if (args.includes("--json")) {
        try {
          json = JSON.parse(stdout);
        } catch {
          // left null: the assertion on it names the output
        }
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}

/** The audit entries admin commands left, oldest first. */
export async function adminAudit(knex: Knex): Promise<
  Array<{
    action: string;
    subjectType: string | null;
    subjectId: string | null;
    details: Record<string, unknown>;
  }>
> {
  return knex("auditLog")
    .where({ actor: "admin" })
    .orderBy("id")
    .select("action", "subjectType", "subjectId", "details");
}
