// npm run bench:real [-- --repeat 3 --padding 6 --only node,python,cmake,rust,go --cpus 2 --warm-only]
//
// Real projects, built and tested on every commit: the Node, Python, CMake, Rust and Go fixture
// projects of the end-to-end tests (tests/github/projects.ts, with `padding` more harmless commits
// on each side of the culprit), their dependencies from a local verdaccio, a local wheel index,
// vendored crates and a local Go module proxy. Go's baseline needs `go` on this machine (Debian's
// golang-go); without it, the Go line has the product's figures only.
// Measured in one run, each repeated --repeat times (medians printed):
//   - the product: runBisection with the Docker executor at --parallel 1, endpoints verified (as
//     the CLI does), each run a fresh container on the ecosystem's image (the stand-in images of
//     the tests) doing the setup (dependency install, build) then the test;
//   - the baseline: plain `git bisect run` on this machine with the same setup and test (a setup
//     that fails counts as skip, as in the product), in a throwaway clone.
// Caches: each product run starts with empty package caches (no dependency cache between runs
// yet); git bisect run shares its package cache between its own runs (a fresh one per bisection).
// Printed: wall time per project and mode, runs, the ratio product / baseline, the load average.
// Then the warm cache (lib/warm-cache.ts): each project's setup on one commit with an empty
// dependency cache, then on the next commit with the cache it left (with the project's
// bisect.yml `cache:` paths), --repeat times; --warm-only prints only that part.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type Docker from "dockerode";
import { runBisection } from "../../runner/bisection/run-bisection";
import { connectDocker, parseEndpoint, pingEngine } from "../../runner/docker/connect";
import { DockerExecutor } from "../../runner/executors/docker-executor";
import { defaultLimits, type RunSpec } from "../../runner/executors/types";
import { listCommitGraph } from "../../runner/git/graph";
import { ensureRunnerImage, runnerBuildContext } from "../../runner/image";
import { ensureStandInImage } from "../../runner/images/test-images";
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
import { median } from "./lib/timing-executor";
import { measureWarmCache } from "./lib/warm-cache";

const { values } = parseArgs({
  options: {
    repeat: { type: "string", default: "3" },
    padding: { type: "string", default: "6" },
    only: { type: "string", default: "node,python,cmake,rust,go" },
    cpus: { type: "string", default: String(Math.min(2, cpus().length)) },
    "docker-host": { type: "string" },
    "warm-only": { type: "boolean", default: false },
  },
});
const repeat = Number(values.repeat);
const padding = Number(values.padding);
const only = new Set(values.only.split(","));
if (!(repeat >= 1) || !(padding >= 0)) throw new Error("--repeat ≥ 1 and --padding ≥ 0");

const endpoint = values["docker-host"] ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
const certDir = process.env.DOCKER_CERT_PATH || process.env.BISECT_ENGINE_CERTS;
const docker: Docker = connectDocker(
  endpoint,
  parseEndpoint(endpoint).kind === "tcp" && certDir ? { tls: certDir } : {},
);
await pingEngine(docker, 10_000);
// The runner image of this checkout under a tag of its own (a shared engine's `latest` may differ).
const runnerImage = (
  await ensureRunnerImage(docker, {
    tag: `bisect-runner:${runnerBuildContext().hash.slice(0, 12)}`,
  })
).tag;
process.stderr.write("images: runner");

interface Project {
  name: string;
  repo: ProjectRepo;
  image: string;
  setup: string;
  /** The same setup on this machine (its own venv and build directory in the clone). */
  hostSetup: string;
  /** No baseline: why (its toolchain is not on this machine). */
  noBaseline?: string;
  /** Variables for both (a module proxy). */
  env?: Record<string, string>;
  command: string;
  network: boolean;
  /** For the warm-cache part: a setup that reuses what the cache restores, and its paths. */
  warm: { setup: string; cachePaths: string[] };
}

const work = mkdtempSync(path.join(tmpdir(), "bench-real-"));
const npm = await startVerdaccio();
const pypi = await startPythonIndex();
const goProxy = await startGoProxy();
const onHost = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
const projects: Project[] = [];
try {
  if (only.has("node")) {
    const image = await ensureStandInImage(docker, "node:20-bookworm");
    process.stderr.write(", node");
    publishTinyMath(npm);
    projects.push({
      name: "Node (npm ci, npm test)",
      repo: nodeProject(work, "node", npm, { padding }),
      image,
      setup: "npm ci",
      hostSetup: "npm ci",
      command: "npm test",
      network: true,
      // npm ci empties node_modules: its tarballs come from npm's cache at /cache/npm.
      warm: { setup: "npm ci --prefer-offline", cachePaths: [] },
    });
  }
  if (only.has("python")) {
    const image = await ensureStandInImage(docker, "python:3.12-bookworm");
    process.stderr.write(", python");
    for (const [version, module] of Object.entries(TINYSTATS))
      pypi.addWheel("tinystats", version, module);
    const venv = (dir: string) =>
      `python3 -m venv ${dir} && . ${dir}/bin/activate && pip install -q -r requirements.txt`;
    projects.push({
      name: "Python (venv, pip install, unittest)",
      repo: pythonProject(work, "python", pypi.url, { padding }),
      image,
      setup: venv("/work/.venv"),
      hostSetup: venv(".venv"),
      command: "python -m unittest -q",
      network: true,
      warm: {
        setup:
          "[ -x .venv/bin/python ] || python3 -m venv .venv; .venv/bin/pip install -q -r requirements.txt",
        cachePaths: [".venv"],
      },
    });
  }
  if (only.has("cmake")) {
    const build =
      "cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build >/dev/null";
    projects.push({
      name: "C (cmake build, ctest)",
      repo: cmakeProject(work, "cmake", { padding }),
      image: runnerImage,
      setup: build,
      hostSetup: build,
      command: "ctest --test-dir build --output-on-failure",
      network: false,
      warm: { setup: build, cachePaths: ["build"] },
    });
  }
  if (only.has("rust")) {
    const image = await ensureStandInImage(docker, "rust:1-bookworm");
    process.stderr.write(", rust");
    const build = "cargo build --offline --locked --quiet";
    projects.push({
      name: "Rust (vendored crate, cargo build, cargo test)",
      repo: rustProject(work, "rust", { padding }),
      image,
      setup: build,
      hostSetup: build,
      command: "cargo test --offline --locked --quiet",
      network: false,
      warm: { setup: build, cachePaths: ["target"] },
      ...(onHost("cargo") ? {} : { noBaseline: "no cargo on this machine" }),
    });
  }
  if (only.has("go")) {
    const image = await ensureStandInImage(docker, "golang:1-bookworm");
    process.stderr.write(", go");
    const sums = Object.fromEntries(
      Object.entries(MONEY).map(([v, files]) => [v, goProxy.addModule(MONEY_MODULE, v, files)]),
    );
    projects.push({
      name: "Go (module proxy, go mod download, go test)",
      repo: goProject(work, "go", sums, { padding }),
      image,
      setup: "go mod download",
      hostSetup: "go mod download",
      command: "go test ./...",
      network: true,
      env: { GOPROXY: goProxy.url },
      warm: { setup: "go mod download", cachePaths: [] },
      ...(onHost("go") ? {} : { noBaseline: "no go on this machine" }),
    });
  }
  process.stderr.write("\n");

  const load0 = loadavg();
  console.log(
    `bench:real: ${projects.length} projects, ${padding * 2} harmless commits added to each, ${repeat} repeats, ` +
      `--parallel 1, ${values.cpus} CPUs per run; engine ${endpoint}; ${cpus().length} cores`,
  );
  console.log(`load average at start: ${load0.map((l) => l.toFixed(2)).join(" ")}`);
  const table: string[][] = [];
  const ratios: number[] = [];
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
      network: p.network,
      logLimitBytes: 8192,
      image: p.image,
      ...(p.env ? { env: p.env } : {}),
    });
  for (const p of values["warm-only"] ? [] : projects) {
    const shas = p.repo.shas;
    const good = shas[0]!;
    const bad = shas[shas.length - 1]!;
    const graph = await listCommitGraph(p.repo.path, good, bad);
    const specFor = specOf(p);
    const product: number[] = [];
    const baseline: number[] = [];
    let productRuns = 0;
    let baselineRuns = 0;
    for (let i = 0; i < repeat; i++) {
      // Alternate which goes first, so a slow moment of the machine falls on both.
      const order = i % 2 ? (["git", "product"] as const) : (["product", "git"] as const);
      for (const which of order) {
        if (which === "product") {
          const executor = new DockerExecutor(docker, { image: runnerImage, networkMode: "host" });
          const started = performance.now();
          try {
            const result = await runBisection({
              graph,
              parallel: 1,
              executor,
              specFor,
              policy: { verifyEndpoints: true },
            });
            product.push(performance.now() - started);
            productRuns = result.steps.length;
            if (result.culprit !== p.repo.culprit)
              throw new Error(
                `${p.name}: the product answered ${result.outcome} ${result.culprit ?? ""}`,
              );
          } finally {
            await executor.close();
          }
        } else if (!p.noBaseline) {
          const cache = mkdtempSync(path.join(tmpdir(), "bench-real-cache-"));
          process.env.npm_config_cache = path.join(cache, "npm");
          process.env.PIP_CACHE_DIR = path.join(cache, "pip");
          process.env.PIP_DISABLE_PIP_VERSION_CHECK = "1";
          // Go's module cache is read-only unless asked otherwise: -modcacherw lets it be removed.
          process.env.GOMODCACHE = path.join(cache, "gomod");
          process.env.GOCACHE = path.join(cache, "gobuild");
          process.env.GOFLAGS = "-modcacherw";
          Object.assign(process.env, p.env);
          try {
            // The test's output goes nowhere: git bisect run's own "running …" lines count the
            // runs, and a test's output may hold such lines too (cargo test: "running 2 tests").
            const predicate = `(set -e; git clean -qfdx; ${p.hostSetup}) >/dev/null 2>&1 || exit 125; ${p.hostSetup.includes(".venv") ? ". .venv/bin/activate; " : ""}(${p.command}) >/dev/null 2>&1`;
            const ref = await gitBisect(p.repo.path, good, bad, predicate);
            baseline.push(ref.wallMs);
            baselineRuns = ref.steps;
            if (ref.culprit !== p.repo.culprit)
              throw new Error(`${p.name}: git bisect run answered ${ref.culprit}\n${ref.output}`);
          } finally {
            rmSync(cache, { recursive: true, force: true });
          }
        }
      }
    }
    const s = (ms: number[]) => `${(median(ms) / 1000).toFixed(1)} s`;
    if (p.noBaseline) {
      table.push([p.name, p.noBaseline, "-", s(product), String(productRuns), "-"]);
      continue;
    }
    const ratio = median(product) / median(baseline);
    ratios.push(ratio);
    table.push([
      p.name,
      s(baseline),
      String(baselineRuns),
      s(product),
      String(productRuns),
      `${ratio.toFixed(2)}×`,
    ]);
  }
  if (!values["warm-only"]) printBisections();
  function printBisections() {
    const header = ["project", "git bisect run", "runs", "product -p1", "runs", "ratio"];
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ");
    console.log(line(header));
    for (const r of table) console.log(line(r));
    console.log(
      `median ratio over the projects: ${median(ratios).toFixed(2)}× (medians of ${repeat} repeats each)`,
    );
    console.log(
      `load average at end: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
    );
    console.log(
      "the product verifies both endpoints (two more runs than git bisect run) and runs each setup in a fresh container with empty package caches",
    );
  }
  await measureWarmCache(
    docker,
    runnerImage,
    projects.map((p) => ({
      name: p.name,
      specFor: specOf(p),
      setup: p.warm.setup,
      cachePaths: p.warm.cachePaths,
      shas: [p.repo.shas[1]!, p.repo.shas[2]!],
    })),
    repeat,
  );
} finally {
  await npm.stop();
  await pypi.stop();
  await goProxy.stop();
  rmSync(work, { recursive: true, force: true });
}
