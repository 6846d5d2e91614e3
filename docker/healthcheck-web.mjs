// The web container's health check: /health must answer and report the database reachable.
// A 503 that only says the worker is down still counts as healthy here: the web process itself
// is fine, and restarting it would not bring a worker back.
const port = process.env.PORT || "3000";
const timeout = AbortSignal.timeout(4000);
try {
  const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: timeout });
  const health = await response.json();
  if (health.database !== "ok") {
    console.error(`unhealthy: database ${health.database}`);
    process.exit(1);
  }
} catch (error) {
  console.error(`unhealthy: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}
