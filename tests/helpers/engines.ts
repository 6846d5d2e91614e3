// The real Docker engines of a test run (shared/docker/engines.sh), reached over TLS as runner
// hosts are in production. In CI a missing engine fails the run; elsewhere the tests skip.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type Docker from "dockerode";
import { connectDocker } from "../../runner/docker/connect";
import { ensureRunnerImage } from "../../runner/image";

export interface TestEngine {
  name: string;
  endpoint: string;
  tlsPath: string;
  docker: Docker;
  /** The dockerd pid file (to stop and restart a host in a test). */
  pidFile: string;
}

const ENGINES_DIR = process.env.BISECT_ENGINES_DIR ?? "/var/lib/bisect-engines";

export async function tlsEngines(): Promise<{ engines: TestEngine[]; problem?: string }> {
  const certs = process.env.BISECT_ENGINE_CERTS ?? path.join(ENGINES_DIR, "certs");
  let endpoints = (process.env.BISECT_ENGINE_TLS_HOSTS ?? "").split(",").filter(Boolean);
  if (endpoints.length === 0 && existsSync(path.join(ENGINES_DIR, "run/h1.pid"))) {
    endpoints = ["tcp://127.0.0.1:23761", "tcp://127.0.0.1:23762"];
  }
  if (endpoints.length < 2)
    return {
      engines: [],
      problem: "two Docker engines are needed (shared/docker/engines.sh up 2)",
    };
  const engines: TestEngine[] = [];
  for (const [i, endpoint] of endpoints.slice(0, 2).entries()) {
    const docker = connectDocker(endpoint, { tls: certs });
    try {
      await docker.ping();
    } catch (error) {
      return { engines: [], problem: `${endpoint} does not answer: ${(error as Error).message}` };
    }
    engines.push({
      name: `h${i + 1}`,
      endpoint,
      tlsPath: certs,
      docker,
      pidFile: path.join(ENGINES_DIR, `run/h${i + 1}.pid`),
    });
  }
  return { engines };
}

/** Builds the runner image on the first engine and copies it to the others. */
export async function ensureImageEverywhere(
  engines: TestEngine[],
  tag = "bisect-runner:latest",
): Promise<void> {
  const [first, ...rest] = engines;
  await ensureRunnerImage(first!.docker, { tag });
  for (const e of rest) await ensureRunnerImage(e.docker, { tag, source: first!.docker });
}

export const dockerRequired = process.env.CI === "true";

export function dockerdPid(engine: TestEngine): number {
  return Number(readFileSync(engine.pidFile, "utf8").trim());
}

/** Containers of a job (of this deployment: job ids repeat across test databases) still on the engines. */
export async function containersOfJob(
  engines: TestEngine[],
  instanceId: string,
  jobId: number,
): Promise<string[]> {
  const names: string[] = [];
  for (const e of engines) {
    const filters = { label: [`bisect-bot.instance=${instanceId}`, `bisect-bot.job=${jobId}`] };
    const list = await e.docker.listContainers({ all: true, filters: JSON.stringify(filters) });
    names.push(...list.map((c) => `${e.name}:${c.Id.slice(0, 12)}`));
  }
  return names;
}
