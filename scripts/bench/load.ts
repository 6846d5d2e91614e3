// npm run bench:load [-- --commits 256 --sleep 1 --seconds 20 --concurrency 100]
//
// Everything at once on this machine: the webhook benchmark (its own web server and database,
// --concurrency senders for --seconds) while two bisections run on the farm (two TLS runner
// hosts × 2 slots, one worker). Measured in one run, each against running alone:
//   - webhook p99 alone versus with the two bisections running;
//   - a bisection's wall time alone versus two at once under the webhook load.
import { spawn } from "node:child_process";
import { chmodSync } from "node:fs";
import { parseArgs } from "node:util";
import { Model } from "objection";
import { loadConfig } from "../../config/env";
import { BisectJob } from "../../db/models";
import { createJob } from "../../jobs/bisection/intake";
import { startWorker } from "../../jobs/worker";
import { registerHost } from "../../jobs/farm/hosts";
import { ensureImageEverywhere, tlsEngines } from "../../tests/helpers/engines";
import { generateRepo, linearHistory } from "./lib/repo-gen";
import { benchDatabase } from "./lib/bench-db";

const { values } = parseArgs({
  options: {
    commits: { type: "string", default: "256" },
    sleep: { type: "string", default: "1" },
    seconds: { type: "string", default: "20" },
    concurrency: { type: "string", default: "100" },
  },
});
const commits = Number(values.commits);
const command = `sleep ${Number(values.sleep)}; ! grep -q bad state.txt`;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const log = (message: string) => console.error(`[bench:load] ${message}`);

const { engines, problem } = await tlsEngines();
if (problem) throw new Error(problem);
log("runner image on both engines…");
await ensureImageEverywhere(engines);

const db = await benchDatabase("bisect_load");
const { url, knex } = db;
Model.knex(knex);
for (const e of engines)
  await registerHost(knex, {
    name: e.name,
    dockerEndpoint: e.endpoint,
    tlsPath: e.tlsPath,
    capacity: 2,
    source: "admin",
  });
const worker = await startWorker(
  loadConfig({
    DATABASE_URL: url,
    LOG_LEVEL: "error",
    WORKER_CONCURRENCY: "10",
    RUNNER_FETCH_NETWORK: "none",
  }),
  { registerEnvHost: false },
);

const culprit = Math.floor(commits * 0.61);
const repo = await generateRepo(linearHistory(commits), { culprit });
chmodSync(repo.dir, 0o755);

/** One bisection on the farm (all four slots), from queueing to its result. */
async function bisection(): Promise<{ wallMs: number; right: boolean }> {
  const started = Date.now();
  const { job } = await createJob(knex, {
    source: "cli",
    repoUrl: repo.dir,
    goodRef: repo.shas[0]!,
    badRef: repo.shas[commits - 1]!,
    command,
    options: { parallel: 4 },
  });
  for (;;) {
    const current = await BisectJob.query(knex).findById(job.id);
    if (current?.isFinal)
      return { wallMs: Date.now() - started, right: current.culpritSha === repo.shas[culprit] };
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The webhook benchmark at one concurrency; returns its p99 (ms) and the line it printed. */
function webhookBench(): Promise<{ p99: number; line: string; ok: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "scripts/bench/webhook.ts",
        "--seconds",
        values.seconds,
        "--concurrency",
        values.concurrency,
        "--resend",
        "0",
        "--warmup",
        "1",
      ],
      { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, DATABASE_URL: "" } },
    );
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.once("error", reject);
    child.once("exit", (code) => {
      const line = out.split("\n").find((l) => new RegExp(`^\\s+${values.concurrency}\\s`).test(l));
      if (!line) return reject(new Error(`bench:webhook printed no result:\n${out}`));
      const cols = line.trim().split(/\s+/);
      resolve({
        p99: Number(cols[4]),
        line: line.trim(),
        ok: code === 0 || /errors and duplicates: none/.test(out),
      });
    });
  });
}

await bisection(); // warm the mirrors
log("a bisection alone…");
const alone = await bisection();
log("the webhook benchmark alone…");
const webhookAlone = await webhookBench();
log("both at once: the webhook benchmark and two bisections…");
const [webhookLoaded, first, second] = await Promise.all([
  webhookBench(),
  bisection(),
  bisection(),
]);

await worker.stop();
console.log(
  `bench:load — ${commits}-commit repository, command: ${command}; farm: 2 hosts × 2 slots; webhook: ${values.concurrency} concurrent for ${values.seconds} s`,
);
console.log(
  `webhook p99 alone:                 ${webhookAlone.p99.toFixed(1)} ms   (${webhookAlone.line})`,
);
console.log(
  `webhook p99 with two bisections:   ${webhookLoaded.p99.toFixed(1)} ms   (${webhookLoaded.line})  ratio ${(webhookLoaded.p99 / webhookAlone.p99).toFixed(2)}`,
);
console.log(`bisection alone:                   ${secs(alone.wallMs)}`);
console.log(
  `two bisections under webhook load: ${secs(first.wallMs)} and ${secs(second.wallMs)}  ratio ${(Math.max(first.wallMs, second.wallMs) / alone.wallMs).toFixed(2)} (slowest / alone)`,
);
console.log(
  `culprits right: ${[alone, first, second].every((b) => b.right) ? "all" : "NOT ALL"}; webhook errors and duplicates: ${webhookAlone.ok && webhookLoaded.ok ? "none" : "FOUND"}`,
);

await repo.cleanup();
await db.drop();
process.exit(0);
