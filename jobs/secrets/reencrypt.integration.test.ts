import { randomBytes } from "node:crypto";
import { Model } from "objection";
import { beforeAll, describe, expect, it } from "vitest";
import { decryptSecret, encryptSecret } from "../../db/crypto";
import { tokenAssociatedData, User } from "../../db/models";
import { useTestDatabase } from "../../tests/helpers/database";
import { reencryptTokens } from "./reencrypt";

const db = useTestDatabase();
beforeAll(() => {
  Model.knex(db.current.knex);
});

describe("encryption key rotation", () => {
  it("re-encrypts every token with the new key, and clears what no key opens", async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const lost = randomBytes(32);
    const a = await User.query().insert({
      githubId: 1,
      login: "a",
      oauthTokenEncrypted: encryptSecret("gho_aaa", oldKey, tokenAssociatedData(1)),
    });
    const b = await User.query().insert({
      githubId: 2,
      login: "b",
      oauthTokenEncrypted: encryptSecret("gho_bbb", newKey, tokenAssociatedData(2)),
    });
    const c = await User.query().insert({
      githubId: 3,
      login: "c",
      oauthTokenEncrypted: encryptSecret("gho_ccc", lost, tokenAssociatedData(3)),
    });

    const report = await reencryptTokens(db.current.knex, {
      ENCRYPTION_KEY: newKey.toString("base64"),
      ENCRYPTION_KEY_PREVIOUS: oldKey.toString("base64"),
    });
    expect(report).toEqual({ reencrypted: 2, cleared: 1 });
    const rows = await User.query().whereIn("id", [a.id, b.id, c.id]).orderBy("githubId");
    // Both readable with the new key alone now; nothing in plain text.
    expect(decryptSecret(rows[0]!.oauthTokenEncrypted!, newKey, tokenAssociatedData(1))).toBe(
      "gho_aaa",
    );
    expect(decryptSecret(rows[1]!.oauthTokenEncrypted!, newKey, tokenAssociatedData(2))).toBe(
      "gho_bbb",
    );
    expect(rows[2]!.oauthTokenEncrypted).toBeNull();
    expect(JSON.stringify(rows)).not.toMatch(/gho_/);
  });
});
