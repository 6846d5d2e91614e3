// /metrics in Prometheus' text format. What lives in the database (jobs, steps, the queue, slots,
// counters written by workers) is read at scrape time, so every web process reports the same
// figures; what one process measures itself (request latency) comes from its own registry.
import type { Knex } from "knex";
import { Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { readCounters } from "../db/counters";
import { ABANDONED_COUNTER } from "../jobs/farm/give-up";

/** Step durations, seconds: what the histogram's buckets count. */
export const STEP_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];

export interface WebMetrics {
  registry: Registry;
  /** Webhook request latency, seconds, by response status. */
  webhookDuration: Histogram<"status">;
  /** The whole exposition text. */
  render(): Promise<string>;
}

export function createWebMetrics(knex: Knex): WebMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "bisect_web_" });

  const webhookDuration = new Histogram({
    name: "bisect_webhook_request_duration_seconds",
    help: "Time to answer a webhook delivery",
    labelNames: ["status"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    collect: (g: Gauge<string>) => Promise<void>,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        await collect(this);
      },
    });

  gauge("bisect_jobs", "Bisection jobs by status", ["status"], async (g) => {
    for (const r of await knex("bisect_jobs")
      .select("status")
      .count<{ status: string; count: number }[]>("* as count")
      .groupBy("status")) {
      g.set({ status: r.status }, Number(r.count));
    }
  });
  gauge("bisect_steps", "Finished runs by verdict", ["verdict"], async (g) => {
    const rows = await knex("bisect_steps")
      .whereNotNull("verdict")
      .select("verdict")
      .count<{ verdict: string; count: number }[]>("* as count")
      .groupBy("verdict");
    for (const r of rows) g.set({ verdict: r.verdict }, Number(r.count));
  });
  gauge(
    "bisect_queue_jobs",
    "Graphile Worker jobs by state (pending, running, failing)",
    ["state"],
    async (g) => {
      const { rows } = await knex.raw(
        `select count(*) filter (where locked_at is null and last_error is null) as pending,
              count(*) filter (where locked_at is not null) as running,
              count(*) filter (where locked_at is null and last_error is not null) as failing
         from graphile_worker._private_jobs`,
      );
      for (const state of ["pending", "running", "failing"])
        g.set({ state }, Number(rows[0]?.[state] ?? 0));
    },
  );
  gauge(
    "bisect_runner_slots",
    "Slots of each runner host: capacity and in use",
    ["host", "kind"],
    async (g) => {
      const rows = await knex("runner_hosts as h")
        .leftJoin("runner_leases as l", (j) =>
          j
            .on("l.runnerHostId", "h.id")
            .onNull("l.releasedAt")
            .andOn("l.expiresAt", ">", knex.raw("now()")),
        )
        .groupBy("h.id", "h.name", "h.capacity")
        .select("h.name", "h.capacity")
        .count<{ name: string; capacity: number; count: number }[]>("l.id as count");
      for (const r of rows) {
        g.set({ host: r.name, kind: "capacity" }, Number(r.capacity));
        g.set({ host: r.name, kind: "in_use" }, Number(r.count));
      }
    },
  );
  gauge(
    "bisect_runner_host_up",
    "1 when a runner host is active, 0 when down or draining",
    ["host", "state"],
    async (g) => {
      for (const r of await knex("runner_hosts").select("name", "state"))
        g.set({ host: r.name, state: r.state }, r.state === "active" ? 1 : 0);
    },
  );
  gauge(
    "bisect_github_api_errors_total",
    "Failed GitHub API calls by HTTP status (counted by workers)",
    ["status"],
    async (g) => {
      for (const c of await readCounters(knex, "github_api_errors"))
        g.set({ status: c.labels.status ?? "unknown" }, c.value);
    },
  );

  gauge(
    "bisect_jobs_abandoned_total",
    "Jobs concluded as failed because a task ran out of attempts, or by the watchdog (cause: the task, or watchdog)",
    ["cause"],
    async (g) => {
      for (const c of await readCounters(knex, ABANDONED_COUNTER))
        g.set({ cause: c.labels.cause ?? "unknown" }, c.value);
    },
  );

  return {
    registry,
    webhookDuration,
    render: async () => (await registry.metrics()) + (await stepDurationHistogram(knex)),
  };
}

/** The step duration histogram, from all recorded runs (a histogram derived from rows, written out). */
async function stepDurationHistogram(knex: Knex): Promise<string> {
  const columns = STEP_DURATION_BUCKETS.map(
    (b, i) => `count(*) filter (where duration_ms <= ${b * 1000}) as b${i}`,
  ).join(", ");
  const { rows } = await knex.raw(
    `select ${columns}, count(*) as n, coalesce(sum(duration_ms), 0) as total from bisect_steps where duration_ms is not null`,
  );
  const row = rows[0] ?? {};
  const name = "bisect_step_duration_seconds";
  const lines = [
    `# HELP ${name} Run time of the test command in each recorded run`,
    `# TYPE ${name} histogram`,
  ];
  STEP_DURATION_BUCKETS.forEach((b, i) =>
    lines.push(`${name}_bucket{le="${b}"} ${Number(row[`b${i}`] ?? 0)}`),
  );
  lines.push(
    `${name}_bucket{le="+Inf"} ${Number(row.n ?? 0)}`,
    `${name}_sum ${Number(row.total ?? 0) / 1000}`,
    `${name}_count ${Number(row.n ?? 0)}`,
  );
  return lines.join("\n") + "\n";
}
