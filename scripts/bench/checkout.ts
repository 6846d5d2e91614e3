// npm run bench:checkout [-- --files 2000 --changed 2000 --runs 9 --docker-host unix:///…]
//
// What a run costs from `prepare` until removed, with `true` as the command, so that nearly all of
// it is the container and the checkout: on a repository of --files files (1 KiB each) over two
// commits that differ in --changed of them (all by default; a bisection's neighbours usually
// differ in few), alternating between them. Printed: the median and p90 over --runs runs, with a cold
// executor (a container made per run), with a warm pool of one, and in a job's sandbox kept
// between runs (an exec per run; its work directory reset and checked out), and the load average.
// Run the same script on an older tree of runner/ to compare designs.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { connectDocker } from "../../runner/docker/connect";
import { DockerExecutor } from "../../runner/executors/docker-executor";
import { runOnce } from "../../runner/executors/run-once";
import { defaultLimits, type RunSpec } from "../../runner/executors/types";
import { ensureRunnerImage } from "../../runner/image";

const { values } = parseArgs({
  options: {
    files: { type: "string", default: "2000" },
    changed: { type: "string" },
    runs: { type: "string", default: "9" },
    "docker-host": { type: "string" },
  },
});
const files = Number(values.files);
const runs = Number(values.runs);
const changed = Math.min(files, Number(values.changed ?? files));

function makeRepo(): { dir: string; shas: string[] } {
  const dir = mkdtempSync(path.join(tmpdir(), "bench-checkout-"));
  chmodSync(dir, 0o755);
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", dir, ...args], {
      encoding: "utf8",
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "b",
        GIT_AUTHOR_EMAIL: "b@x",
        GIT_COMMITTER_NAME: "b",
        GIT_COMMITTER_EMAIL: "b@x",
      },
    }).trim();
  git("init", "-q", "-b", "main");
  const shas: string[] = [];
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < files; i++) {
      const sub = path.join(dir, `d${i % 50}`);
      mkdirSync(sub, { recursive: true });
      const version = i < changed ? c : 0;
      writeFileSync(path.join(sub, `f${i}.txt`), `${version}:${i}\n`.repeat(128));
    }
    git("add", "-A");
    git("commit", "-q", "-m", `c${c}`);
    shas.push(git("rev-parse", "HEAD"));
  }
  return { dir, shas };
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return {
    median: s[Math.floor(s.length / 2)]!,
    p90: s[Math.min(s.length - 1, Math.floor(s.length * 0.9))]!,
  };
};

async function measure(executor: DockerExecutor, spec: (i: number) => RunSpec): Promise<number[]> {
  const times: number[] = [];
  await runOnce(executor, spec(0)); // warm-up: image cache, checkout container
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = await runOnce(executor, spec(i));
    times.push(performance.now() - t);
    if (r.exitCode !== 0) throw new Error(`run failed: ${r.log}`);
  }
  return times;
}

async function main(): Promise<void> {
  const docker = connectDocker(
    values["docker-host"] ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock",
  );
  const image = (await ensureRunnerImage(docker)).tag;
  const repo = makeRepo();
  const spec = (i: number): RunSpec => ({
    labels: { "bisect-bench": "checkout" },
    repo: { kind: "host-path", path: repo.dir },
    sha: repo.shas[i % 2]!,
    command: "test -f d0/f0.txt",
    timeoutMs: 60_000,
    limits: { ...defaultLimits, workBytes: 512 * 1024 * 1024 },
    network: false,
    logLimitBytes: 4096,
    image,
  });
  try {
    const cold = new DockerExecutor(docker, { image });
    const coldTimes = await measure(cold, spec);
    await cold.close();
    const warm = new DockerExecutor(docker, { image, warmPool: { size: 1 } });
    await warm.warmUp(spec(0));
    const warmTimes = await measure(warm, spec);
    await warm.close();
    const kept = new DockerExecutor(docker, {
      image,
      sandboxes: { key: `bench-checkout-${process.pid}`, labels: { "bisect-bot.source": "bench" } },
    });
    const sandboxTimes = await measure(kept, spec);
    await kept.close();
    const fmt = (xs: number[]) => {
      const { median, p90 } = stats(xs);
      return `median ${median.toFixed(0)} ms, p90 ${p90.toFixed(0)} ms`;
    };
    console.log(
      `checkout bench: ${files} files × 1 KiB (${changed} differ), ${runs} runs each, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
    );
    console.log(`  cold (a container per run): ${fmt(coldTimes)}`);
    console.log(`  warm pool of one:           ${fmt(warmTimes)}`);
    console.log(`  a job's sandbox, kept:      ${fmt(sandboxTimes)}`);
  } finally {
    rmSync(repo.dir, { recursive: true, force: true });
  }
}

await main();
