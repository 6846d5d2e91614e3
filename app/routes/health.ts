import { checkHealth } from "~/health.server";
import { getConfig } from "~/config.server";
import { getDb } from "~/db.server";

// 200 when the database and a worker are alive (runners may be degraded), 503 otherwise.
export async function loader() {
  const health = await checkHealth(getDb(), getConfig().WORKER_DEAD_AFTER_SECONDS * 1000);
  return Response.json(health, {
    status: health.status === "down" ? 503 : 200,
    headers: { "Cache-Control": "no-store" },
  });
}
