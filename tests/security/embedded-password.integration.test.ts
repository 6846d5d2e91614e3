// The embedded PostgreSQL's superuser gets a generated password (kept with the data, 0600), not
// the well-known "postgres"; a restart finds it again.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { spawnEmbeddedPostgres } from "../../db/embedded-process";

const dataDir = mkdtempSync(path.join(tmpdir(), "bisect-pw-pg-"));

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function connects(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

describe("the embedded PostgreSQL", () => {
  it("has a generated superuser password that survives a restart", async () => {
    let server = await spawnEmbeddedPostgres(dataDir, { persistent: true });
    try {
      const url = new URL(server.url);
      const password = decodeURIComponent(url.password);
      expect(password).not.toBe("postgres");
      expect(password.length).toBeGreaterThanOrEqual(24);
      expect(await connects(server.url)).toBe(true);
      const wellKnown = new URL(server.url);
      wellKnown.password = "postgres";
      expect(await connects(wellKnown.toString())).toBe(false);
      expect(statSync(path.join(dataDir, "bisect-superuser-password")).mode & 0o777).toBe(0o600);
      await server.stop();
      server = await spawnEmbeddedPostgres(dataDir, { persistent: true });
      expect(decodeURIComponent(new URL(server.url).password)).toBe(password);
      expect(await connects(server.url)).toBe(true);
    } finally {
      await server.stop();
    }
  }, 120_000);
});
