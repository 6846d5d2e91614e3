// The live-update stream of a job page (text/event-stream). The server polls the job's version
// (job and steps' updated_at) every second and sends `update` when it changed, `end` once the job
// is final, and then closes. It also closes when the client goes away and after a maximum
// lifetime (the browser's EventSource reconnects, and the session is checked again).
import { isFinalStatus, jobVersion } from "./dashboard.server";

export interface StreamOptions {
  pollMs?: number;
  heartbeatMs?: number;
  maxLifetimeMs?: number;
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
