// Stop signals: PostgreSQL notifies `bisect_stop` with a job's id the moment the job ends or one
// of its steps is cancelled (the triggers of migration 20261207000060). Each worker process hears
// them on one LISTEN connection of its own, and a running step asks at once whether its verdict
// still matters (step.ts) — a run made useless by another verdict gives its slot back in
// milliseconds, with no polling on the path. While the connection is down (a database restart),
// steps fall back to asking every second; once it is back, every step asks once, since signals
// sent meanwhile were lost.
import { EventEmitter } from "node:events";
import pg from "pg";

export const STOP_CHANNEL = "bisect_stop";
/** Every subscriber hears this one (the connection came back: anything may have happened). */
const EVERYONE = "*";
const RECONNECT_MS = 1_000;

export class StopSignals {
  /** Whether notifications are being heard right now. */
  listening = false;
  private client?: pg.Client;
  private readonly subscribers = new EventEmitter().setMaxListeners(0);
  private closed = false;
  private retry?: NodeJS.Timeout;

  constructor(
    private readonly url: string,
    private readonly onProblem: (message: string) => void = () => {},
  ) {}

  /** Connect and LISTEN; a failure is reported and retried in the background. */
  async start(): Promise<void> {
    await this.connect();
  }

  /** Calls `check` whenever a run of the job may have to stop; returns the unsubscribe. */
  onJob(jobId: number, check: () => void): () => void {
    const key = String(jobId);
    this.subscribers.on(key, check).on(EVERYONE, check);
    return () => {
      this.subscribers.off(key, check).off(EVERYONE, check);
    };
  }

  async stop(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    this.listening = false;
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({
      connectionString: this.url,
      application_name: "bisect-bot-stop-signals",
    });
    client.on("notification", (n) => {
      if (n.channel === STOP_CHANNEL && n.payload) this.subscribers.emit(n.payload);
    });
    client.on("error", (error) => this.lost(client, error));
    client.on("end", () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${STOP_CHANNEL}`);
      if (this.closed) {
        await client.end().catch(() => {});
        return;
      }
      this.client = client;
      this.listening = true;
      this.subscribers.emit(EVERYONE);
    } catch (error) {
      this.lost(client, error as Error);
    }
  }

  private lost(client: pg.Client, error?: Error): void {
    if (this.client === client) {
      this.client = undefined;
      this.listening = false;
    }
    if (this.closed || this.retry) return;
    if (error) this.onProblem(`stop signals: ${error.message}; listening again shortly`);
    void client.end().catch(() => {});
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.connect();
    }, RECONNECT_MS);
    this.retry.unref?.();
  }
}
