// A Go module proxy for tests. The GOPROXY protocol is plain files — `$module/@v/list`,
// `$module/@v/$version.{info,mod,zip}` — so the proxy is a directory made here, served by a real
// static HTTP server (Python's http.server) on 127.0.0.1. `GOPROXY=<url>` makes the go command
// download from it with nothing else reachable.
//
// Modules added here also give their go.sum lines (the `h1:` hashes the go command checks), so a
// fixture can commit a complete go.sum, as real projects do, and needs no checksum database.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../../db/embedded";

export interface GoProxy {
  /** `http://127.0.0.1:port` — a value for GOPROXY. */
  url: string;
  /**
   * Publish `module` at `version` (`v1.2.3`) made of `files` (go.mod included, paths relative to
   * the module root). Returns its two go.sum lines.
   */
  addModule(module: string, version: string, files: Record<string, string>): string[];
  stop(): Promise<void>;
}

/** golang.org/x/mod/sumdb/dirhash Hash1: "h1:" + base64(sha256 of "sha256hex  name\n" lines). */
export function goDirHash(files: Record<string, string>): string {
  const summary = createHash("sha256");
  for (const name of Object.keys(files).sort()) {
    const digest = createHash("sha256").update(files[name]!).digest("hex");
    summary.update(`${digest}  ${name}\n`);
  }
  return `h1:${summary.digest("base64")}`;
}

// Writes a zip of the files under a directory, each stored under `prefix` + its relative path.
const ZIP = `
import os, sys, zipfile
out, root, prefix = sys.argv[1:4]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for base, _, names in os.walk(root):
        for name in names:
            full = os.path.join(base, name)
            z.write(full, prefix + os.path.relpath(full, root))
`;

async function waitForServer(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`http.server exited with ${child.exitCode}`);
    const ok = await fetch(url).then(
      (r) => r.status < 500,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the Go module proxy on ${url} did not answer within 30 s`);
}

export async function startGoProxy(): Promise<GoProxy> {
  const dir = mkdtempSync(path.join(tmpdir(), "bisect-goproxy-"));
  const root = path.join(dir, "root");
  mkdirSync(root);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    "python3",
    ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", root],
    { stdio: "ignore" },
  );
  try {
    await waitForServer(`${url}/`, child);
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const versions = new Map<string, string[]>();
  return {
    url,
    addModule(module, version, files) {
      // Upper-case letters would need the protocol's `!x` escaping; fixtures do not need them.
      if (!/^[a-z0-9.\-_/]+$/.test(module))
        throw new Error(`module path ${module}: lower case only`);
      if (!/^v\d+\.\d+\.\d+$/.test(version)) throw new Error(`version ${version}: vX.Y.Z only`);
      if (files["go.mod"] === undefined) throw new Error(`${module}@${version} has no go.mod`);
      const at = path.join(root, module, "@v");
      mkdirSync(at, { recursive: true });
      const source = path.join(dir, "src", `${module}@${version}`);
      for (const [name, content] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(source, name)), { recursive: true });
        writeFileSync(path.join(source, name), content);
      }
      const prefix = `${module}@${version}/`;
      execFileSync("python3", ["-c", ZIP, path.join(at, `${version}.zip`), source, prefix]);
      writeFileSync(path.join(at, `${version}.mod`), files["go.mod"]);
      writeFileSync(
        path.join(at, `${version}.info`),
        JSON.stringify({ Version: version, Time: "2026-01-01T00:00:00Z" }),
      );
      const list = [...(versions.get(module) ?? []), version];
      versions.set(module, list);
      writeFileSync(path.join(at, "list"), list.map((v) => `${v}\n`).join(""));
      const zipped = Object.fromEntries(Object.entries(files).map(([n, c]) => [prefix + n, c]));
      return [
        `${module} ${version} ${goDirHash(zipped)}`,
        `${module} ${version}/go.mod ${goDirHash({ "go.mod": files["go.mod"] })}`,
      ];
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
