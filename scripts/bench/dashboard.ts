// npm run bench:dashboard [-- --jobs 10000 --steps-per-job 10 --requests 200]
//
// The real web server (build if stale, `node --import tsx server/web.ts`, NODE_ENV=production)
// on a fresh database (embedded PostgreSQL when DATABASE_URL is unset, migrated) holding 10,000
// jobs and 100,000 steps (bulk-inserted with generate_series), and the GitHub stand-in for the
// sign-in and the user's installations. A session is made through the real OAuth flow, then
// sequential requests measure server rendering of /dashboard, of one job page, and of many
// different job pages (each the first view of its job), plus the server's resident memory.
// Targets: p95 < 50 ms for /dashboard and the job page; RSS < 200 MB.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { createKnex, withDatabase } from "../../db/connection";
import { freePort } from "../../db/embedded";
import { spawnEmbeddedPostgres, type EmbeddedProcess } from "../../db/embedded-process";
import { migrateLatest } from "../../db/migrate";
import { CookieJar } from "../../tests/dashboard/requests";
import { ACME, BOBCO, REPOS, seedInstallations, startWorld } from "../../tests/dashboard/world";
import { buildIfStale, startWebServer } from "../../tests/e2e/support";

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "10000" },
    "steps-per-job": { type: "string", default: "10" },
    requests: { type: "string", default: "200" },
    commits: { type: "string", default: "256" },
  },
});
const JOBS = Number(values.jobs);
const STEPS = Number(values["steps-per-job"]);
const REQUESTS = Number(values.requests);
const COMMITS = Number(values.commits);

const log = (message: string) => console.error(`[bench:dashboard] ${message}`);
const commitSha = (n: number) =>
  createHash("sha256").update(`commit ${n}`).digest("hex").slice(0, 40);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

/** A linear commit graph of n commits (good = commit 0) and a bisection of it, two probes a round. */
function bisection(n: number, culprit: number, steps: number) {
  const commits: Record<string, { parents: string[] }> = {};
  for (let i = 1; i <= n; i++) commits[commitSha(i)] = { parents: [commitSha(i - 1)] };
  const probes: Array<{ round: number; commit: number; verdict: "good" | "bad" }> = [];
  let lo = 1;
  let hi = n;
  for (let round = 1; probes.length < steps; round++) {
    const a = lo + Math.floor((hi - lo) / 3);
    const b = lo + Math.floor((2 * (hi - lo)) / 3);
    for (const c of [a, b])
      if (probes.length < steps)
        probes.push({ round, commit: c, verdict: c >= culprit ? "bad" : "good" });
    if (b < culprit) lo = b + 1;
    else if (a < culprit) [lo, hi] = [a + 1, b];
    else hi = a;
    if (lo >= hi) lo = Math.max(1, hi - 8);
  }
  return { graph: { good: commitSha(0), bad: commitSha(n), commits }, probes };
}

async function main(): Promise<void> {
  let embedded: EmbeddedProcess | null = null;
  let dataDir: string | null = null;
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    dataDir = mkdtempSync(path.join(tmpdir(), "bisect-bench-pg-"));
    log("DATABASE_URL is unset: starting an embedded PostgreSQL");
    embedded = await spawnEmbeddedPostgres(dataDir, { persistent: false });
    serverUrl = embedded.url;
  }
  const dbName = `bisect_bench_${randomBytes(4).toString("hex")}`;
  const admin = createKnex(serverUrl, { poolMax: 1 });
  await admin.raw(`create database ${dbName}`);
  await admin.destroy();
  const url = withDatabase(serverUrl, dbName);
  const knex = createKnex(url, { poolMax: 4 });
  let server: Awaited<ReturnType<typeof startWebServer>> | null = null;
  let world: Awaited<ReturnType<typeof startWorld>> | null = null;
  try {
    await migrateLatest(knex, url);
    buildIfStale();
    const port = await freePort();
    const base = `http://localhost:${port}`;
    world = await startWorld(base);
    await seedInstallations(knex, { acme: "pro", bobco: "free" });

    log(`inserting ${JOBS} jobs and ${JOBS * STEPS} steps`);
    const seedStarted = performance.now();
    const { graph, probes } = bisection(COMMITS, Math.floor(COMMITS * 0.37), STEPS);
    await knex.raw(
      `insert into bisect_jobs (installation_id, repository_id, source, issue_number, requester_login, requester_id,
                                good_ref, bad_ref, good_sha, bad_sha, command, options, graph, commit_count,
                                status, outcome, culprit_sha, rounds, started_at, finished_at, created_at)
       select case when g % 10 = 0 then ?::bigint else ?::bigint end,
              case when g % 10 = 0 then ?::bigint when g % 3 = 0 then ?::bigint else ?::bigint end,
              'github', 1 + g % 500, 'alice', 9101,
              'v1.' || (g % 50) || '.0', 'main', ?, ?,
              'npm test -- -t "case ' || g || '"', '{"parallel": 2}'::jsonb, ?::jsonb, ?::int,
              s.status,
              case when s.status = 'finished' then 'found' end,
              case when s.status = 'finished' then ?::char(40) end,
              ?::int, now() - (?::int - g) * interval '3 minutes',
              case when s.status in ('finished', 'failed', 'cancelled') then now() - (?::int - g) * interval '3 minutes' + interval '2 minutes' end,
              now() - (?::int - g) * interval '3 minutes'
         from generate_series(1, ?::int) g,
              lateral (select (array['finished','finished','finished','failed','cancelled','running','finished'])[1 + g % 7] as status) s`,
      [
        BOBCO.installationId,
        ACME.installationId,
        REPOS.tools.id,
        REPOS.gadgets.id,
        REPOS.widgets.id,
        graph.good,
        graph.bad,
        JSON.stringify(graph),
        COMMITS,
        commitSha(Math.floor(COMMITS * 0.37)),
        Math.ceil(STEPS / 2),
        JOBS,
        JOBS,
        JOBS,
        JOBS,
      ],
    );
    await knex.raw(
      `insert into bisect_steps (bisect_job_id, sha, round, attempt, status, verdict, exit_code, duration_ms, log_excerpt, started_at, finished_at)
       select j.id, p.sha::char(40), p.round, 1, 'done', p.verdict, case when p.verdict = 'good' then 0 else 1 end,
              20000 + (j.id * 7 + p.round * 13) % 40000,
              '$ npm test -- -t "case ' || j.id || E'"\\n' || repeat(E'  ✓ a passing test with a reasonably long name (12 ms)\\n', 10) ||
                case when p.verdict = 'bad' then E'  ✗ parses dates\\n    expected 2026-01-01 got 2025-12-31\\n' else '' end,
              j.created_at, j.created_at + interval '30 seconds'
         from bisect_jobs j
         cross join unnest(?::int[], ?::text[], ?::text[]) as p(round, sha, verdict)`,
      [
        probes.map((p) => p.round),
        probes.map((p) => commitSha(p.commit)),
        probes.map((p) => p.verdict),
      ],
    );
    const now = new Date();
    const months = Array.from({ length: 6 }, (_, k) =>
      new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - k, 1)).toISOString().slice(0, 10),
    );
    await knex("usageStats").insert(
      months.map((month, k) => ({
        installationId: ACME.installationId,
        month,
        jobs: 300 - k * 20,
        computeSeconds: 90_000 - k * 5000,
      })),
    );
    await knex.raw("analyze");
    const counts = await knex.raw<{ rows: Array<{ jobs: number; steps: number }> }>(
      "select (select count(*) from bisect_jobs)::int as jobs, (select count(*) from bisect_steps)::int as steps",
    );
    log(
      `seeded ${counts.rows[0]!.jobs} jobs, ${counts.rows[0]!.steps} steps in ${Math.round(performance.now() - seedStarted)} ms`,
    );

    server = await startWebServer(
      { ...world.env, NODE_ENV: "production", DATABASE_URL: url },
      port,
      "localhost",
    );
    const idle = memoryOf(server.child.pid!);

    // Sign in through the real flow.
    world.standIn.setOAuthUser("alice");
    const jar = new CookieJar();
    let next = `${base}/auth/github`;
    for (let hop = 0; hop < 6 && next; hop++) {
      const ours = next.startsWith(base);
      const res = await fetch(next, {
        redirect: "manual",
        headers: ours ? { Cookie: jar.header() } : {},
      });
      if (ours) jar.take(res);
      await res.arrayBuffer();
      const location = res.headers.get("Location");
      next = location ? new URL(location, next).toString() : "";
      if (next === `${base}/dashboard`) break;
    }
    if (!jar.names().some((n) => n.endsWith("bb_session")))
      throw new Error("signing in did not give a session cookie");

    const jobIds = (await knex("bisectJobs")
      .where({ installationId: ACME.installationId })
      .orderBy("id", "desc")
      .limit(REQUESTS + 1)
      .pluck("id")) as number[];
    const timed = async (label: string, urls: string[], mustContain: string) => {
      const times: number[] = [];
      for (const u of urls) {
        const started = performance.now();
        const res = await fetch(u, { headers: { Cookie: jar.header() }, redirect: "manual" });
        const body = await res.text();
        times.push(performance.now() - started);
        if (res.status !== 200 || !body.includes(mustContain))
          throw new Error(`${label}: ${u} answered ${res.status}`);
      }
      times.sort((a, b) => a - b);
      return {
        label,
        p50: percentile(times, 50),
        p95: percentile(times, 95),
        max: times[times.length - 1]!,
      };
    };
    const warm = (u: string) =>
      timed(
        "warm-up",
        Array.from({ length: 20 }, () => u),
        "<html",
      );
    await warm(`${base}/dashboard`);
    await warm(`${base}/dashboard/jobs/${jobIds[0]}`);

    const afterWarmUp = memoryOf(server.child.pid!);

    const rows = [
      await timed(
        "/dashboard",
        Array.from({ length: REQUESTS }, () => `${base}/dashboard`),
        "Recent jobs",
      ),
      await timed(
        "/dashboard?status=finished&before=…",
        Array.from(
          { length: REQUESTS },
          (_, i) => `${base}/dashboard?status=finished&before=${jobIds[i % jobIds.length]}`,
        ),
        "Recent jobs",
      ),
      await timed(
        `/dashboard/jobs/${jobIds[0]}`,
        Array.from({ length: REQUESTS }, () => `${base}/dashboard/jobs/${jobIds[0]}`),
        "The bisection",
      ),
      await timed(
        `job pages, ${REQUESTS} different jobs`,
        jobIds.slice(1, REQUESTS + 1).map((id) => `${base}/dashboard/jobs/${id}`),
        "The bisection",
      ),
      await timed(
        `/api/jobs/:id, ${REQUESTS} different jobs`,
        jobIds.slice(1, REQUESTS + 1).map((id) => `${base}/api/jobs/${id}`),
        '"steps"',
      ),
    ];
    const memory = memoryOf(server.child.pid!);

    console.log(
      `\nDashboard rendering: ${JOBS.toLocaleString("en-US")} jobs, ${(JOBS * STEPS).toLocaleString("en-US")} steps, ${COMMITS}-commit graphs, ${REQUESTS} sequential requests each`,
    );
    console.log(
      `${"request".padEnd(44)} ${"p50 ms".padStart(8)} ${"p95 ms".padStart(8)} ${"max ms".padStart(8)}`,
    );
    for (const r of rows)
      console.log(
        `${r.label.padEnd(44)} ${r.p50.toFixed(1).padStart(8)} ${r.p95.toFixed(1).padStart(8)} ${r.max.toFixed(1).padStart(8)}`,
      );
    console.log(
      `web server memory (RSS): ${idle.rss.toFixed(0)} MB started, ${afterWarmUp.rss.toFixed(0)} MB after warm-up, ` +
        `${memory.rss.toFixed(0)} MB at the end, peak ${memory.peak.toFixed(0)} MB`,
    );
    console.log(
      `load average: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")} (${cpus().length} CPUs)`,
    );
    console.log("\ntargets:");
    const dash = rows[0]!;
    const job = rows[2]!;
    const met = (ok: boolean) => (ok ? "met" : "MISSED");
    console.log(`  /dashboard p95 < 50 ms: ${dash.p95.toFixed(1)} ms ${met(dash.p95 < 50)}`);
    console.log(`  job page p95 < 50 ms: ${job.p95.toFixed(1)} ms ${met(job.p95 < 50)}`);
    console.log(`  RSS < 200 MB: ${memory.peak.toFixed(0)} MB peak ${met(memory.peak < 200)}`);
  } finally {
    await server?.stop();
    await world?.standIn.close();
    await knex.destroy();
    const dropper = createKnex(serverUrl, { poolMax: 1 });
    await dropper.raw(`drop database if exists ${dbName} with (force)`).catch(() => undefined);
    await dropper.destroy();
    await embedded?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
