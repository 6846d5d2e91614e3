// npm run bench:bisect [-- --commits 1024 --seed 42 --parallel 1,4 --sleep 1 --plain --endpoints both]
//
// A linear repository of N commits (git fast-import) with the first bad commit at a seeded random
// position; the test command sleeps, then checks a file. Measured in one run:
//   - `git bisect run` locally (the baseline),
//   - runBisection with the Docker executor at each --parallel (endpoints verified, as the CLI does),
//     once creating every container on the run's path (cold) and once with a warm pool of
//     --parallel containers (as the CLI did), filled before the clock starts (its fill time is
//     printed), and at the largest --parallel also with the pool started on the clock, as the
//     CLI's first round saw it, and in sandboxes made by the first runs and handed every later
//     commit by exec, as the CLI and the farm run now (on the clock), with the CLI's endpoint
//     checks (at --parallel 1 only when the answer rests on them).
// Printed: wall time, ratio to the baseline, rounds, steps, and per-run overhead = the run's wall
// time from `prepare` (cold: container create; warm: taking a warm container) until removed,
// minus the command's own sleep (checkout included).
// Targets: parallel 4 with the warm pool ≤ 0.6 × baseline; median overhead ≤ 500 ms. Also
// printed: the engine's own floor (a bare container create → removed, one and k at a time) and the
// load average, which explain most of the cold overhead. --plain adds the largest --parallel
// without gathering/cancelling (cold).
// Endpoint checks: every mode tests the good and bad revisions as the CLI does, alongside the
// first probes (--endpoints alongside); --endpoints first runs them before the probes (the old
// way), --endpoints both (default) adds an "endpoints first" row per --parallel with the warm pool.
// Printed per mode: the fixed cost per bisection, in runs (endpoint runs that started before the
// first probe, i.e. a round of their own) and in seconds (from the start to the first probe's
// start, plus from the last probe's result to the answer).
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import type Docker from "dockerode";
import { runBisection, type BisectionResult } from "../../runner/bisection/run-bisection";
import { defaultEndpointChecks, endpointPolicy } from "../../runner/cli/args";
import { connectDocker, parseEndpoint, pingEngine } from "../../runner/docker/connect";
import { DockerExecutor } from "../../runner/executors/docker-executor";
import { defaultLimits, type RunSpec } from "../../runner/executors/types";
import { listCommitGraph } from "../../runner/git/graph";
import { ensureRunnerImage } from "../../runner/image";
import { engineFloor, type EngineFloor } from "./lib/engine-floor";
import { gitBisect } from "./lib/git-bisect";
import { generateRepo, linearHistory, seededRandom } from "./lib/repo-gen";
import { median, percentile, TimingExecutor, type RunTiming } from "./lib/timing-executor";

const { values } = parseArgs({
  options: {
    commits: { type: "string", default: "1024" },
    seed: { type: "string", default: "42" },
    parallel: { type: "string", default: "1,4" },
    sleep: { type: "string", default: "1" },
    "docker-host": { type: "string" },
    /** Also run the largest --parallel without gathering and cancelling (plain pipelining), for comparison. */
    plain: { type: "boolean", default: false },
    /** alongside (as the CLI does), first (the old way, endpoints before the probes), or both. */
    endpoints: { type: "string", default: "both" },
  },
});
if (!["alongside", "first", "both"].includes(values.endpoints))
  throw new Error("--endpoints must be alongside, first or both");
const commits = Number(values.commits);
const seed = Number(values.seed);
const sleepSeconds = Number(values.sleep);
const parallels = values.parallel.split(",").map(Number);
const command = `sleep ${sleepSeconds}; ! grep -q bad state.txt`;

const endpoint = values["docker-host"] ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
const certDir = process.env.DOCKER_CERT_PATH || process.env.BISECT_ENGINE_CERTS;
const docker: Docker = connectDocker(
  endpoint,
  parseEndpoint(endpoint).kind === "tcp" && certDir ? { tls: certDir } : {},
);
await pingEngine(docker, 10_000);
const image = (await ensureRunnerImage(docker, { onProgress: () => process.stderr.write(".") }))
  .tag;

// Culprit somewhere in the middle 90%, from the seed.
const culprit = 1 + Math.floor(commits * 0.05 + seededRandom(seed)() * commits * 0.9);
const repo = await generateRepo(linearHistory(commits), { culprit });
const good = repo.shas[0]!;
const bad = repo.shas[commits - 1]!;
const graph = await listCommitGraph(repo.dir, good, bad);
console.log(
  `repository: ${commits} commits (linear), culprit #${culprit} ${repo.shas[culprit]!.slice(0, 10)}, seed ${seed}; ` +
    `command: ${command}; engine ${endpoint}, image ${image}; ${process.env.HOSTNAME ?? ""}`.trim(),
);

interface Row {
  mode: string;
  /** Fixed cost: endpoint runs started before the first probe, and the seconds around the probes. */
  fixedRuns?: number;
  fixedMs?: number;
  endpointRuns?: number;
  wallMs: number;
  /** Warm pool: time to fill it before the clock started. */
  fillMs?: number;
  rounds: number | string;
  steps: number;
  correct: boolean;
  overheads: number[];
  toResult: number[];
  timings: RunTiming[];
}
const rows: Row[] = [];
const floors: EngineFloor[] = [];
const loadBefore = loadavg();

try {
  const reference = await gitBisect(repo.dir, good, bad, command);
  rows.push({
    mode: "git bisect run (local)",
    wallMs: reference.wallMs,
    rounds: "-",
    steps: reference.steps,
    correct: reference.culprit === repo.shas[culprit],
    overheads: [],
    toResult: [],
    timings: [],
  });

  const specFor = (sha: string): RunSpec => ({
    labels: { "bisect-bot.source": "bench" },
    repo: { kind: "host-path", path: repo.dir },
    sha,
    command,
    timeoutMs: 120_000,
    limits: defaultLimits,
    network: false,
    logLimitBytes: 4096,
    image,
  });

  // Warm-up: the first container on an engine is slower (image layers, cgroup setup).
  const warm = new DockerExecutor(docker, { image });
  for (let i = 0; i < 2; i++) {
    const h = await warm.prepare({ ...specFor(good), command: "true" });
    await warm.start(h);
    await warm.wait(h);
    await warm.destroy(h);
  }
  // Its checkout box goes with it.
  await warm.close();

  for (const concurrency of [1, ...parallels.filter((p) => p > 1)])
    floors.push(await engineFloor(docker, image, concurrency));

  type Mode = {
    parallel: number;
    plain: boolean;
    pool: "none" | "filled" | "on-clock" | "sandboxes";
    first: boolean;
  };
  const largest = Math.max(...parallels);
  const first = values.endpoints === "first";
  const modes: Mode[] = parallels.map((parallel) => ({
    parallel,
    plain: false,
    pool: "none",
    first,
  }));
  if (values.plain) modes.push({ parallel: largest, plain: true, pool: "none", first });
  for (const parallel of parallels) {
    modes.push({ parallel, plain: false, pool: "filled", first });
    if (values.endpoints === "both")
      modes.push({ parallel, plain: false, pool: "filled", first: true });
  }
  modes.push({ parallel: largest, plain: false, pool: "on-clock", first });
  // As the command line runs now: sandboxes made by the first runs, on the clock.
  for (const parallel of parallels)
    modes.push({ parallel, plain: false, pool: "sandboxes", first });
  for (const { parallel, plain, pool, first: endpointsFirst } of modes) {
    const dockerExecutor = new DockerExecutor(docker, {
      image,
      ...(pool === "none"
        ? {}
        : pool === "sandboxes"
          ? {
              sandboxes: {
                key: `bench-bisect-${process.pid}-${parallel}`,
                labels: { "bisect-bot.source": "bench" },
              },
            }
          : { warmPool: { size: parallel, labels: { "bisect-bot.source": "bench" } } }),
    });
    const executor = new TimingExecutor(dockerExecutor);
    let fillMs: number | undefined;
    if (pool === "filled") {
      const t = performance.now();
      await dockerExecutor.warmUp(specFor(good));
      fillMs = performance.now() - t;
    }
    const started = performance.now();
    const startedAt = executor.now();
    if (pool === "on-clock") void dockerExecutor.warmUp(specFor(good));
    let result: BisectionResult;
    let wallMs: number;
    try {
      result = await runBisection({
        graph,
        parallel,
        executor,
        specFor,
        // Sandboxes run as the command line does, its endpoint checks included.
        policy:
          pool === "sandboxes"
            ? endpointPolicy(defaultEndpointChecks(parallel))
            : { verifyEndpoints: true, overlapEndpoints: !endpointsFirst },
        ...(plain ? { gatherFraction: 0, cancelUseless: false } : {}),
      });
      wallMs = performance.now() - started;
    } finally {
      // Removing the warm containers nobody took is off the clock.
      await dockerExecutor.close();
    }
    const finished = executor.timings.filter(
      (t) => t.destroyEnd !== undefined && t.waitEnd !== undefined && t.exitCode !== null,
    );
    const isEndpoint = (t: RunTiming) => t.sha === good || t.sha === bad;
    const probeRuns = executor.timings.filter((t) => !isEndpoint(t));
    const firstProbe = Math.min(...probeRuns.map((t) => t.prepareStart));
    const lastProbeResult = Math.max(
      ...probeRuns.filter((t) => t.waitEnd !== undefined).map((t) => t.waitEnd!),
    );
    const endpointTimings = executor.timings.filter(isEndpoint);
    rows.push({
      // Endpoint runs that had ended before the first probe started made a round of their own.
      fixedRuns: endpointTimings.filter((t) => t.waitEnd !== undefined && t.waitEnd <= firstProbe)
        .length,
      fixedMs: firstProbe - startedAt + Math.max(0, startedAt + wallMs - lastProbeResult),
      endpointRuns: endpointTimings.length,
      mode:
        pool === "none"
          ? `docker, --parallel ${parallel}${plain ? " (plain pipelining)" : ""}`
          : pool === "sandboxes"
            ? `docker + sandboxes (the CLI), --parallel ${parallel}`
            : `docker + warm pool, --parallel ${parallel}${pool === "on-clock" ? " (pool filled on the clock)" : ""}${endpointsFirst ? " (endpoints first)" : ""}`,
      wallMs,
      ...(fillMs !== undefined ? { fillMs } : {}),
      rounds: result.rounds,
      steps: result.steps.length,
      correct: result.outcome === "found" && result.culprit === repo.shas[culprit],
      overheads: finished.map((t) => t.destroyEnd! - t.prepareStart - sleepSeconds * 1000),
      toResult: finished.map((t) => t.waitEnd! - t.prepareStart - sleepSeconds * 1000),
      timings: executor.timings,
    });
    if (result.outcome !== "found")
      console.log(`  ${parallel}: ${result.outcome}: ${result.explanation}`);
  }
} finally {
  await repo.cleanup();
}

const base = rows[0]!.wallMs;
const fmt = (ms: number) => (Number.isNaN(ms) ? "-" : `${Math.round(ms)} ms`);
const table = [
  [
    "mode",
    "wall",
    "× baseline",
    "rounds",
    "steps",
    "culprit",
    "overhead median (p90)",
    "to result median",
  ],
  ...rows.map((r) => [
    r.mode,
    `${(r.wallMs / 1000).toFixed(2)} s`,
    (r.wallMs / base).toFixed(2),
    String(r.rounds),
    String(r.steps),
    r.correct ? "right" : "WRONG",
    r.overheads.length ? `${fmt(median(r.overheads))} (${fmt(percentile(r.overheads, 90))})` : "-",
    r.toResult.length ? fmt(median(r.toResult)) : "-",
  ]),
];
const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
console.log("");
for (const [i, row] of table.entries()) {
  console.log(
    row
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join("  ")
      .trimEnd(),
  );
  if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
}

// Where a run's time goes (medians): prepare (create, or take a warm container), start
// (attach + start, or hand over the assignment), command (the executor's own measure) and wait,
// removal.
console.log(
  "\nper-run phases (medians, ms): prepare | start | wait (command incl. checkout) | destroy",
);
for (const r of rows.slice(1)) {
  const t = r.timings.filter(
    (x) => x.destroyEnd !== undefined && x.waitEnd !== undefined && x.startEnd !== undefined,
  );
  const m = (f: (x: RunTiming) => number) => Math.round(median(t.map(f)));
  console.log(
    `  ${r.mode}: ${m((x) => x.prepareEnd! - x.prepareStart)} | ${m((x) => x.startEnd! - x.prepareEnd!)} | ` +
      `${m((x) => x.waitEnd! - x.startEnd!)} (executor-reported ${m((x) => x.durationMs!)}) | ${m((x) => x.destroyEnd! - x.waitEnd!)}`,
  );
}
const fills = rows.filter((r) => r.fillMs !== undefined);
if (fills.length) {
  console.log(
    `warm pool fill before the clock (create + start of --parallel containers): ` +
      fills
        .map((r) => `${r.mode.replace(/^docker \+ warm pool, /, "")} ${Math.round(r.fillMs!)} ms`)
        .join("; "),
  );
}

console.log(
  "\nfixed cost per bisection (endpoint checks): runs in a round of their own before the first probe; seconds before the first probe starts + after the last probe's result",
);
for (const r of rows.slice(1)) {
  if (r.fixedRuns === undefined) continue;
  console.log(
    `  ${r.mode}: ${r.fixedRuns} run${r.fixedRuns === 1 ? "" : "s"} (of ${r.endpointRuns} endpoint runs), ${(r.fixedMs! / 1000).toFixed(2)} s`,
  );
}

console.log(
  `\nengine floor (bare \`true\` container, create → removed / start call, medians): ` +
    floors
      .map(
        (f) => `${f.concurrency} at a time ${Math.round(f.totalMs)} / ${Math.round(f.startMs)} ms`,
      )
      .join("; "),
);
console.log(
  `load average before / after: ${loadBefore.map((l) => l.toFixed(2)).join(" ")} / ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")} (${cpus().length} CPUs)`,
);

console.log("\ntargets:");
for (const r of rows.filter((x) => /--parallel 4\b/.test(x.mode) && !x.mode.includes("plain"))) {
  const ratio = r.wallMs / base;
  const target = r.mode === "docker + warm pool, --parallel 4";
  console.log(
    `  --parallel 4 ≤ 0.60 × baseline, ${r.mode}: ${ratio.toFixed(2)} ${ratio <= 0.6 ? "met" : target ? "MISSED" : "missed"}${target ? "" : " (for comparison)"}`,
  );
}
for (const r of rows.slice(1)) {
  const over = median(r.overheads);
  console.log(
    `  median overhead ≤ 500 ms, ${r.mode}: ${Math.round(over)} ms ${over <= 500 ? "met" : "MISSED"}`,
  );
}
const allRight = rows.every((r) => r.correct);
if (!allRight) console.log("a mode found the WRONG culprit");
(docker.modem as { agent?: { destroy?: () => void } }).agent?.destroy?.();
process.exit(allRight ? 0 : 1);
