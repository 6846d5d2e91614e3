// A Python package index for tests: a PEP 503 "simple" index of wheels built here (with the
// standard library's zipfile, no build tools), served over HTTP on 127.0.0.1. `pip install
// --index-url <url>` installs from it with no other index reachable.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

export interface PythonIndex {
  /** `http://127.0.0.1:port/simple/` */
  url: string;
  /** Build a pure-Python wheel of `name` `version` holding `module`.py and add it to the index. */
  addWheel(name: string, version: string, module: string): void;
  stop(): Promise<void>;
}

// Writes name-version-py3-none-any.whl: the module, METADATA, WHEEL and RECORD (with hashes).
const BUILD_WHEEL = `
import base64, hashlib, sys, zipfile
out, name, version, source = sys.argv[1:5]
dist = f"{name}-{version}.dist-info"
files = {
    f"{name}.py": open(source, "rb").read(),
    f"{dist}/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n".encode(),
    f"{dist}/WHEEL": b"Wheel-Version: 1.0\\nGenerator: bisect-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
record = []
for path, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(data)}")
record.append(f"{dist}/RECORD,,")
files[f"{dist}/RECORD"] = ("\\n".join(record) + "\\n").encode()
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for path, data in files.items():
        z.writestr(path, data)
`;

const normalize = (name: string) => name.toLowerCase().replace(/[-_.]+/g, "-");

export async function startPythonIndex(): Promise<PythonIndex> {
  const dir = mkdtempSync(path.join(tmpdir(), "bisect-pyindex-"));
  const wheels = new Map<string, { file: string; sha256: string }[]>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://index");
    const parts = url.pathname.split("/").filter(Boolean);
    const html = (body: string) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(`<!DOCTYPE html><html><body>\n${body}</body></html>\n`);
    };
    if (parts[0] === "simple" && parts.length === 1)
      return html([...wheels.keys()].map((n) => `<a href="/simple/${n}/">${n}</a><br>\n`).join(""));
    if (parts[0] === "simple" && parts.length === 2) {
      const list = wheels.get(normalize(parts[1]!));
      if (list)
        return html(
          list
            .map((w) => `<a href="/files/${w.file}#sha256=${w.sha256}">${w.file}</a><br>\n`)
            .join(""),
        );
    }
    if (parts[0] === "files" && parts.length === 2 && /^[\w.-]+\.whl$/.test(parts[1]!)) {
      try {
        const data = readFileSync(path.join(dir, parts[1]!));
        res.writeHead(200, { "content-type": "application/octet-stream" });
        return res.end(data);
      } catch {
        // not found below
      }
    }
    res.writeHead(404).end("not found\n");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/simple/`,
    addWheel(name, version, module) {
      const source = path.join(dir, `${name}-${version}.py`);
      writeFileSync(source, module);
      const file = `${name}-${version}-py3-none-any.whl`;
      execFileSync("python3", ["-c", BUILD_WHEEL, path.join(dir, file), name, version, source]);
      const sha256 = createHash("sha256")
        .update(readFileSync(path.join(dir, file)))
        .digest("hex");
      const key = normalize(name);
      wheels.set(key, [...(wheels.get(key) ?? []), { file, sha256 }]);
    },
    stop: async () => {
      await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
