// The test databases stand for separate deployments: each has its own instance id, so one test
// file's clean-ups never touch another's containers or volumes on the engines they share.
import { describe, expect, it } from "vitest";
import { instanceId } from "../../db/instance";
import { createTestDatabase } from "./database";

describe("test databases", () => {
  it("are each a deployment of their own", async () => {
    const a = await createTestDatabase();
    const b = await createTestDatabase();
    try {
      const [idA, idB] = [await instanceId(a.knex), await instanceId(b.knex)];
      expect(idA).toMatch(/^[0-9a-f]{32}$/);
      expect(idB).toMatch(/^[0-9a-f]{32}$/);
      expect(idA).not.toBe(idB);
    } finally {
      await a.drop();
      await b.drop();
    }
  });
});
