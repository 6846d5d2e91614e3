// Starts db/embedded-main.ts as a child process and waits for its URL.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface EmbeddedProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

const script = fileURLToPath(new URL("./embedded-main.ts", import.meta.url));

export async function spawnEmbeddedPostgres(
  dataDir: string,
  options: { port?: number; persistent?: boolean } = {},
): Promise<EmbeddedProcess> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      script,
      dataDir,
      String(options.port ?? ""),
      String(options.persistent ?? true),
    ],
    // Its own process group: a terminal's Ctrl-C must not stop PostgreSQL before the processes
    // using it have shut down; the owner stops it last (or it stops when its stdin closes).
    { stdio: ["pipe", "pipe", "inherit"], detached: true },
  );
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (line) => {
      try {
        resolve((JSON.parse(line) as { url: string }).url);
      } catch {
        reject(new Error(`embedded PostgreSQL said: ${line}`));
      }
    });
    child.once("exit", (code) =>
      reject(new Error(`embedded PostgreSQL exited with code ${code} before it was ready`)),
    );
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  return {
    url,
    child,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
