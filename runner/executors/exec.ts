// Our own short commands in a running container (`docker exec`), run to their end: the exit code
// and the tail of the output. The checkout box (workspace.ts) and the sandbox (sandbox.ts) use it;
// a sandbox's runs use `exitOf` on their own exec (sandbox-run.ts).
import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import { DockerDemuxer, TailBuffer } from "./output";

export interface ExecResult {
  /** null: the engine recorded no exit code (the exec never ended, as far as it knows). */
  code: number | null;
  output: string;
}

/** How long an exec whose output has ended may still be reported running. */
export const EXIT_GRACE_MS = 5_000;

/** Run `cmd` as `user` in the running container; resolves once it has ended. */
export async function execToEnd(
  container: Docker.Container,
  cmd: string[],
  user: string,
): Promise<ExecResult> {
  const exec = await container.exec({
    Cmd: cmd,
    AttachStdout: true,
    AttachStderr: true,
    User: user,
  });
  const stream = (await exec.start({ hijack: true, stdin: false })) as Duplex;
  const output = new TailBuffer(16 * 1024);
  const demux = new DockerDemuxer((payload) => output.push(payload));
  await new Promise<void>((resolve, reject) => {
    stream.on("data", (chunk: Buffer) => demux.write(chunk));
    stream.on("end", resolve);
    stream.on("close", resolve);
    stream.on("error", reject);
  });
  const { exitCode } = await exitOf(() => exec.inspect());
  return { code: exitCode, output: output.text() };
}

/**
 * An exec's end, asked once its output stream has ended. An engine may record the exit a moment
 * after it closes the stream (it handles the two apart), so an exec still reported running is
 * asked again, with a growing pause, for up to `graceMs` before that answer is believed.
 */
export async function exitOf(
  inspect: () => Promise<Pick<Docker.ExecInspectInfo, "Running" | "ExitCode">>,
  graceMs = EXIT_GRACE_MS,
): Promise<{ running: boolean; exitCode: number | null }> {
  const deadline = Date.now() + graceMs;
  for (let pause = 5; ; pause = Math.min(pause * 2, 250)) {
    const info = await inspect();
    if (!info.Running || Date.now() >= deadline)
      return { running: info.Running, exitCode: info.Running ? null : (info.ExitCode ?? null) };
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}
