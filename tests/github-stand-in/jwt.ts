// RS256 JSON Web Tokens as GitHub checks a GitHub App's JWT: signature by the app's key, `iss` the
// app id (or client id), `exp` in the future and at most ten minutes after `iat`, `iat` not ahead.
import { createPublicKey, generateKeyPairSync, verify, type KeyObject } from "node:crypto";

/** A fresh RSA key in the form GitHub hands out for an App: PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`). */
export function makeAppKey(): string {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return privateKey.export({ type: "pkcs1", format: "pem" }).toString();
}

export function publicKeyFrom(key: string | KeyObject): KeyObject {
  if (typeof key !== "string") return key.type === "public" ? key : createPublicKey(key);
  return createPublicKey(key.replace(/\\n/g, "\n"));
}

export type JwtCheck =
  { ok: true; payload: Record<string, unknown> } | { ok: false; message: string };

export const JWT_MESSAGES = {
  undecodable: "A JSON web token could not be decoded",
  expired:
    "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
  tooLong: "'Expiration time' claim ('exp') is too far in the future",
  iatAhead:
    "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
  issuer: "'Issuer' claim ('iss') must be an Integer",
  unknownIssuer: "Integration not found",
} as const;

export function looksLikeJwt(token: string): boolean {
  return /^eyJ[\w-]*\.[\w-]+\.[\w-]+$/.test(token);
}

function decodePart(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return value && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

export function verifyAppJwt(
  token: string,
  app: { id: number; clientId?: string; publicKey: KeyObject },
  nowSeconds = Math.floor(Date.now() / 1000),
): JwtCheck {
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, message: JWT_MESSAGES.undecodable };
  const [h, p, s] = parts as [string, string, string];
  const header = decodePart(h);
  const payload = decodePart(p);
  if (!header || !payload || header.alg !== "RS256")
    return { ok: false, message: JWT_MESSAGES.undecodable };
  const signatureOk = verify(
    "RSA-SHA256",
    Buffer.from(`${h}.${p}`),
    app.publicKey,
    Buffer.from(s, "base64url"),
  );
  if (!signatureOk) return { ok: false, message: JWT_MESSAGES.undecodable };

  const iss = payload.iss;
  if (typeof iss !== "number" && typeof iss !== "string")
    return { ok: false, message: JWT_MESSAGES.issuer };
  if (String(iss) !== String(app.id) && (app.clientId === undefined || iss !== app.clientId)) {
    return { ok: false, message: JWT_MESSAGES.unknownIssuer };
  }
  const { iat, exp } = payload;
  if (typeof iat !== "number" || !Number.isInteger(iat))
    return { ok: false, message: JWT_MESSAGES.iatAhead };
  if (typeof exp !== "number" || exp <= nowSeconds)
    return { ok: false, message: JWT_MESSAGES.expired };
  // GitHub tolerates a little clock drift on iat and caps the lifetime at ten minutes.
  if (iat > nowSeconds + 60) return { ok: false, message: JWT_MESSAGES.iatAhead };
  if (exp - iat > 600 || exp > nowSeconds + 660)
    return { ok: false, message: JWT_MESSAGES.tooLong };
  return { ok: true, payload };
}
