// npm run bench:real [-- --repeat 3 --padding 6 --only node,python,cmake,rust,go --cpus 2
//                       --parallel 1,4 --caches cold,warm --setup-cache --trace]
//
// Real projects, built and tested on every commit: the Node, Python, CMake, Rust and Go fixture
// projects of the end-to-end tests (tests/github/projects.ts, with `padding` more harmless commits
// on each side of the culprit), their dependencies from a local verdaccio, a local wheel index,
// vendored crates and a local Go module proxy. Go's and Rust's baselines need `go` and `cargo` on
// this machine; without them, their lines have the product's figures only.
// Measured in one run, each figure the median of --repeat bisections:
//   - the product as the command line runs it: runBisection, endpoints verified as its --endpoints
//     default says (at --parallel 1 when the answer rests on them, above alongside the first
//     probes), each run in the bisection's sandboxes (made by its first runs, then handed every
//     commit by exec) on the ecosystem's image, with the project's setup online and its test
//     offline, the repository's dependency cache and bisect.yml-style `cache:` paths. --parallel 1
//     runs on the first engine; --parallel 4 spreads the runs over the first two engines (as the
//     farm spreads a job's steps over hosts), each with its own cache;
//   - the baseline: plain `git bisect run` on this machine with the same setup and test (a setup
//     that fails counts as skip, as in the product), with the system's toolchains first on PATH:
//     those the stand-in images carry. Each project's line says whether the versions match.
// Caches: cold = the product's caches new (each host's dependency cache empty when the bisection
// starts; warm from its second run on) and the baseline's package caches and clone new; warm = the
// caches a previous bisection of the same project left (one untimed bisection each fills them),
// the baseline keeping its clone with the same `cache:` paths between runs (an incremental build).
// Printed: wall time per project, mode and cache, runs, ratio product / baseline, load averages.
// Engines: --docker-hosts A,B (default BISECT_ENGINE_TLS_HOSTS with BISECT_ENGINE_CERTS, else
// DOCKER_HOST alone; --parallel 4 then runs on that one).
// --setup-cache prints, instead, a step's setup with an empty cache against the next step's with
// the cache it left (lib/warm-cache.ts).
// --trace prints every product run's phases on the bisection's clock (where the time goes).
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type Docker from "dockerode";
import { runBisection } from "../../runner/bisection/run-bisection";
import { defaultEndpointChecks, endpointPolicy } from "../../runner/cli/args";
import { connectDocker, parseEndpoint, pingEngine } from "../../runner/docker/connect";
import { removeCacheVolume } from "../../runner/executors/cache-volume";
import { DockerExecutor } from "../../runner/executors/docker-executor";
import { defaultLimits, type RunSpec } from "../../runner/executors/types";
import type { CommitGraph } from "../../runner/engine/types";
import { listCommitGraph } from "../../runner/git/graph";
import { ensureRunnerImage, runnerBuildContext } from "../../runner/image";
import { ensureStandInImage } from "../../runner/images/test-images";
import { DEFAULT_ECOSYSTEMS } from "../../runner/settings/ecosystems";
import { networkSwitches } from "../../runner/settings/network";
import {
  cmakeProject,
  goProject,
  MONEY,
  MONEY_MODULE,
  nodeProject,
  publishTinyMath,
  pythonProject,
  rustProject,
  TINYSTATS,
  type ProjectRepo,
} from "../../tests/github/projects";
import { startGoProxy } from "../../tests/helpers/go-proxy";
import { startPythonIndex } from "../../tests/helpers/python-index";
import { startVerdaccio } from "../../tests/helpers/verdaccio";
import { gitBisect } from "./lib/git-bisect";
import { SpreadExecutor } from "./lib/spread-executor";
import { median, TimingExecutor, type RunTiming } from "./lib/timing-executor";
import { measureWarmCache } from "./lib/warm-cache";

const { values } = parseArgs({
  options: {
    repeat: { type: "string", default: "3" },
    padding: { type: "string", default: "6" },
    only: { type: "string", default: "node,python,cmake,rust,go" },
    cpus: { type: "string", default: String(Math.min(2, cpus().length)) },
    parallel: { type: "string", default: "1,4" },
    caches: { type: "string", default: "cold,warm" },
    "docker-hosts": { type: "string" },
    "setup-cache": { type: "boolean", default: false },
    /** Print every product run's phases (prepare, command, result, hand-back), in ms. */
    trace: { type: "boolean", default: false },
    /** The old name of --setup-cache. */
    "warm-only": { type: "boolean", default: false },
  },
});
const repeat = Number(values.repeat);
const padding = Number(values.padding);
const only = new Set(values.only.split(","));
const parallels = values.parallel.split(",").map(Number);
const caches = values.caches.split(",") as ("cold" | "warm")[];
const setupCacheOnly = values["setup-cache"] || values["warm-only"];
if (!(repeat >= 1) || !(padding >= 0)) throw new Error("--repeat ≥ 1 and --padding ≥ 0");
if (!parallels.every((n) => n >= 1) || !caches.every((c) => c === "cold" || c === "warm"))
  throw new Error("--parallel takes numbers ≥ 1, --caches cold and/or warm");

const certDir = process.env.DOCKER_CERT_PATH || process.env.BISECT_ENGINE_CERTS;
const endpoints = (
  values["docker-hosts"] ??
  (certDir && process.env.BISECT_ENGINE_TLS_HOSTS) ??
  process.env.DOCKER_HOST ??
  "unix:///var/run/docker.sock"
)
  .split(",")
  .filter(Boolean)
  .slice(0, 2);
const engines: Docker[] = [];
for (const endpoint of endpoints) {
  const docker = connectDocker(
    endpoint,
    parseEndpoint(endpoint).kind === "tcp" && certDir ? { tls: certDir } : {},
  );
  await pingEngine(docker, 10_000, `Docker engine ${endpoint}`);
  engines.push(docker);
}
const docker = engines[0]!;
// The runner image of this checkout under a tag of its own (a shared engine's `latest` may differ).
const runnerTag = `bisect-runner:${runnerBuildContext().hash.slice(0, 12)}`;
// Built on the first engine, copied to the others (their builds may have no route out).
const runnerImage = (await ensureRunnerImage(docker, { tag: runnerTag })).tag;
for (const engine of engines.slice(1))
  await ensureRunnerImage(engine, { tag: runnerTag, source: docker });
process.stderr.write("images: runner");
/** A stand-in image on every engine. */
const standIn = async (name: Parameters<typeof ensureStandInImage>[1]) => {
  const tag = await ensureStandInImage(docker, name);
  for (const engine of engines.slice(1)) await ensureStandInImage(engine, name, { source: docker });
  return tag;
};

interface Project {
  name: string;
  repo: ProjectRepo;
  image: string;
  /** The setup, for the product and on this machine: it reuses what the caches keep. */
  setup: string;
  /** bisect.yml's `cache:` paths (kept between runs by the baseline's clone too). */
  cachePaths: string[];
  /** No baseline: why (its toolchain is not on this machine). */
  noBaseline?: string;
  /** Variables for both (a module proxy). */
  env?: Record<string, string>;
  command: string;
  /** The setup downloads (network for the setup only; the test stays offline). */
  network: boolean;
  /** Prints the toolchain's versions, on this machine and in the image: they should match. */
  versions: string;
}

// The baseline's PATH: this machine's system toolchains first (the ones the stand-in images are
// built from), not a user's own install (rustup's cargo in ~/.cargo/bin is another compiler).
const BASELINE_PATH = [
  ...new Set(["/usr/local/bin", "/usr/bin", "/bin", ...(process.env.PATH ?? "").split(":")]),
]
  .filter(Boolean)
  .join(":");

/** What `command` prints on this machine, with the baseline's PATH (one line per line). */
function hostOutput(command: string): string {
  const r = spawnSync("sh", ["-c", command], {
    env: { ...process.env, PATH: BASELINE_PATH },
    encoding: "utf8",
  });
  return `${r.stdout}${r.stderr}`.trim();
}

/** What `command` prints in a container of `image` (no network, removed after). */
async function imageOutput(engine: Docker, image: string, command: string): Promise<string> {
  const container = await engine.createContainer({
    Image: image,
    Cmd: ["sh", "-c", command],
    Entrypoint: [],
    Tty: true,
    HostConfig: { NetworkMode: "none" },
  });
  try {
    await container.start();
    await container.wait();
    const logs = await container.logs({ stdout: true, stderr: true });
    return logs.toString("utf8").replace(/\r/g, "").trim();
  } finally {
    await container.remove({ force: true }).catch(() => {});
  }
}

const work = mkdtempSync(path.join(tmpdir(), "bench-real-"));
const npm = await startVerdaccio();
const pypi = await startPythonIndex();
const goProxy = await startGoProxy();
const onHost = (tool: string) =>
  spawnSync("sh", ["-c", `command -v ${tool}`], { env: { ...process.env, PATH: BASELINE_PATH } })
    .status === 0;
const projects: Project[] = [];
try {
  if (only.has("node")) {
    const image = await standIn("node:20-bookworm");
    process.stderr.write(", node");
    publishTinyMath(npm);
    projects.push({
      name: "Node (npm ci, npm test)",
      repo: nodeProject(work, "node", npm, { padding }),
      image,
      // npm ci empties node_modules: its tarballs come from npm's cache.
      setup: "npm ci --prefer-offline",
      cachePaths: [],
      command: "npm test",
      network: true,
      versions: "node --version; npm --version",
    });
  }
  if (only.has("python")) {
    const image = await standIn("python:3.12-bookworm");
    process.stderr.write(", python");
    for (const [version, module] of Object.entries(TINYSTATS))
      pypi.addWheel("tinystats", version, module);
    projects.push({
      name: "Python (venv, pip install, unittest)",
      repo: pythonProject(work, "python", pypi.url, { padding }),
      image,
      setup:
        "{ [ -x .venv/bin/python ] || python3 -m venv .venv; } && . .venv/bin/activate && pip install -q -r requirements.txt",
      cachePaths: [".venv"],
      command: "python -m unittest -q",
      network: true,
      versions: "python3 --version; python3 -m pip --version | cut -d' ' -f1,2",
    });
  }
  if (only.has("cmake")) {
    projects.push({
      name: "C (cmake build, ctest)",
      repo: cmakeProject(work, "cmake", { padding }),
      image: runnerImage,
      setup:
        "cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build >/dev/null",
      cachePaths: ["build"],
      command: "ctest --test-dir build --output-on-failure",
      network: false,
      versions: "cmake --version | head -n1; cc --version | head -n1",
    });
  }
  if (only.has("rust")) {
    const image = await standIn("rust:1-bookworm");
    process.stderr.write(", rust");
    projects.push({
      name: "Rust (vendored crate, cargo build, cargo test)",
      repo: rustProject(work, "rust", { padding }),
      image,
      setup: "cargo build --offline --locked --quiet",
      cachePaths: ["target"],
      command: "cargo test --offline --locked --quiet",
      network: false,
      versions: "cargo --version; rustc --version",
      ...(onHost("cargo") ? {} : { noBaseline: "no cargo on this machine" }),
    });
  }
  if (only.has("go")) {
    const image = await standIn("golang:1-bookworm");
    process.stderr.write(", go");
    const sums = Object.fromEntries(
      Object.entries(MONEY).map(([v, files]) => [v, goProxy.addModule(MONEY_MODULE, v, files)]),
    );
    projects.push({
      name: "Go (module proxy, go mod download, go test)",
      repo: goProject(work, "go", sums, { padding }),
      image,
      // The zero-configuration setup: the modules, and the tests compiled into the build cache.
      setup: DEFAULT_ECOSYSTEMS.find((r) => r.ecosystem === "Go")!.setup,
      cachePaths: [],
      command: "go test ./...",
      network: true,
      versions: "go version",
      env: { GOPROXY: goProxy.url },
      ...(onHost("go") ? {} : { noBaseline: "no go on this machine" }),
    });
  }
  process.stderr.write("\n");

  const specOf =
    (p: Project) =>
    (sha: string): RunSpec => ({
      labels: { "bisect-bot.source": "bench-real" },
      repo: { kind: "host-path", path: p.repo.path },
      sha,
      setup: p.setup,
      command: p.command,
      timeoutMs: 600_000,
      limits: { ...defaultLimits, nanoCpus: Number(values.cpus) * 1e9 },
      // As the product runs it: the setup online (through the bench's host network, where the
      // local registries are), the test offline.
      ...networkSwitches(p.network ? "setup" : "none"),
      logLimitBytes: 8192,
      image: p.image,
      cachePaths: p.cachePaths,
      ...(p.env ? { env: p.env } : {}),
    });

  if (setupCacheOnly) {
    await measureWarmCache(
      docker,
      runnerImage,
      projects.map((p) => ({
        name: p.name,
        specFor: specOf(p),
        setup: p.setup,
        cachePaths: p.cachePaths,
        shas: [p.repo.shas[1]!, p.repo.shas[2]!],
      })),
      repeat,
    );
  } else {
    await measureBisections(specOf);
  }
} finally {
  await npm.stop();
  await pypi.stop();
  await goProxy.stop();
  rmSync(work, { recursive: true, force: true });
}

/** The product's caches of a project: a dependency cache volume per engine. */
function volumesFor(tag: string): string[] {
  return engines.map((_, i) => `bisect-cache-bench-${tag}-h${i + 1}-${randomUUID().slice(0, 8)}`);
}

async function removeVolumes(volumes: readonly string[]): Promise<void> {
  await Promise.all(volumes.map((v, i) => removeCacheVolume(engines[i]!, v)));
}

/** One bisection by the product: `parallel` runs at once over `hosts` engines. */
async function productBisection(
  p: Project,
  specFor: (sha: string) => RunSpec,
  graph: CommitGraph,
  parallel: number,
  volumes: readonly string[],
): Promise<{ ms: number; runs: number }> {
  const hosts = parallel > 1 ? engines.slice(0, 2) : engines.slice(0, 1);
  const key = `bench-real-${randomUUID().slice(0, 8)}`;
  const executors = hosts.map(
    (engine, i) =>
      new DockerExecutor(engine, {
        name: `h${i + 1}`,
        image: runnerImage,
        networkMode: "host",
        sandboxes: { key, labels: { "bisect-bot.source": "bench-real" } },
      }),
  );
  const spread = new SpreadExecutor(
    executors.map((e, i) => ({ executor: e, cacheVolume: volumes[i]! })),
  );
  const executor = new TimingExecutor(spread);
  const started = performance.now();
  try {
    const result = await runBisection({
      graph,
      parallel,
      executor,
      specFor,
      // The command line's endpoint checks: when the answer needs them at -p1, else alongside.
      policy: endpointPolicy(defaultEndpointChecks(parallel)),
    });
    const ms = performance.now() - started;
    if (values.trace) printTrace(p.name, parallel, executor.timings);
    if (result.culprit !== p.repo.culprit)
      throw new Error(`${p.name}: the product answered ${result.outcome} ${result.culprit ?? ""}`);
    return { ms, runs: result.steps.length };
  } finally {
    await Promise.all(executors.map((e) => e.close()));
  }
}

/** Each run's phases on the bisection's clock: start, prepare, command, result, hand-back (ms). */
function printTrace(name: string, parallel: number, timings: readonly RunTiming[]): void {
  const ms = (x: number | undefined) => (x === undefined ? "-" : String(Math.round(x)));
  process.stderr.write(
    `trace ${name} -p${parallel}: sha at prepare +prepare +start command +result +destroy\n`,
  );
  for (const t of timings) {
    const commandEnd =
      t.startEnd !== undefined && t.durationMs !== undefined
        ? t.startEnd + t.durationMs
        : undefined;
    process.stderr.write(
      [
        `  ${t.sha.slice(0, 8)}`,
        ms(t.prepareStart),
        `+${ms((t.prepareEnd ?? NaN) - t.prepareStart)}`,
        `+${ms((t.startEnd ?? NaN) - (t.prepareEnd ?? NaN))}`,
        ms(t.durationMs),
        `+${ms((t.waitEnd ?? NaN) - (commandEnd ?? NaN))}`,
        `+${ms((t.destroyEnd ?? NaN) - (t.waitEnd ?? NaN))}`,
        `exit ${t.exitCode ?? "-"}\n`,
      ].join(" "),
    );
  }
}

/** One bisection by `git bisect run` on this machine, in `state`'s clone with its package caches. */
async function baselineBisection(
  p: Project,
  good: string,
  bad: string,
  state: string,
): Promise<{ ms: number; runs: number }> {
  const env = {
    npm_config_cache: path.join(state, "npm"),
    PIP_CACHE_DIR: path.join(state, "pip"),
    PIP_DISABLE_PIP_VERSION_CHECK: "1",
    // Go's module cache is read-only unless asked otherwise: -modcacherw lets it be removed.
    GOMODCACHE: path.join(state, "gomod"),
    GOCACHE: path.join(state, "gobuild"),
    GOFLAGS: "-modcacherw",
    ...p.env,
  };
  const saved = { ...process.env };
  Object.assign(process.env, env, { PATH: BASELINE_PATH });
  try {
    // The setup and the test in one shell (the setup's exports reach the test); what `cache:`
    // keeps survives git clean. The output goes nowhere: git bisect run's own "running …" lines
    // count the runs, and a test's output may hold such lines too (cargo test: "running 2 tests").
    const keep = p.cachePaths.map((c) => ` -e ${c}`).join("");
    const predicate = `git clean -qfdx${keep} && { ${p.setup}; } >/dev/null 2>&1 || exit 125; { ${p.command}; } >/dev/null 2>&1`;
    const ref = await gitBisect(p.repo.path, good, bad, predicate, {
      clone: path.join(state, "clone"),
    });
    if (ref.culprit !== p.repo.culprit)
      throw new Error(`${p.name}: git bisect run answered ${ref.culprit}\n${ref.output}`);
    return { ms: ref.wallMs, runs: ref.steps };
  } finally {
    process.env = saved;
  }
}

async function measureBisections(specOf: (p: Project) => (sha: string) => RunSpec) {
  const load0 = loadavg();
  console.log(
    `bench:real: ${projects.length} projects, ${padding * 2} harmless commits added to each, ${repeat} repeats, ` +
      `--parallel ${parallels.join(",")} (above 1: over ${Math.min(2, engines.length)} engines), caches ${caches.join(",")}, ` +
      `${values.cpus} CPUs per run; engines ${endpoints.join(", ")}; ${cpus().length} cores`,
  );
  console.log(`load average at start: ${load0.map((l) => l.toFixed(2)).join(" ")}`);
  const header = ["project", "caches", "git bisect run", "runs"];
  for (const n of parallels) header.push(`product -p${n}`, "runs", "ratio");
  const table: string[][] = [];
  const ratios = new Map<string, number[]>();
  const s = (ms: number[]) => (ms.length ? `${(median(ms) / 1000).toFixed(1)} s` : "-");
  for (const p of projects) {
    if (!p.noBaseline) {
      const host = hostOutput(p.versions).split("\n").join(", ");
      const image = (await imageOutput(docker, p.image, p.versions)).split("\n").join(", ");
      console.log(
        `${p.name}: ${host === image ? `the same toolchain on both sides (${host})` : `toolchains differ: this machine ${host}; the image ${image}`}`,
      );
    }
    const shas = p.repo.shas;
    const good = shas[0]!;
    const bad = shas[shas.length - 1]!;
    const graph = await listCommitGraph(p.repo.path, good, bad);
    const specFor = specOf(p);
    for (const cache of caches) {
      // Warm: the caches one untimed bisection of each side leaves, kept over the repeats.
      const warmState = mkdtempSync(path.join(tmpdir(), "bench-real-host-"));
      const warmVolumes = volumesFor("warm");
      try {
        if (cache === "warm") {
          if (!p.noBaseline) await baselineBisection(p, good, bad, warmState);
          await productBisection(p, specFor, graph, Math.max(...parallels), warmVolumes);
        }
        const baseline: number[] = [];
        let baselineRuns = 0;
        const product = new Map<number, { ms: number[]; runs: number }>(
          parallels.map((n) => [n, { ms: [], runs: 0 }]),
        );
        for (let i = 0; i < repeat; i++) {
          // Alternate which goes first, so a slow moment of the machine falls on all of them.
          const order: (number | "git")[] = ["git", ...parallels];
          if (i % 2) order.reverse();
          for (const which of order) {
            if (which === "git") {
              if (p.noBaseline) continue;
              const state =
                cache === "warm" ? warmState : mkdtempSync(path.join(tmpdir(), "bench-real-host-"));
              try {
                const r = await baselineBisection(p, good, bad, state);
                baseline.push(r.ms);
                baselineRuns = r.runs;
              } finally {
                if (cache === "cold") rmSync(state, { recursive: true, force: true });
              }
            } else {
              const volumes = cache === "warm" ? warmVolumes : volumesFor("cold");
              try {
                const r = await productBisection(p, specFor, graph, which, volumes);
                product.get(which)!.ms.push(r.ms);
                product.get(which)!.runs = r.runs;
              } finally {
                if (cache === "cold") await removeVolumes(volumes);
              }
            }
          }
        }
        const row = [
          p.name,
          cache,
          p.noBaseline ?? s(baseline),
          p.noBaseline ? "-" : String(baselineRuns),
        ];
        for (const n of parallels) {
          const m = product.get(n)!;
          const ratio = baseline.length ? median(m.ms) / median(baseline) : undefined;
          if (ratio !== undefined) {
            const k = `${cache} -p${n}`;
            ratios.set(k, [...(ratios.get(k) ?? []), ratio]);
          }
          row.push(s(m.ms), String(m.runs), ratio === undefined ? "-" : `${ratio.toFixed(2)}×`);
        }
        table.push(row);
        console.error(row.join("  "));
      } finally {
        rmSync(warmState, { recursive: true, force: true });
        await removeVolumes(warmVolumes);
      }
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log(line(header));
  for (const r of table) console.log(line(r));
  for (const [k, list] of ratios)
    console.log(
      `median ratio, ${k}: ${median(list).toFixed(2)}× over ${list.length} projects (${list.map((r) => r.toFixed(2)).join(", ")})`,
    );
  console.log(
    `load average at end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  console.log(
    "the product verifies both endpoints as the command line does: at -p1 when the answer rests on them, above alongside its first probes (two more runs than git bisect run); targets, warm: ≤ 1.3× at -p1, ≤ 0.6× at -p4 over two hosts",
  );
}
