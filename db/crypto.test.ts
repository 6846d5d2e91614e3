import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  DecryptionError,
  decryptSecret,
  decryptWithAnyKey,
  encryptSecret,
  parseEncryptionKey,
} from "./crypto";

const key = randomBytes(32);

describe("encryptSecret / decryptSecret", () => {
  it("round-trips, with a fresh IV every time and no trace of the plaintext", () => {
    const token = "gho_16C7e42F292c6912E7710c838347Ae178B4a";
    const a = encryptSecret(token, key, "user:42");
    const b = encryptSecret(token, key, "user:42");
    expect(a).not.toBe(b);
    expect(a).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
    expect(a).not.toContain(token);
    expect(a).not.toContain(Buffer.from(token).toString("base64"));
    expect(decryptSecret(a, key, "user:42")).toBe(token);
    expect(decryptSecret(b, key, "user:42")).toBe(token);
  });

  it("handles empty and non-ASCII text", () => {
    expect(decryptSecret(encryptSecret("", key), key)).toBe("");
    expect(decryptSecret(encryptSecret("jeton ✓ 🔑", key), key)).toBe("jeton ✓ 🔑");
  });

  it("refuses another key, other associated data, and any altered part", () => {
    const stored = encryptSecret("secret", key, "user:1");
    expect(() => decryptSecret(stored, randomBytes(32), "user:1")).toThrow(DecryptionError);
    expect(() => decryptSecret(stored, key, "user:2")).toThrow(DecryptionError);
    expect(() => decryptSecret(stored, key)).toThrow(DecryptionError);
    const [v, iv, tag, data] = stored.split(".") as [string, string, string, string];
    const flip = (s: string) => {
      const bytes = Buffer.from(s, "base64url");
      bytes[0] = bytes[0]! ^ 1;
      return bytes.toString("base64url");
    };
    expect(() => decryptSecret([v, flip(iv), tag, data].join("."), key, "user:1")).toThrow(
      DecryptionError,
    );
    expect(() => decryptSecret([v, iv, flip(tag), data].join("."), key, "user:1")).toThrow(
      DecryptionError,
    );
    expect(() => decryptSecret([v, iv, tag, flip(data)].join("."), key, "user:1")).toThrow(
      DecryptionError,
    );
  });

  it("refuses malformed values and unknown versions", () => {
    for (const bad of [
      "",
      "secret",
      "v1.a.b",
      "v2.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AA",
      "v1.!!.??.**",
      "v1.AAAA.AAAAAAAAAAAAAAAAAAAAAA.AA",
    ]) {
      expect(() => decryptSecret(bad, key)).toThrow(DecryptionError);
    }
  });

  it("wants a 32-byte key", () => {
    expect(() => encryptSecret("x", randomBytes(16))).toThrow(/32 bytes/);
    expect(() => parseEncryptionKey(randomBytes(31).toString("base64"))).toThrow(/32 bytes/);
    expect(parseEncryptionKey(key.toString("base64")).equals(key)).toBe(true);
    expect(parseEncryptionKey(key.toString("hex")).equals(key)).toBe(true);
  });
});

describe("key rotation", () => {
  it("decrypts with the previous key while the new one is current, and refuses unknown keys", () => {
    const previous = randomBytes(32);
    const current = randomBytes(32);
    const stored = encryptSecret("gho_token", previous, "user:7");
    expect(decryptWithAnyKey(stored, [current, previous], "user:7")).toBe("gho_token");
    expect(() => decryptWithAnyKey(stored, [current], "user:7")).toThrow(DecryptionError);
    expect(() => decryptWithAnyKey(stored, [current, previous], "user:8")).toThrow(DecryptionError);
  });
});
