// npm run bench:webhook [-- --seconds 8 --concurrency 100 --processes 1,2 --runs 3 --resend 300 --warmup 2]
//
// The real web server (build if stale, `node --import tsx server/web.ts`, WEB_PROCESSES as given)
// on a fresh database (embedded PostgreSQL when DATABASE_URL is unset, migrated), with a generated
// GitHub App key and webhook secret. Signed `issue_comment` deliveries (half of them `/bisect`
// commands) are sent by a closed loop of senders at each concurrency for --seconds, then some are
// sent again as redeliveries. Each run measures, one after the other, a baseline — a bare Node
// HTTP server that reads the body and answers 202, which is what this machine gives any server
// right now — and the web server with each process count; the ratio of each p99 to the
// baseline's in the same run shows the product's own cost whatever else the machine is doing.
// Printed per run and configuration: requests/s, p50/p99/max latency, errors, the server's CPU
// time per request (its processes' user + system time from /proc: what a request costs, however
// busy the machine is), load average; then the medians over the runs. --before DIR adds another
// built checkout (e.g. the previous version) as one more configuration. Checked: every delivery produced exactly one row, every `/bisect`
// delivery exactly one queued task, redeliveries none.
// Target: p99 < 50 ms at 100 concurrent deliveries, zero errors, zero duplicates.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
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
    seconds: { type: "string", default: "8" },
    concurrency: { type: "string", default: "100" },
    processes: { type: "string", default: "1,2" },
    runs: { type: "string", default: "3" },
    resend: { type: "string", default: "300" },
    warmup: { type: "string", default: "2" },
    // Another checkout of the product (built), measured as one more configuration: before/after.
    before: { type: "string" },
  },
});
const phaseSeconds = Number(values.seconds);
const levels = values.concurrency.split(",").map(Number);
const processCounts = values.processes.split(",").map(Number);
const runs = Number(values.runs);
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

/** A bare Node HTTP server: reads the body, answers 202 with a small JSON body. */
const BASELINE_SERVER = `
const http = require("node:http");
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    Buffer.concat(chunks);
    res.writeHead(202, { "content-type": "application/json" });
    res.end(JSON.stringify({ status: "queued", delivery: req.headers["x-github-delivery"] }));
  });
});
server.keepAliveTimeout = 65000;
server.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
`;

/**
 * CPU time (user + system, ms) used so far by a process and its descendants (the web processes
 * of a cluster), from /proc: what a request costs the server, whatever else the machine runs.
 */
function cpuMsOfTree(root: number): number {
  const parents = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the command name (which may hold spaces) in parentheses.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parents.set(Number(entry), Number(fields[1]));
      ticks.set(Number(entry), Number(fields[11]) + Number(fields[12]));
    } catch {
      // The process ended meanwhile.
    }
  }
  let total = 0;
  for (const [pid, t] of ticks) {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parents.get(p)) {
      if (p === root) {
        total += t;
        break;
      }
    }
  }
  return total * (1000 / CLOCK_TICKS);
}
const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;

interface Server {
  url: string;
  /** CPU ms used by the server's processes so far. */
  cpuMs(): number;
  stop(): Promise<void>;
}

/** Starts `args` with `env` and waits until GET `probe` answers (or the process exits). */
async function startServer(
  args: string[],
  env: NodeJS.ProcessEnv,
  port: number,
  cwd?: string,
): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd,
    env: { ...env, PORT: String(port) },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) =>
      reject(new Error(`the server exited with ${code} before listening`)),
    ),
  );
  const deadline = Date.now() + 60_000;
  try {
    while (
      !(await Promise.race([
        fetch(`http://127.0.0.1:${port}/favicon.svg`).then(
          (r) => r.status < 500,
          () => false,
        ),
        exited,
      ]))
    ) {
      if (Date.now() > deadline) throw new Error("the server did not answer within 60 s");
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${port}/webhook`, cpuMs: () => cpuMsOfTree(child.pid!), stop };
}

interface Measured {
  config: string;
  phases: Phase[];
  load: [number, number];
  /** Server CPU ms per request over the measured phases. */
  cpuPerRequest: number;
}

async function main(): Promise<number> {
  let embedded: EmbeddedProcess | null = null;
  let server: Server | null = null;
  let serverUrl = process.env.DATABASE_URL;
  const database = `bench_webhook_${randomBytes(4).toString("hex")}`;
  let dataDir: string | null = null;
  const cleanup = async () => {
    await server?.stop();
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
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: "production",
      HOST: "127.0.0.1",
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
    const configs: {
      name: string;
      recorded: boolean;
      args: string[];
      extra: Record<string, string>;
      cwd?: string;
    }[] = [
      { name: "baseline", recorded: false, args: ["-e", BASELINE_SERVER], extra: {} },
      ...(values.before
        ? [
            {
              name: "before ×1",
              recorded: true,
              args: ["--import", "tsx", "server/web.ts"],
              extra: {},
              cwd: path.resolve(values.before),
            },
          ]
        : []),
      ...processCounts.map((n) => ({
        name: `web ×${n}`,
        recorded: true,
        args: [...profile, "--import", "tsx", "server/web.ts"],
        extra: { WEB_PROCESSES: String(n) },
      })),
    ];
    log(
      `${cpus().length} CPUs; ${runs} runs of ${configs.map((c) => c.name).join(", ")}; ${phaseSeconds} s per concurrency`,
    );

    const counter = { n: 0 };
    const sent: Delivery[] = [];
    const results: Measured[][] = [];
    for (let run = 1; run <= runs; run++) {
      const measured: Measured[] = [];
      for (const config of configs) {
        const port = await freePort();
        server = await startServer(
          config.args,
          { ...env, ...config.extra, PUBLIC_URL: `http://127.0.0.1:${port}` },
          port,
          config.cwd,
        );
        // Warm-up (JIT, connection pools, and every sender's kept-alive connection), answered and
        // checked but not measured. Connections opened during a measured phase would be measured
        // too: on a saturated server, a new connection waits behind the busy ones for seconds.
        const mine: Delivery[] = [];
        await runPhase(server.url, Math.max(...levels), Number(values.warmup), mine, counter);
        const phases: Phase[] = [];
        const before = loadavg()[0]!;
        const cpuBefore = server.cpuMs();
        for (const c of levels)
          phases.push(await runPhase(server.url, c, phaseSeconds, mine, counter));
        const requests = phases.reduce((sum, p) => sum + p.latencies.length, 0);
        measured.push({
          config: config.name,
          phases,
          load: [before, loadavg()[0]!],
          cpuPerRequest: (server.cpuMs() - cpuBefore) / requests,
        });
        if (config.recorded) sent.push(...mine);
        const last = run === runs && config === configs.at(-1);
        if (!last) {
          await server.stop();
          server = null;
        }
      }
      results.push(measured);
      log(`run ${run}/${runs} done`);
    }

    // Redeliveries (to the last server): the same X-GitHub-Delivery again (a manual redelivery).
    const endpoint = server!.url;
    const again = sent
      .filter((_, i) => i % Math.max(1, Math.floor(sent.length / resend)) === 0)
      .slice(0, resend);
    const redeliveryStatuses = await Promise.all(again.map((d) => post(endpoint, d)));

    const all = sent;
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

    const median = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      const mid = Math.floor(sorted.length / 2);
      return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    };
    console.log(
      `bench:webhook — ${cpus().length} CPUs, PostgreSQL ${embedded ? "embedded" : "from DATABASE_URL"}, ${runs} runs, ${phaseSeconds} s per concurrency, closed loop`,
    );
    console.log(
      "run  configuration  concurrency  requests   req/s   p50 ms   p99 ms   max ms  errors  p99/baseline  CPU ms/req  load 1 min",
    );
    let errors = 0;
    for (const [i, measured] of results.entries()) {
      const base = measured[0]!;
      for (const m of measured) {
        for (const [k, p] of m.phases.entries()) {
          if (m.config !== "baseline") errors += p.errors;
          const p99 = percentile(p.latencies, 99);
          const ratio = p99 / percentile(base.phases[k]!.latencies, 99);
          console.log(
            `${String(i + 1).padStart(3)}  ${m.config.padEnd(13)}  ${String(p.concurrency).padStart(11)}  ${String(p.latencies.length).padStart(8)}  ${(p.latencies.length / p.seconds).toFixed(0).padStart(6)}  ${percentile(p.latencies, 50).toFixed(1).padStart(7)}  ${p99.toFixed(1).padStart(7)}  ${(p.latencies.at(-1) ?? NaN).toFixed(1).padStart(7)}  ${String(p.errors).padStart(6)}  ${ratio.toFixed(2).padStart(12)}  ${m.cpuPerRequest.toFixed(3).padStart(10)}  ${m.load[0].toFixed(1)}→${m.load[1].toFixed(1)}`,
          );
        }
      }
    }
    const top = levels.length - 1;
    console.log(`medians over ${runs} runs at ${levels[top]} concurrent:`);
    for (const [j, config] of configs.entries()) {
      const p50 = median(results.map((r) => percentile(r[j]!.phases[top]!.latencies, 50)));
      const p99s = results.map((r) => percentile(r[j]!.phases[top]!.latencies, 99));
      const ratios = results.map(
        (r) =>
          percentile(r[j]!.phases[top]!.latencies, 99) /
          percentile(r[0]!.phases[top]!.latencies, 99),
      );
      const cpu = results.map((r) => r[j]!.cpuPerRequest);
      const cpuRatio = median(results.map((r) => r[j]!.cpuPerRequest / r[0]!.cpuPerRequest));
      console.log(
        `  ${config.name.padEnd(13)} p50 ${p50.toFixed(1)} ms, p99 ${median(p99s).toFixed(1)} ms (runs: ${p99s.map((x) => x.toFixed(1)).join(", ")}), p99/baseline ${median(ratios).toFixed(2)}; server CPU ${median(cpu).toFixed(3)} ms/request (runs: ${cpu.map((x) => x.toFixed(3)).join(", ")}), ${cpuRatio.toFixed(1)}× the baseline's`,
      );
    }
    const badRedeliveries = redeliveryStatuses.filter((s) => s !== 200).length;
    console.log(
      `deliveries: ${all.length} sent to the web server and answered (incl. warm-ups), ${deliveries.length} rows; missing ${missing}, extra ${extra}, wrong status ${wrongStatus}`,
    );
    console.log(
      `tasks: ${tasks.length} github__handle_delivery for ${bisects.length} /bisect deliveries; missing ${missingTasks}, duplicated ${duplicateTasks}, for ignored comments ${tasksForIgnored}`,
    );
    console.log(
      `redeliveries: ${again.length} sent again → ${redeliveryStatuses.length - badRedeliveries} answered 200 duplicate, ${redeliveriesCounted} counted, no new row or task`,
    );
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
    const best = Math.min(
      ...configs
        .slice(1)
        .map((_, j) =>
          median(results.map((r) => percentile(r[j + 1]!.phases[top]!.latencies, 99))),
        ),
    );
    console.log(
      `target p99 < 50 ms at ${levels[top]} concurrent (median of runs, best configuration): ${best < 50 ? "met" : "NOT met"} (${best.toFixed(1)} ms); errors and duplicates: ${correct ? "none" : "FOUND"}`,
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
