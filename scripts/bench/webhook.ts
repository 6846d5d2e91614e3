// npm run bench:webhook [-- --seconds 20 --concurrency 10,50,100 --resend 300 --warmup 3]
//
// The real web server (build if stale, `node --import tsx server/web.ts`) on a fresh database
// (embedded PostgreSQL when DATABASE_URL is unset, migrated), with a generated GitHub App key and
// webhook secret. Signed `issue_comment` deliveries (half of them `/bisect` commands) are sent at
// increasing concurrency for --seconds in total, then some are sent again as redeliveries.
// Printed per phase: requests/s, p50/p99/max latency, errors. Checked: every delivery produced
// exactly one row, every `/bisect` delivery exactly one queued task, redeliveries none.
// Target: p99 < 50 ms at 100 concurrent deliveries, zero errors, zero duplicates.
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { cpus, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { createKnex, withDatabase } from "../../db/connection";
import { freePort } from "../../db/embedded";
import { spawnEmbeddedPostgres, type EmbeddedProcess } from "../../db/embedded-process";
import { migrateLatest } from "../../db/migrate";
import { issueCommentPayload, webhookHeaders } from "../../tests/github-stand-in/webhook";
import { buildIfStale as buildWhenStale } from "../lib/build";

const buildIfStale = () => buildWhenStale(log);

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "20" },
    concurrency: { type: "string", default: "10,50,100" },
    resend: { type: "string", default: "300" },
    warmup: { type: "string", default: "3" },
  },
});
const totalSeconds = Number(values.seconds);
const levels = values.concurrency.split(",").map(Number);
const resend = Number(values.resend);
const SECRET = randomBytes(24).toString("hex");

const log = (message: string) => console.error(`[bench:webhook] ${message}`);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
}

interface Delivery {
  id: string;
  body: string;
  bisect: boolean;
}

/**
 * One realistic payload (~9 KB, as GitHub sends for a comment) built once; each delivery swaps in
 * its own comment id, issue number and body, so the client spends its CPU on sending.
 */
const TEMPLATE = JSON.stringify(
  issueCommentPayload({
    action: "created",
    installationId: 4242,
    repo: { owner: "acme", name: "widgets", id: 700001 },
    issue: { number: 999_999, title: "Date parsing broke somewhere after v1.4.0" },
    comment: {
      id: 4_999_999_999,
      body: "@@BODY@@",
      user: { login: "alice", id: 9101 },
      author_association: "MEMBER",
    },
  }),
).split(/(4999999999|999999|"@@BODY@@")/);

let commentId = 4_000_000_000;
function makeDelivery(n: number): Delivery {
  const bisect = n % 2 === 0;
  const text = bisect
    ? `/bisect v1.4.0 main -- npm test -- -t "case ${n}"`
    : `Thanks, I can reproduce this (${n}).`;
  const id = String(++commentId);
  const issue = String(1 + (n % 500));
  const body = TEMPLATE.map((part) =>
    part === "4999999999"
      ? id
      : part === "999999"
        ? issue
        : part === '"@@BODY@@"'
          ? JSON.stringify(text)
          : part,
  ).join("");
  return { id: randomUUID(), body, bisect };
}

interface Phase {
  concurrency: number;
  latencies: number[];
  errors: number;
  statuses: Map<number, number>;
  seconds: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1000 });

/** POST one delivery over a kept-alive connection; resolves with the status code. */
function post(url: string, d: Delivery): Promise<number> {
  const target = new URL(url);
  const payload = Buffer.from(d.body);
  const headers = {
    ...webhookHeaders("issue_comment", d.id, d.body, SECRET),
    "content-length": String(payload.length),
  };
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers,
        agent,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

async function runPhase(
  url: string,
  concurrency: number,
  seconds: number,
  sent: Delivery[],
  counter: { n: number },
): Promise<Phase> {
  const phase: Phase = { concurrency, latencies: [], errors: 0, statuses: new Map(), seconds };
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const d = makeDelivery(counter.n++);
        const t0 = performance.now();
        let status = 0;
        try {
          status = await post(url, d);
        } catch {
          status = 0;
        }
        phase.latencies.push(performance.now() - t0);
        phase.statuses.set(status, (phase.statuses.get(status) ?? 0) + 1);
        if (status === 202 || status === 200) sent.push(d);
        else phase.errors++;
      }
    }),
  );
  phase.seconds = (performance.now() - started) / 1000;
  phase.latencies.sort((a, b) => a - b);
  return phase;
}

async function main(): Promise<number> {
  let embedded: EmbeddedProcess | null = null;
  let server: ChildProcess | null = null;
  let serverUrl = process.env.DATABASE_URL;
  const database = `bench_webhook_${randomBytes(4).toString("hex")}`;
  let dataDir: string | null = null;
  const cleanup = async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server!.once("exit", resolve));
      server.kill("SIGTERM");
      await exited;
    }
    if (serverUrl) {
      const admin = createKnex(serverUrl, { poolMax: 1 });
      await admin.raw(`drop database if exists ${database} with (force)`).catch(() => {});
      await admin.destroy();
    }
    await embedded?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    buildIfStale();
    if (!serverUrl) {
      dataDir = mkdtempSync(path.join(tmpdir(), "bench-webhook-pg-"));
      log("DATABASE_URL is unset: starting an embedded PostgreSQL");
      embedded = await spawnEmbeddedPostgres(dataDir, { persistent: false });
      serverUrl = embedded.url;
    }
    const admin = createKnex(serverUrl, { poolMax: 1 });
    await admin.raw(`create database ${database}`);
    await admin.destroy();
    const url = withDatabase(serverUrl, database);
    const knex = createKnex(url, { poolMax: 2 });
    await migrateLatest(knex, url);

    const { privateKey } = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      privateKeyEncoding: { type: "pkcs1", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: "production",
      PORT: String(port),
      HOST: "127.0.0.1",
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: "warn",
      DATABASE_URL: url,
      SESSION_SECRET: randomBytes(32).toString("hex"),
      ENCRYPTION_KEY: randomBytes(32).toString("base64"),
      GITHUB_APP_ID: "1001",
      GITHUB_APP_SLUG: "bisect-bot",
      GITHUB_APP_PRIVATE_KEY: privateKey,
      GITHUB_WEBHOOK_SECRET: SECRET,
      GITHUB_CLIENT_ID: "Iv23liBench",
      GITHUB_CLIENT_SECRET: randomBytes(20).toString("hex"),
      // Nothing may reach GitHub during a webhook request: point it nowhere.
      GITHUB_API_URL: "http://127.0.0.1:9/api/v3",
      GITHUB_URL: "http://127.0.0.1:9",
      // This client plays GitHub's delivery addresses: never rate limited, as GitHub is not.
      WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8,::1/128",
    };
    const profile = process.env.BENCH_CPU_PROF
      ? [`--cpu-prof`, `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
      : [];
    server = spawn(process.execPath, [...profile, "--import", "tsx", "server/web.ts"], {
      env,
      stdio: ["ignore", "ignore", "inherit"],
    });
    // Ready when it answers (its start-up line is an info log, below this run's log level).
    const exited = new Promise<never>((_, reject) =>
      server!.once("exit", (code) =>
        reject(new Error(`the web server exited with ${code} before listening`)),
      ),
    );
    const deadline = Date.now() + 60_000;
    while (
      !(await Promise.race([
        fetch(`http://127.0.0.1:${port}/favicon.svg`).then(
          (r) => r.ok,
          () => false,
        ),
        exited,
      ]))
    ) {
      if (Date.now() > deadline) throw new Error("the web server did not answer within 60 s");
      await new Promise((r) => setTimeout(r, 200));
    }
    const endpoint = `http://127.0.0.1:${port}/webhook`;
    log(`web server on ${endpoint}; ${cpus().length} CPUs; warming up`);

    const counter = { n: 0 };
    // Warm-up (JIT, connection pools), answered and checked but not measured.
    const warm: Delivery[] = [];
    await runPhase(endpoint, 10, Number(values.warmup), warm, counter);

    const sent: Delivery[] = [];
    const phases: Phase[] = [];
    for (const c of levels)
      phases.push(await runPhase(endpoint, c, totalSeconds / levels.length, sent, counter));

    // Redeliveries: the same X-GitHub-Delivery again (GitHub's manual redelivery).
    const again = sent
      .filter((_, i) => i % Math.max(1, Math.floor(sent.length / resend)) === 0)
      .slice(0, resend);
    const redeliveryStatuses = await Promise.all(again.map((d) => post(endpoint, d)));

    const all = [...warm, ...sent];
    const [{ rows: deliveries }] = [
      await knex.raw<{ rows: { id: string; redeliveries: number; status: string }[] }>(
        "select id, redeliveries, status from webhook_deliveries",
      ),
    ];
    const byId = new Map(deliveries.map((r) => [r.id, r]));
    const missing = all.filter((d) => !byId.has(d.id)).length;
    const extra = deliveries.length - all.length;
    const wrongStatus = all.filter(
      (d) => byId.get(d.id)?.status !== (d.bisect ? "received" : "ignored"),
    ).length;
    const { rows: tasks } = await knex.raw<{ rows: { delivery: string; n: number }[] }>(
      `select j.payload->>'deliveryId' as delivery, count(*)::int as n from graphile_worker._private_jobs j
         join graphile_worker._private_tasks t on t.id = j.task_id where t.identifier = 'github__handle_delivery' group by 1`,
    );
    const taskCount = new Map(tasks.map((t) => [t.delivery, t.n]));
    const duplicateTasks = tasks.filter((t) => t.n > 1).length;
    const bisects = all.filter((d) => d.bisect);
    const missingTasks = bisects.filter((d) => taskCount.get(d.id) !== 1).length;
    const tasksForIgnored = all.filter((d) => !d.bisect && taskCount.has(d.id)).length;
    const redeliveriesCounted = again.filter(
      (d) => (byId.get(d.id)?.redeliveries ?? 0) === 1,
    ).length;
    await knex.destroy();

    console.log(
      `bench:webhook — ${cpus().length} CPUs, PostgreSQL ${embedded ? "embedded" : "from DATABASE_URL"}, ${totalSeconds}s over concurrency ${levels.join(", ")}`,
    );
    console.log("concurrency  requests   req/s   p50 ms   p99 ms   max ms  errors");
    for (const p of phases) {
      console.log(
        `${String(p.concurrency).padStart(11)}  ${String(p.latencies.length).padStart(8)}  ${(p.latencies.length / p.seconds).toFixed(0).padStart(6)}  ${percentile(p.latencies, 50).toFixed(1).padStart(7)}  ${percentile(p.latencies, 99).toFixed(1).padStart(7)}  ${(p.latencies.at(-1) ?? NaN).toFixed(1).padStart(7)}  ${String(p.errors).padStart(6)}`,
      );
    }
    const errors = phases.reduce((sum, p) => sum + p.errors, 0);
    const badRedeliveries = redeliveryStatuses.filter((s) => s !== 200).length;
    console.log(
      `deliveries: ${all.length} sent and answered (incl. ${warm.length} warm-up), ${deliveries.length} rows; missing ${missing}, extra ${extra}, wrong status ${wrongStatus}`,
    );
    console.log(
      `tasks: ${tasks.length} github__handle_delivery for ${bisects.length} /bisect deliveries; missing ${missingTasks}, duplicated ${duplicateTasks}, for ignored comments ${tasksForIgnored}`,
    );
    console.log(
      `redeliveries: ${again.length} sent again → ${redeliveryStatuses.length - badRedeliveries} answered 200 duplicate, ${redeliveriesCounted} counted, no new row or task`,
    );
    const top = phases.at(-1)!;
    const p99 = percentile(top.latencies, 99);
    const correct =
      errors === 0 &&
      missing === 0 &&
      extra === 0 &&
      wrongStatus === 0 &&
      missingTasks === 0 &&
      duplicateTasks === 0 &&
      tasksForIgnored === 0 &&
      badRedeliveries === 0 &&
      redeliveriesCounted === again.length;
    console.log(
      `target p99 < 50 ms at ${top.concurrency} concurrent: ${p99 < 50 ? "met" : "NOT met"} (${p99.toFixed(1)} ms); errors and duplicates: ${correct ? "none" : "FOUND"}`,
    );
    return correct ? 0 : 1;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
