// The test Go module proxy: go.sum hashes as the go command computes them, and the GOPROXY
// protocol's files served over HTTP. (The Go fixtures' end-to-end test runs the real go command
// against it, which refuses a wrong hash.)
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { goDirHash, startGoProxy, type GoProxy } from "./go-proxy";

describe("Go module proxy for tests", () => {
  let proxy: GoProxy | undefined;
  afterAll(async () => {
    await proxy?.stop();
  });

  it("hashes like the go command: the go.sum line of a module without its own go.mod", () => {
    // golang.org/x/text v0.3.0/go.mod, as every go.sum that lists it has it.
    expect(goDirHash({ "go.mod": "module golang.org/x/text\n" })).toBe(
      "h1:NqM8EUOU14njkJ3fqMW+pc6Ldnwhi/IjpwHt7yyuwOQ=",
    );
  });

  it("serves list, info, mod and zip for each published version, and 404 for others", async () => {
    proxy = await startGoProxy();
    const gomod = "module example.com/greet\n\ngo 1.19\n";
    const sums = proxy.addModule("example.com/greet", "v1.0.0", {
      "go.mod": gomod,
      "greet.go": "package greet\n",
    });
    proxy.addModule("example.com/greet", "v1.1.0", {
      "go.mod": gomod,
      "greet.go": "package greet\n",
    });
    expect(sums).toEqual([
      expect.stringMatching(/^example\.com\/greet v1\.0\.0 h1:[A-Za-z0-9+/]{43}=$/),
      `example.com/greet v1.0.0/go.mod ${goDirHash({ "go.mod": gomod })}`,
    ]);
    const get = (p: string) => fetch(`${proxy!.url}/example.com/greet/@v/${p}`);
    expect(await (await get("list")).text()).toBe("v1.0.0\nv1.1.0\n");
    expect(await (await get("v1.0.0.info")).json()).toMatchObject({ Version: "v1.0.0" });
    expect(await (await get("v1.0.0.mod")).text()).toBe(gomod);
    expect((await get("v2.0.0.mod")).status).toBe(404);

    const dir = mkdtempSync(path.join(tmpdir(), "goproxy-zip-"));
    try {
      const zip = path.join(dir, "m.zip");
      writeFileSync(zip, Buffer.from(await (await get("v1.0.0.zip")).arrayBuffer()));
      const names = execFileSync(
        "python3",
        [
          "-c",
          "import sys, zipfile; print('\\n'.join(sorted(zipfile.ZipFile(sys.argv[1]).namelist())))",
          zip,
        ],
        { encoding: "utf8" },
      );
      expect(names.trim().split("\n")).toEqual([
        "example.com/greet@v1.0.0/go.mod",
        "example.com/greet@v1.0.0/greet.go",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => proxy!.addModule("example.com/Greet", "v1.0.0", { "go.mod": gomod })).toThrow(
      /lower case/,
    );
  });
});
