// A real npm registry for tests: verdaccio (decision 008) on 127.0.0.1 with no uplink, so it
// serves only what the test published into it — nothing reaches the public registry.
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../../db/embedded";

export interface NpmRegistry {
  /** `http://127.0.0.1:port/` */
  url: string;
  /** Publish a package made of `files` (package.json included) with the npm CLI. */
  publish(files: Record<string, string>): void;
  /** An npm user config (registry and token) for the npm CLI on this machine. */
  userconfig: string;
  stop(): Promise<void>;
}

const VERDACCIO = path.resolve("node_modules/.bin/verdaccio");

async function waitFor(url: string, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error("verdaccio exited before answering");
    const ok = await fetch(`${url}-/ping`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`verdaccio on ${url} did not answer within 60 s`);
}

export async function startVerdaccio(): Promise<NpmRegistry> {
  const dir = mkdtempSync(path.join(tmpdir(), "bisect-verdaccio-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const config = path.join(dir, "config.yaml");
  writeFileSync(
    config,
    [
      `storage: ${dir}/storage`,
      "auth:",
      "  htpasswd:",
      `    file: ${dir}/htpasswd`,
      "uplinks: {}",
      "packages:",
      "  '**':",
      "    access: $all",
      "    publish: $authenticated",
      "web:",
      "  enable: false",
      "log: { type: stdout, format: pretty, level: error }",
      "",
    ].join("\n"),
  );
  const child = spawn(
    process.execPath,
    [VERDACCIO, "--config", config, "--listen", `127.0.0.1:${port}`],
    {
      stdio: "ignore",
    },
  );
  try {
    await waitFor(url, () => child.exitCode === null);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  // A user for publishing (verdaccio's htpasswd plugin creates it on first login).
  const response = await fetch(`${url}-/user/org.couchdb.user:publisher`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "publisher", password: "publisher-password" }),
  });
  const { token } = (await response.json()) as { token?: string };
  if (!token) throw new Error(`verdaccio refused to create a user: ${response.status}`);
  const userconfig = path.join(dir, "npmrc");
  writeFileSync(
    userconfig,
    `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\nupdate-notifier=false\naudit=false\nfund=false\n`,
  );
  let packages = 0;
  return {
    url,
    userconfig,
    publish(files) {
      const pkg = path.join(dir, `package-${++packages}`);
      mkdirSync(pkg);
      for (const [name, content] of Object.entries(files))
        writeFileSync(path.join(pkg, name), content);
      execFileSync("npm", ["publish", "--userconfig", userconfig, "--loglevel=error"], {
        cwd: pkg,
        stdio: "pipe",
        env: { ...process.env, npm_config_cache: path.join(dir, "npm-cache") },
      });
    },
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
