// Recording webhook deliveries with group commit: deliveries that arrive while earlier ones are
// being written go to the database together, in ONE statement — each delivery row and its task
// in the same transaction, as before — so a burst costs a few commits instead of one per request.
// A lone delivery is written at once (no waiting for company). Nothing is answered before its
// row is committed.
import type { Knex } from "knex";
import { catalog } from "../jobs/catalog";

export interface DeliveryRow {
  id: string;
  event: string;
  action: string | null;
  installationId: number | null;
  /** The verified body (JSON text) for deliveries a task handles; null for ignored ones. */
  payload: string | null;
  status: "received" | "processed" | "ignored";
  /** Enqueue `task` for this delivery when its row is new. */
  enqueue: boolean;
}

interface Pending {
  row: DeliveryRow;
  resolve: (inserted: boolean) => void;
  reject: (error: unknown) => void;
}

/**
 * The whole batch: rows in (unnested arrays), each new row's task added with add_jobs, and for
 * every id whether its row is new (`xmax = 0`) or an existing one whose redeliveries were counted.
 */
const RECORD_SQL = `
  with input as (
    select * from unnest(?::text[], ?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::int[], ?::boolean[])
      as i(id, event, action, installation_id, payload, status, redeliveries, enqueue)
  ), delivery as (
    insert into webhook_deliveries as d (id, event, action, installation_id, payload, status, processed_at, redeliveries)
    select id, event, action, installation_id, payload::jsonb, status, case when status = 'received' then null else now() end, redeliveries
      from input
    on conflict (id) do update set redeliveries = d.redeliveries + excluded.redeliveries + 1
    returning d.id, (xmax = 0) as inserted
  ), specs as (
    select array_agg((?, json_build_object('deliveryId', delivery.id), null, null, ?::int, null, null, null)::graphile_worker.job_spec) as specs
      from delivery join input using (id)
     where delivery.inserted and input.enqueue
  ), queued as (
    select graphile_worker.add_jobs(specs) from specs where specs is not null
  )
  select delivery.id, delivery.inserted, (select count(*) from queued)::int as queued from delivery`;

export class DeliveryRecorder {
  private queue: Pending[] = [];
  private inFlight = 0;

  constructor(
    private readonly knex: Knex,
    readonly task: string,
    private readonly maxInFlight = 4,
    private readonly maxBatch = 200,
  ) {}

  /** Resolves true when the row is new (its task, if any, is queued), false for a redelivery. */
  record(row: DeliveryRow): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    try {
      const inserted = await this.write(batch.map((p) => p.row));
      // The first of several copies of one delivery in a batch is the one that may be new.
      const seen = new Set<string>();
      for (const p of batch) {
        const first = !seen.has(p.row.id);
        seen.add(p.row.id);
        p.resolve(first && inserted.get(p.row.id) === true);
      }
    } catch (error) {
      // A bad row (a data or constraint error) must not fail the others; anything else (the
      // database is unreachable) fails them all at once.
      const code = String((error as { code?: unknown }).code ?? "");
      if (batch.length === 1 || !/^2[23]/.test(code)) {
        for (const p of batch) p.reject(error);
        return;
      }
      // Write each on its own, in arrival order.
      for (const p of batch) {
        try {
          p.resolve((await this.write([p.row])).get(p.row.id) === true);
        } catch (e) {
          p.reject(e);
        }
      }
    }
  }

  private async write(rows: DeliveryRow[]): Promise<Map<string, boolean>> {
    // One row per id (ON CONFLICT cannot touch a row twice); extra copies count as redeliveries.
    const unique = new Map<string, { row: DeliveryRow; copies: number }>();
    for (const row of rows) {
      const entry = unique.get(row.id);
      if (entry) entry.copies++;
      else unique.set(row.id, { row, copies: 0 });
    }
    const list = [...unique.values()];
    const bindings = [
      list.map((e) => e.row.id),
      list.map((e) => e.row.event),
      list.map((e) => e.row.action),
      list.map((e) => e.row.installationId),
      list.map((e) => e.row.payload),
      list.map((e) => e.row.status),
      list.map((e) => e.copies),
      list.map((e) => e.row.enqueue),
      this.task,
      // The task's attempts, as the catalog queues it anywhere else.
      catalog.github__handle_delivery.maxAttempts,
    ];
    const { rows: result } = await this.knex.raw<{ rows: { id: string; inserted: boolean }[] }>(
      RECORD_SQL,
      bindings as unknown as Knex.RawBinding[],
    );
    return new Map(result.map((r) => [r.id, r.inserted]));
  }
}

const recorders = new WeakMap<Knex, DeliveryRecorder>();

/** The recorder of a connection pool (one per pool, so batches share its connections). */
export function recorderFor(knex: Knex, task: string): DeliveryRecorder {
  let recorder = recorders.get(knex);
  if (!recorder) {
    const poolMax =
      (knex.client as { config?: { pool?: { max?: number } } }).config?.pool?.max ?? 10;
    recorder = new DeliveryRecorder(knex, task, Math.max(1, Math.min(4, poolMax - 1)));
    recorders.set(knex, recorder);
  }
  return recorder;
}
