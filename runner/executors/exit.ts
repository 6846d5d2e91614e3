// Reading how a container ended: the engine's exit wait, the output still in flight, and the
// translation of the engine's facts and the executor's own (timed out, aborted, disk full) into a
// RunResult. A failed checkout is an InfrastructureError, never a verdict: the checkout step
// prints a per-run random marker only it knows and exits with a reserved code, so a test command
// cannot pass its own failure off as the infrastructure's.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import { InfrastructureError } from "../errors";
import { CHECKOUT_FAILED_EXIT } from "./run-script";
import type { RunResult } from "./types";

/** How long to let the output stream drain after the container has exited. */
const DRAIN_MS = 2_000;

export interface ExitStatus {
  statusCode: number | null;
  error?: string;
}

/** POST /containers/{id}/wait?condition=next-exit, resolved once the engine has registered it. */
export function waitNextExit(docker: Docker, id: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        path: `/containers/${id}/wait?`,
        method: "POST",
        options: { _query: { condition: "next-exit" }, _body: {} },
        isStream: true,
        statusCodes: {
          200: true,
          400: "bad parameter",
          404: "no such container",
          500: "server error",
        },
      },
      (err: unknown, res: unknown) => (err ? reject(err) : resolve(res as IncomingMessage)),
    );
  });
}

/** The body of the exit wait's response. */
export function readExit(res: IncomingMessage): Promise<ExitStatus> {
  return new Promise((resolve, reject) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => (body += chunk));
    res.on("end", () => {
      try {
        const parsed = JSON.parse(body) as {
          StatusCode?: number;
          Error?: { Message?: string } | null;
        };
        resolve({
          statusCode: typeof parsed.StatusCode === "number" ? parsed.StatusCode : null,
          error: parsed.Error?.Message,
        });
      } catch {
        reject(new Error(`unreadable wait response: ${body.slice(0, 200)}`));
      }
    });
    res.on("error", reject);
  });
}

/** Whether `promise` settles (resolves or rejects) within `ms`. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true,
    () => true,
  );
  return Promise.race([settled, late]).finally(() => clearTimeout(timer));
}

/** Let the attach stream deliver what is still in flight, but never wait long for it. */
export async function drain(
  attachEnded: Promise<void> | undefined,
  attach?: Duplex,
): Promise<void> {
  if (!attachEnded) return;
  await settlesWithin(attachEnded, DRAIN_MS);
  attach?.destroy();
}

/** What the engine and the executor know once a container has ended. */
export interface EndFacts {
  /** The container's exit code (inspect's, else the wait's). */
  exitCode: number | null;
  oomKilled: boolean;
  durationMs: number;
  log: string;
  logTruncated: boolean;
  /** Killed by the executor at the wall-clock timeout / at the abort signal. */
  timedOut: boolean;
  aborted: boolean;
  /** Stopped (or found) at its work directory's size limit. */
  diskFull: boolean;
  /** The run's checkout-failure marker. */
  marker: string;
}

/** The run's result, or an InfrastructureError when its checkout failed. */
export function runResultOf(facts: EndFacts, what: { sha: string; engine: string }): RunResult {
  if (facts.exitCode === CHECKOUT_FAILED_EXIT && facts.log.includes(facts.marker)) {
    const detail = facts.log.split(facts.marker).join("").trim().split("\n").slice(-10).join("\n");
    throw new InfrastructureError(
      `checkout of ${what.sha} failed on ${what.engine}: ${detail || "no output"}`,
    );
  }
  const killed = facts.timedOut || facts.aborted || (facts.diskFull && facts.exitCode === 137);
  const bySignal = killed || (facts.oomKilled && facts.exitCode === 137);
  return {
    exitCode: bySignal ? null : facts.exitCode,
    signal: bySignal ? "SIGKILL" : null,
    timedOut: facts.timedOut,
    oomKilled: facts.oomKilled,
    aborted: facts.aborted,
    diskFull: facts.diskFull,
    durationMs: facts.durationMs,
    log: facts.log,
    logTruncated: facts.logTruncated,
  };
}

/** An exit code that may be a full disk's, not the commit's (1–127 but 125): worth measuring. */
export function mayBeDiskFull(code: number | null): boolean {
  return code !== null && code > 0 && code < 128 && code !== 125;
}

/** The engine's run time of a container from inspect's timestamps, ms; undefined when unknown. */
export function engineDuration(
  startedAt: string | undefined,
  finishedAt: string | undefined,
): number | undefined {
  const start = parseDockerTime(startedAt);
  const end = parseDockerTime(finishedAt);
  if (start === undefined || end === undefined || end < start) return undefined;
  return Math.round(end - start);
}

/** Docker's RFC 3339 timestamps carry nanoseconds; keep them as fractional milliseconds. */
export function parseDockerTime(value: string | undefined): number | undefined {
  if (!value || value.startsWith("0001-")) return undefined;
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(value);
  if (!m) return undefined;
  const whole = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(whole)) return undefined;
  const frac = m[2] ? Number(`0.${m[2]}`) * 1000 : 0;
  return whole + frac;
}

/** Why a run was stopped before it ended by itself. */
export type KillReason = "timeout" | "abort" | "disk";

/** What a stopped run says about why (a fresh container's run, or a sandbox's). */
export interface KillFlags {
  timedOut: boolean;
  aborted: boolean;
  diskFull: boolean;
}

/**
 * Flags `run` with `why` once `kill` has taken effect; a kill that failed flags nothing (the run
 * ended by itself meanwhile, or its container went with it — either shows when it is collected).
 */
export function flagOnceKilled(
  run: KillFlags,
  why: KillReason,
  kill: Promise<unknown>,
): Promise<void> {
  return kill.then(
    () => {
      if (why === "timeout") run.timedOut = true;
      else if (why === "disk") run.diskFull = true;
      else run.aborted = true;
    },
    () => {},
  );
}

/**
 * Kills again until the run has `ended`: one kill can miss (an engine answers an exec's start before
 * its process exists, and an engine call can fail under load), and a missed abort or timeout would
 * leave the run going to its own end. Resolves when a kill succeeded and the run ended; rejects when
 * the run ended after a failed kill (it ended by itself, or with its container), or outlived `tries`.
 */
export async function killUntilEnded(
  kill: () => Promise<unknown>,
  ended: Promise<unknown>,
  { tries = 10, pauseMs = 1_000 }: { tries?: number; pauseMs?: number } = {},
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const failure = await kill().then(
      () => undefined,
      (err: unknown) => err ?? new Error("the kill failed"),
    );
    if (await settlesWithin(ended, pauseMs)) {
      if (failure === undefined) return;
      throw failure;
    }
    if (attempt >= tries) throw failure ?? new Error(`the run outlived ${tries} kills`);
  }
}
