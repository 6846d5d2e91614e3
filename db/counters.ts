// Shared counters (metric_counters): any process adds, /metrics reads.
import type { Knex } from "knex";

export function labelKey(labels: Record<string, string | number>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(",");
}

export async function incrementCounter(
  knex: Knex,
  name: string,
  labels: Record<string, string | number> = {},
  by = 1,
): Promise<void> {
  await knex("metric_counters")
    .insert({ name, labels: labelKey(labels), value: by })
    .onConflict(["name", "labels"])
    .merge({ value: knex.raw("metric_counters.value + excluded.value"), updatedAt: knex.fn.now() });
}

export async function readCounters(
  knex: Knex,
  name: string,
): Promise<{ labels: Record<string, string>; value: number }[]> {
  const rows: { labels: string; value: number }[] = await knex("metric_counters")
    .where({ name })
    .select("labels", "value");
  return rows.map((r) => ({
    labels: Object.fromEntries(
      r.labels ? r.labels.split(",").map((pair) => pair.split("=") as [string, string]) : [],
    ),
    value: Number(r.value),
  }));
}
