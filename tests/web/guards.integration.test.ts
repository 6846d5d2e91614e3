// The web process's guards against the real server: per-client rate limits (429 + Retry-After,
// GitHub's addresses exempt), /metrics and who may read it, request logs without secrets.
import { Model } from "objection";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { incrementCounter } from "../../db/counters";
import { BisectJob, BisectStep, RunnerHost } from "../../db/models";
import { useTestDatabase } from "../helpers/database";
import { onFreePort } from "../helpers/ports";
import { startWebServer, type WebServer } from "../e2e/support";

const db = useTestDatabase();

async function server(env: Record<string, string>): Promise<WebServer> {
  return onFreePort((port) =>
    startWebServer(
      {
        NODE_ENV: "production",
        DATABASE_URL: db.current.url,
        PUBLIC_URL: "http://127.0.0.1",
        SESSION_SECRET: "s".repeat(40),
        ENCRYPTION_KEY: Buffer.alloc(32, 1).toString("base64"),
        ...env,
      },
      port,
    ),
  );
}

describe("web guards", () => {
  let web: WebServer;
  beforeAll(async () => {
    Model.knex(db.current.knex);
    web = await server({
      LOG_LEVEL: "info",
      RATE_LIMIT_AUTH_PER_MINUTE: "3",
      RATE_LIMIT_API_PER_MINUTE: "3",
      RATE_LIMIT_WEBHOOK_PER_MINUTE: "2",
      WEBHOOK_ALLOWED_CIDRS: "192.30.252.0/22",
    });
  });
  afterAll(async () => {
    await web?.stop();
  });
  // Every server on one database counts together (tests/web/shared-limits): each test starts
  // with fresh windows.
  beforeEach(async () => {
    await db.current.knex("rate_limit_hits").delete();
  });

  it("limits sign-in attempts per client with 429 and Retry-After", async () => {
    // A server of its own: other tests here sign in too, and would use up this client's budget.
    const own = await server({ RATE_LIMIT_AUTH_PER_MINUTE: "3" });
    try {
      const statuses: number[] = [];
      let last: Response | undefined;
      for (let i = 0; i < 5; i++) {
        last = await fetch(`${own.url}/auth/github`, { redirect: "manual" });
        statuses.push(last.status);
      }
      expect(statuses.slice(0, 3).every((s) => s !== 429)).toBe(true);
      expect(statuses.slice(3)).toEqual([429, 429]);
      expect(Number(last!.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(await last!.json()).toMatchObject({ error: "rate_limited" });
    } finally {
      await own.stop();
    }
  });

  it("limits webhook senders outside GitHub's addresses", async () => {
    // A server of its own: other tests here post webhooks too.
    const own = await server({
      RATE_LIMIT_WEBHOOK_PER_MINUTE: "2",
      WEBHOOK_ALLOWED_CIDRS: "192.30.252.0/22",
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await fetch(`${own.url}/webhook`, { method: "POST", body: "{}" })).status);
      expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    } finally {
      await own.stop();
    }
  });

  it("limits refused deliveries from GitHub's addresses too (anyone can point a GitHub webhook at us)", async () => {
    const fromGitHub = await server({
      RATE_LIMIT_WEBHOOK_PER_MINUTE: "2",
      WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8",
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++)
        statuses.push(
          (await fetch(`${fromGitHub.url}/webhook`, { method: "POST", body: "{}" })).status,
        );
      expect(statuses.slice(0, 2)).not.toContain(429);
      expect(statuses.slice(2)).toEqual([429, 429]);
    } finally {
      await fromGitHub.stop();
    }
  });

  it("serves /metrics to private addresses with jobs, steps, queue, slots and GitHub errors", async () => {
    const host = await RunnerHost.query().insert({
      name: "h-metrics",
      dockerEndpoint: "unix:///x",
      capacity: 3,
    });
    const job = await BisectJob.query().insert({
      source: "cli",
      repoUrl: "/r",
      goodRef: "a",
      badRef: "b",
      command: "true",
      status: "running",
    });
    await BisectStep.query().insert({
      bisectJobId: job.id,
      sha: "a".repeat(40),
      round: 1,
      status: "done",
      verdict: "bad",
      durationMs: 12_000,
      runnerHostId: host.id,
    });
    await incrementCounter(db.current.knex, "github_api_errors", { status: 502 });
    await incrementCounter(db.current.knex, "jobs_abandoned", { cause: "watchdog" });
    await fetch(`${web.url}/webhook`, { method: "POST", body: "{}" });
    const text = await (await fetch(`${web.url}/metrics`)).text();
    expect(text).toMatch(/^bisect_jobs\{status="running"\} 1$/m);
    expect(text).toMatch(/^bisect_steps\{verdict="bad"\} 1$/m);
    expect(text).toMatch(/^bisect_step_duration_seconds_bucket\{le="15"\} 1$/m);
    expect(text).toMatch(/^bisect_step_duration_seconds_bucket\{le="5"\} 0$/m);
    expect(text).toMatch(/^bisect_runner_slots\{host="h-metrics",kind="capacity"\} 3$/m);
    expect(text).toMatch(/^bisect_queue_jobs\{state="pending"\} \d+$/m);
    expect(text).toMatch(/^bisect_github_api_errors_total\{status="502"\} 1$/m);
    expect(text).toMatch(/^bisect_jobs_abandoned_total\{cause="watchdog"\} 1$/m);
    expect(text).toMatch(/^bisect_webhook_request_duration_seconds_count\{status="\d+"\} [1-9]/m);
  });

  it("asks for the token when METRICS_TOKEN is set", async () => {
    const guarded = await server({ METRICS_TOKEN: "metrics-token-0123456789" });
    try {
      expect((await fetch(`${guarded.url}/metrics`)).status).toBe(404);
      expect(
        (
          await fetch(`${guarded.url}/metrics`, {
            headers: { authorization: "Bearer metrics-token-0123456789" },
          })
        ).status,
      ).toBe(200);
    } finally {
      await guarded.stop();
    }
  });

  it("limits the JSON API per client address, whatever cookie each request carries", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${web.url}/api/jobs/1`, {
        headers: { cookie: `bb_session=forged-${i}` },
      });
      statuses.push(res.status);
      await res.body?.cancel();
    }
    expect(statuses.slice(3)).toEqual([429, 429]);
  });

  it("limits the dashboard per client address", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${web.url}/dashboard`, { redirect: "manual" });
      statuses.push(res.status);
      await res.body?.cancel();
    }
    expect(statuses.slice(0, 3)).not.toContain(429);
    expect(statuses.slice(3)).toEqual([429, 429]);
  });

  it("reports runner hosts on /health as counts only: no names or errors in public", async () => {
    await RunnerHost.query().insert({
      name: "h-health",
      dockerEndpoint: "unix:///x",
      capacity: 1,
      state: "down",
      lastError: "connect ECONNREFUSED 10.1.2.3:2376",
    });
    const text = await (await fetch(`${web.url}/health`)).text();
    expect(JSON.parse(text).runners.down).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain("h-health");
    expect(text).not.toContain("10.1.2.3");
  });

  it("logs requests as JSON lines without query strings", async () => {
    await fetch(`${web.url}/auth/github/callback?code=very-secret-oauth-code&state=x`, {
      redirect: "manual",
    });
    await new Promise((r) => setTimeout(r, 200));
    const lines = web
      .output()
      .split("\n")
      .filter((l) => l.startsWith("{"));
    const entry = lines.map((l) => JSON.parse(l)).find((e) => e.path === "/auth/github/callback");
    expect(entry, web.output().slice(-2000)).toMatchObject({
      level: "info",
      component: "web",
      message: "request",
      method: "GET",
    });
    expect(web.output()).not.toContain("very-secret-oauth-code");
  });
});
