// Deployment tests: which tools are here (with CI=true a missing one is a failure, never a skip),
// running commands, and a raw HTTP client that shows exactly what went over the wire.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import http from "node:http";
import { it } from "vitest";

export const ci = process.env.CI === "true";

/**
 * Whether a tool the tests need is present. Call it at the top of a test file. Outside CI a
 * missing tool skips the file's tests with a message; with CI=true it adds a failing test that
 * says what is missing, so the run fails and says why.
 */
export function requireTool(present: boolean, what: string, install: string): boolean {
  if (present) return true;
  const message = `${what} is missing: ${install}`;
  if (ci) {
    it(`${what} is present (CI=true: deployment tests cannot be skipped)`, () => {
      throw new Error(message);
    });
  } else {
    console.warn(`${message}; skipping (these tests fail when CI=true)`);
  }
  return false;
}

export function commandExists(command: string, args: string[] = ["--version"]): boolean {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 30_000 });
  return result.status === 0;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (async, so the event loop keeps serving other tests). */
export function run(
  command: string,
  args: string[],
  options: {
    env?: Record<string, string | undefined>;
    cwd?: string;
    input?: string;
    timeoutMs?: number;
  } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: (options.env ?? process.env) as NodeJS.ProcessEnv,
      cwd: options.cwd,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A child that exits before reading its input closes the pipe: not an error of the test.
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}

export interface RawResponse {
  status: number;
  /** Header names in lower case, each with every value it had (repeats kept apart). */
  headers: Record<string, string[]>;
  body: Buffer;
}

export interface RawRequest {
  method?: string;
  headers?: Record<string, string | number>;
  /** A body written in one go. */
  body?: Buffer | string;
  /**
   * A body streamed in chunks of `chunk` bytes until `bytes` are sent (or the server answers).
   * With an `expect: 100-continue` header nothing is sent before the server's 100 Continue.
   */
  stream?: { bytes: number; chunk?: number };
}

/**
 * One HTTP/1.1 request with node:http: no decompression, no header merging, and the answer is
 * taken as soon as it comes, even while the body is still being sent (a proxy refusing a body).
 */
export function rawRequest(url: string, request: RawRequest = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: request.method ?? "GET",
      headers: request.headers,
      agent: false,
    });
    let answered = false;
    req.once("response", (res) => {
      answered = true;
      const headers: Record<string, string[]> = {};
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        const name = res.rawHeaders[i]!.toLowerCase();
        (headers[name] ??= []).push(res.rawHeaders[i + 1]!);
      }
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.once("end", () => {
        resolve({ status: res.statusCode!, headers, body: Buffer.concat(chunks) });
        req.destroy();
      });
      res.once("error", reject);
    });
    // A server that answers and closes mid-body resets the upload: not an error once answered.
    req.on("error", (error) => {
      if (!answered) reject(error);
    });
    if (request.stream) {
      const { bytes } = request.stream;
      const chunk = Buffer.alloc(request.stream.chunk ?? 256 * 1024, 0x61);
      let sent = 0;
      const pump = () => {
        while (sent < bytes && !answered && !req.destroyed) {
          const piece = chunk.subarray(0, Math.min(chunk.length, bytes - sent));
          sent += piece.length;
          if (!req.write(piece)) return void req.once("drain", pump);
        }
        if (!req.destroyed) req.end();
      };
      const expectContinue = Object.entries(request.headers ?? {}).some(
        ([name, value]) => name.toLowerCase() === "expect" && /100-continue/i.test(String(value)),
      );
      if (expectContinue) req.once("continue", pump);
      else pump();
    } else {
      req.end(request.body);
    }
  });
}

export function header(response: RawResponse, name: string): string | undefined {
  return response.headers[name.toLowerCase()]?.join(", ");
}

/** Waits until `url` answers at all (any status). */
export async function waitForHttp(
  url: string,
  child: ChildProcess | null,
  output: () => string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null)
      throw new Error(`the process exited (${child.exitCode}):\n${output()}`);
    const ok = await rawRequest(url).then(
      () => true,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
