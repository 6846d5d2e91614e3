// Several web processes on one database hold one set of rate limits: the counts are rows, not
// process memory. Two real web servers (two processes, one database), and one server running two
// processes (WEB_PROCESSES=2).
import { afterEach, describe, expect, it } from "vitest";
import { useTestDatabase } from "../helpers/database";
import { onFreePort } from "../helpers/ports";
import { startWebServer, type WebServer } from "../e2e/support";

const db = useTestDatabase();
const started: WebServer[] = [];

async function server(env: Record<string, string>): Promise<WebServer> {
  const web = await onFreePort((port) =>
    startWebServer(
      {
        NODE_ENV: "production",
        DATABASE_URL: db.current.url,
        PUBLIC_URL: "http://127.0.0.1",
        SESSION_SECRET: "s".repeat(40),
        ENCRYPTION_KEY: Buffer.alloc(32, 1).toString("base64"),
        GITHUB_APP_ID: "1001",
        GITHUB_APP_SLUG: "bisect-bot",
        GITHUB_WEBHOOK_SECRET: "w".repeat(32),
        GITHUB_CLIENT_ID: "Iv23liShared",
        GITHUB_CLIENT_SECRET: "c".repeat(40),
        ...env,
      },
      port,
    ),
  );
  started.push(web);
  return web;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.stop()));
  await db.current.knex("rate_limit_hits").delete();
});

const get = async (url: string) => {
  const res = await fetch(url, { redirect: "manual" });
  await res.body?.cancel();
  return res.status;
};

/** A delivery with a well-formed but wrong signature: refused with 401. */
const forged = (url: string) =>
  fetch(`${url}/webhook`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "ping",
      "x-github-delivery": crypto.randomUUID(),
      "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
    },
    body: "{}",
  }).then(async (res) => {
    await res.body?.cancel();
    return res.status;
  });

describe("rate limits across web processes", () => {
  it("two web servers on one database let a client through its limit once, not once each", async () => {
    const env = { RATE_LIMIT_API_PER_MINUTE: "4" };
    const [a, b] = await Promise.all([server(env), server(env)]);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push(await get(`${[a, b][i % 2]!.url}/api/jobs/1`));
    expect(statuses.filter((s) => s !== 429)).toHaveLength(4);
    expect(statuses.slice(4)).toEqual([429, 429, 429, 429]);
  });

  it("refused deliveries counted by one server close the webhook on the other too", async () => {
    // 127.0.0.1 plays GitHub's addresses: only refusals count against it.
    const env = { RATE_LIMIT_WEBHOOK_PER_MINUTE: "3", WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8" };
    const [a, b] = await Promise.all([server(env), server(env)]);
    expect([await forged(a.url), await forged(b.url), await forged(a.url)]).toEqual([
      401, 401, 401,
    ]);
    // The one that counted the third refusal closes at once...
    expect(await forged(a.url)).toBe(429);
    // ...and the other as soon as it reads the shared counts (about a second).
    const deadline = Date.now() + 15_000;
    let last = 0;
    while (Date.now() < deadline && (last = await forged(b.url)) !== 429)
      await new Promise((r) => setTimeout(r, 100));
    expect(last).toBe(429);
    const { hits } = await db.current
      .knex("rate_limit_hits")
      .where({ key: "webhook-refused:127.0.0.1" })
      .first();
    // Refusals that passed on b before it learned of the limit are counted as well.
    expect(hits).toBeGreaterThanOrEqual(3);
  });

  it("one server running two web processes holds the limit across both", async () => {
    const web = await server({ WEB_PROCESSES: "2", RATE_LIMIT_API_PER_MINUTE: "3" });
    // A new connection per request: the primary hands connections to both processes in turn.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${web.url}/api/jobs/1`, { headers: { connection: "close" } });
      await res.body?.cancel();
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 3)).not.toContain(429);
    expect(statuses.slice(3)).toEqual([429, 429, 429]);
  });
});
