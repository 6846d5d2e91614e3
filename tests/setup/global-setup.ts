// One PostgreSQL for the whole run (embedded unless TEST_DATABASE_URL is set) and a migrated
// template database; each test file clones its own database from the template.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { createKnex, withDatabase } from "../../db/connection";
import { spawnEmbeddedPostgres, type EmbeddedProcess } from "../../db/embedded-process";
import { migrateLatest } from "../../db/migrate";
import { buildIfStale } from "../../scripts/lib/build";
import { hasDockerRegistry, startRegistry, type LocalRegistry } from "../helpers/registry";

export const TEMPLATE_DATABASE = "bisect_test_template";

declare module "vitest" {
  export interface ProvidedContext {
    /** A superuser URL of the test server (any database name). */
    testServerUrl: string;
    templateDatabase: string;
    /** `127.0.0.1:port` of the run's image registry, or "" without docker-registry. */
    imageRegistry: string;
  }
}

let embedded: EmbeddedProcess | null = null;
let registry: LocalRegistry | null = null;

export async function setup(project: TestProject): Promise<void> {
  // One build for the whole run, before any test file could start a second one in parallel.
  buildIfStale();
  let serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    // mkdtemp gives a 0700 dir: use it as the data dir itself (its parent, /tmp, is traversable).
    const dataDir = mkdtempSync(path.join(tmpdir(), "bisect-test-pg-"));
    embedded = await spawnEmbeddedPostgres(dataDir, { persistent: false });
    serverUrl = embedded.url;
  }
  const admin = createKnex(serverUrl, { poolMax: 1 });
  try {
    await admin.raw(`drop database if exists ${TEMPLATE_DATABASE} with (force)`);
    await admin.raw(`create database ${TEMPLATE_DATABASE}`);
  } finally {
    await admin.destroy();
  }
  const templateUrl = withDatabase(serverUrl, TEMPLATE_DATABASE);
  const template = createKnex(templateUrl, { poolMax: 1 });
  try {
    await migrateLatest(template, templateUrl);
  } finally {
    await template.destroy();
  }
  project.provide("testServerUrl", serverUrl);
  project.provide("templateDatabase", TEMPLATE_DATABASE);
  // One image registry for the run: images pushed by one test file are there for the next.
  if (hasDockerRegistry()) registry = await startRegistry();
  project.provide("imageRegistry", registry?.address ?? "");
}

export async function teardown(): Promise<void> {
  await registry?.stop();
  await embedded?.stop();
}
