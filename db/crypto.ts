// Secrets at rest (users' GitHub OAuth tokens): AES-256-GCM with a key from ENCRYPTION_KEY.
// Pure functions: no configuration, no I/O.
//
// Stored format (one ASCII string): `v1.<iv>.<tag>.<ciphertext>`, each part base64url without
// padding; iv is 12 random bytes (fresh for every encryption), tag the 16-byte GCM tag. Optional
// associated data (e.g. `user:<github id>`) binds a ciphertext to its row: moved to another row it
// no longer decrypts. The `v1` prefix leaves room for another algorithm or a key rotation.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { decodeKey32 } from "../config/env";

const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

export class DecryptionError extends Error {
  override name = "DecryptionError";
}

/** The 32-byte key from its hex (64 digits) or base64 form (ENCRYPTION_KEY). */
export function parseEncryptionKey(encoded: string): Buffer {
  const key = decodeKey32(encoded);
  if (!key)
    throw new Error(`the encryption key must be ${KEY_BYTES} bytes, hex- or base64-encoded`);
  return key;
}

function checkKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new Error(`the encryption key must be ${KEY_BYTES} bytes`);
}

export function encryptSecret(plaintext: string, key: Buffer, associatedData?: string): string {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  if (associatedData !== undefined) cipher.setAAD(Buffer.from(associatedData, "utf8"));
  const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [
    VERSION,
    iv.toString("base64url"),
    tag.toString("base64url"),
    data.toString("base64url"),
  ].join(".");
}

/** Decrypts with the first key that fits (the current key first, then the previous one during a rotation). */
export function decryptWithAnyKey(
  stored: string,
  keys: readonly Buffer[],
  associatedData?: string,
): string {
  let last: unknown = new DecryptionError("no encryption key");
  for (const key of keys) {
    try {
      return decryptSecret(stored, key, associatedData);
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      last = error;
    }
  }
  throw last;
}

/** The plaintext, or a DecryptionError when the value is malformed, altered, or from another key or row. */
export function decryptSecret(stored: string, key: Buffer, associatedData?: string): string {
  checkKey(key);
  const parts = stored.split(".");
  if (parts.length !== 4 || parts[0] !== VERSION)
    throw new DecryptionError("not an encrypted value of a known version");
  const [, ivText, tagText, dataText] = parts as [string, string, string, string];
  const b64url = /^[A-Za-z0-9_-]*$/;
  if (!b64url.test(ivText) || !b64url.test(tagText) || !b64url.test(dataText))
    throw new DecryptionError("malformed encrypted value");
  const iv = Buffer.from(ivText, "base64url");
  const tag = Buffer.from(tagText, "base64url");
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES)
    throw new DecryptionError("malformed encrypted value");
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
    if (associatedData !== undefined) decipher.setAAD(Buffer.from(associatedData, "utf8"));
    decipher.setAuthTag(tag);
    return Buffer.concat([
      decipher.update(Buffer.from(dataText, "base64url")),
      decipher.final(),
    ]).toString("utf8");
  } catch {
    throw new DecryptionError(
      "the value does not decrypt with this key (altered, or encrypted with another key)",
    );
  }
}
