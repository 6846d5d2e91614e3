// The live-update stream of a job page (text/event-stream). The server polls the job's version
// (job and steps' updated_at) every second and sends `update` when it changed, `end` once the job
// is final, and then closes. It also closes when the client goes away and after a maximum
// lifetime (the browser's EventSource reconnects, and the session is checked again).
import { isFinalStatus, jobVersion } from "./dashboard.server";

export interface StreamOptions {
  pollMs?: number;
  heartbeatMs?: number;
  maxLifetimeMs?: number;
  /** Called once when the stream ends, however it ends. */
  onClose?: () => void;
}

/** Open streams one signed-in user may hold in this web process (each polls the database). */
export const MAX_STREAMS_PER_USER = 8;
const openStreams = new Map<number, number>();

/**
 * Counts a new stream for the user and returns its release, or null when the user already holds
 * MAX_STREAMS_PER_USER (the caller answers 429; the browser's EventSource tries again later).
 */
export function takeStreamSlot(userId: number): (() => void) | null {
  const open = openStreams.get(userId) ?? 0;
  if (open >= MAX_STREAMS_PER_USER) return null;
  openStreams.set(userId, open + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const now = (openStreams.get(userId) ?? 1) - 1;
    if (now <= 0) openStreams.delete(userId);
    else openStreams.set(userId, now);
  };
}

const encoder = new TextEncoder();

export function jobEventStream(
  jobId: number,
  since: string | null,
  signal: AbortSignal,
  options: StreamOptions = {},
): Response {
  const pollMs = options.pollMs ?? 1000;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxLifetimeMs = options.maxLifetimeMs ?? 10 * 60_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const started = Date.now();
      let last = since;
      let lastSent = Date.now();
      const send = (text: string) => {
        if (closed) return;
        controller.enqueue(encoder.encode(text));
        lastSent = Date.now();
      };
      const close = () => {
        if (closed) return;
        closed = true;
        options.onClose?.();
        if (timer) clearTimeout(timer);
        signal.removeEventListener("abort", close);
        try {
          controller.close();
        } catch {
          // already closed by the consumer
        }
      };
      signal.addEventListener("abort", close);
      send("retry: 3000\n\n");

      const tick = async () => {
        if (closed) return;
        try {
          const version = await jobVersion(jobId);
          if (closed) return;
          const status = version.split(":")[0]!;
          if (version !== last) {
            last = version;
            send(`event: update\ndata: ${JSON.stringify({ version, status })}\n\n`);
          }
          if (version === "gone" || isFinalStatus(status)) {
            send(`event: end\ndata: ${JSON.stringify({ status })}\n\n`);
            return close();
          }
          if (Date.now() - lastSent >= heartbeatMs) send(": still here\n\n");
          if (Date.now() - started >= maxLifetimeMs) return close();
        } catch (error) {
          console.error(
            JSON.stringify({
              level: "warn",
              component: "web",
              message: "job event stream failed",
              jobId,
              error: String(error),
            }),
          );
          return close();
        }
        timer = setTimeout(() => void tick(), pollMs);
      };
      void tick();
    },
    cancel() {
      if (!closed) options.onClose?.();
      closed = true;
      if (timer) clearTimeout(timer);
    },
  });

  return new Response(stream, {
    headers: {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      "X-Accel-Buffering": "no",
    },
  });
}
