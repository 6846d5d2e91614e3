// The dependency direction is enforced by ESLint; this keeps the rule itself honest.
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const eslint = new ESLint();
async function restrictedImports(file: string, source: string): Promise<number> {
  const [result] = await eslint.lintText(source, { filePath: file });
  return result!.messages.filter((m) => m.ruleId === "no-restricted-imports").length;
}

describe("layer rule", () => {
  it.each([
    [
      "runner/engine/x.ts",
      'import { createKnex } from "../../db/connection";\nexport const k = createKnex;',
    ],
    ["runner/x.ts", 'import { loadConfig } from "../config/env";\nexport const c = loadConfig;'],
    ["jobs/x.ts", 'import { getDb } from "../app/db.server";\nexport const d = getDb;'],
    [
      "runner/git/x.ts",
      'import { RunnerHost } from "../../db/models";\nexport const h = RunnerHost;',
    ],
    // runner/ imports no db/ at all, in any of its folders.
    ["runner/x.ts", 'import { RunnerLease } from "../db/models";\nexport const l = RunnerLease;'],
    [
      "runner/farm/x.ts",
      'import { createKnex } from "../../db/connection";\nexport const k = createKnex;',
    ],
    ["db/x.ts", 'import { decide } from "../runner/engine/engine";\nexport const d = decide;'],
    [
      "app/x.server.ts",
      'import { safeEqual } from "../server/guards";\nexport const s = safeEqual;',
    ],
    [
      "app/x.server.ts",
      'import { createTestDatabase } from "../tests/helpers/database";\nexport const t = createTestDatabase;',
    ],
  ])("refuses %s importing a layer above it", async (file, source) => {
    expect(await restrictedImports(file, source)).toBe(1);
  });

  it.each([
    ["app/x.server.ts", 'import { enqueue } from "../jobs/enqueue";\nexport const e = enqueue;'],
    ["jobs/x.ts", 'import { createKnex } from "../db/connection";\nexport const k = createKnex;'],
    [
      "jobs/farm/x.ts",
      'import { createKnex } from "../../db/connection";\nexport const k = createKnex;',
    ],
    [
      "jobs/x.test.ts",
      'import { useTestDatabase } from "../tests/helpers/database";\nexport const u = useTestDatabase;',
    ],
  ])("allows %s importing downwards", async (file, source) => {
    expect(await restrictedImports(file, source)).toBe(0);
  });
});
