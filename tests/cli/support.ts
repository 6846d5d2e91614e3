// Shared by the CLI tests: running `scripts/bisect.ts` as a child process, reaching a Docker engine.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type Docker from "dockerode";
import { connectDocker, describeDockerError } from "../../runner/docker/connect";
import type { JsonResult } from "../../runner/cli/output";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// The command line of `npm run bisect`, so the tests run the CLI the way users do (one process:
// a Ctrl-C must reach its handler directly, not through a relay that may give up under load).
const [BISECT_BIN, ...BISECT_ARGS] = (
  JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  }
).scripts.bisect!.split(" ");

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed, when it is exactly one JSON object. */
  json?: JsonResult;
  pid: number;
}

export interface CliRunOptions {
  env?: Record<string, string | undefined>;
  /** Called with each stderr chunk and the child, e.g. to interrupt it at the right moment. */
  onStderr?(text: string, child: ReturnType<typeof spawn>): void;
  timeoutMs?: number;
}

/** What `npm run -s bisect -- <args>` runs. */
export function runCli(args: string[], options: CliRunOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      BISECT_BIN === "node" ? process.execPath : BISECT_BIN!,
      [...BISECT_ARGS, ...args],
      {
        cwd: ROOT,
        env: { ...process.env, ...options.env },
        stdio: ["ignore", "pipe", "pipe"],
        // Its own process group, so a timeout kills whatever it started too.
        detached: true,
      },
    );
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }, options.timeoutMs ?? 120_000);
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      options.onStderr?.(stderr, child);
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      let json: JsonResult | undefined;
      const lines = stdout.trim().split("\n").filter(Boolean);
      if (lines.length === 1) {
        try {
          json = JSON.parse(lines[0]!) as JsonResult;
        } catch {
          json = undefined;
        }
      }
      resolve({ code, signal, stdout, stderr, json, pid: child.pid ?? -1 });
    });
  });
}

export interface Engine {
  endpoint: string;
  docker?: Docker;
  unavailable?: string;
}

/** The engine of DOCKER_HOST (or the development engines' host 1), pinged. */
export async function localEngine(): Promise<Engine> {
  const devSocket = "/var/lib/bisect-engines/run/h1.sock";
  const endpoint =
    process.env.DOCKER_HOST ||
    (existsSync(devSocket) ? `unix://${devSocket}` : "unix:///var/run/docker.sock");
  const certs = process.env.DOCKER_CERT_PATH || process.env.BISECT_ENGINE_CERTS;
  try {
    const docker = connectDocker(
      endpoint,
      !endpoint.startsWith("unix://") && certs ? { tls: certs } : {},
    );
    await (docker.ping as (o: { abortSignal: AbortSignal }) => Promise<unknown>).call(docker, {
      abortSignal: AbortSignal.timeout(5_000),
    });
    return { endpoint, docker };
  } catch (error) {
    return { endpoint, unavailable: `${endpoint} unreachable: ${describeDockerError(error)}` };
  }
}

/** Docker tests fail instead of skipping in CI. */
export const dockerRequired = process.env.CI === "true";
