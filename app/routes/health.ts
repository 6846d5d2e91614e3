import { checkHealth, healthStatusCode } from "../health.server";
import { getConfig } from "../config.server";
import { getDb } from "../db.server";

// For monitors: 200 when a bisection can run (database, a live worker, a runner host that answers),
// 503 otherwise. The body says which part is missing.
export async function loader() {
  const health = await checkHealth(getDb(), getConfig().WORKER_DEAD_AFTER_SECONDS * 1000);
  return Response.json(health, {
    status: healthStatusCode(health),
    headers: { "Cache-Control": "no-store" },
  });
}
