// The last step of an ENCRYPTION_KEY rotation: every stored token re-encrypted with the current
// key, so the previous one (ENCRYPTION_KEY_PREVIOUS) can be dropped. Tokens no key opens are
// cleared: their users simply sign in again. Run by the admin command `secrets re-encrypt`.
import type { Knex } from "knex";
import type { Config } from "../../config/env";
import {
  decryptWithAnyKey,
  DecryptionError,
  encryptSecret,
  parseEncryptionKey,
} from "../../db/crypto";
import { tokenAssociatedData, User } from "../../db/models";

export interface ReencryptReport {
  reencrypted: number;
  cleared: number;
}

export async function reencryptTokens(
  knex: Knex,
  config: Pick<Config, "ENCRYPTION_KEY" | "ENCRYPTION_KEY_PREVIOUS">,
): Promise<ReencryptReport> {
  if (!config.ENCRYPTION_KEY) throw new Error("ENCRYPTION_KEY is not set");
  const current = parseEncryptionKey(config.ENCRYPTION_KEY);
  const keys = [
    current,
    ...(config.ENCRYPTION_KEY_PREVIOUS ? [parseEncryptionKey(config.ENCRYPTION_KEY_PREVIOUS)] : []),
  ];
  const report: ReencryptReport = { reencrypted: 0, cleared: 0 };
  const users = await User.query(knex)
    .whereNotNull("oauthTokenEncrypted")
    .select("id", "githubId", "oauthTokenEncrypted");
  for (const user of users) {
    const ad = tokenAssociatedData(user.githubId);
    let token: string;
    try {
      token = decryptWithAnyKey(user.oauthTokenEncrypted!, keys, ad);
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      await User.query(knex).patch({ oauthTokenEncrypted: null }).where({ id: user.id });
      report.cleared++;
      continue;
    }
    await User.query(knex)
      .patch({ oauthTokenEncrypted: encryptSecret(token, current, ad) })
      .where({ id: user.id });
    report.reencrypted++;
  }
  return report;
}
