// A webhook body, read as it streams in: refused as soon as it passes the size limit, held only
// within a process-wide budget of bytes (a well-formed signature header is no proof: anyone can
// send one), and its HMAC computed on the way, over the exact bytes GitHub signed.
import { createHmac, timingSafeEqual, type Hmac } from "node:crypto";

/** Bytes of webhook bodies held at once in this process; a request that does not fit is refused. */
export class BodyBudget {
  private used = 0;
  constructor(readonly total: number) {}

  reserve(bytes: number): boolean {
    if (this.used + bytes > this.total) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }

  get inUse(): number {
    return this.used;
  }
}

export type SignedBody =
  | { kind: "read"; body: string; valid: boolean; bytes: number }
  | { kind: "too-large" }
  | { kind: "busy" };

/**
 * Reads the body of a request whose `X-Hub-Signature-256` is well formed (`sha256=<64 hex>`).
 * `declared` (Content-Length, when given) is reserved from the budget before anything is read;
 * a chunked body reserves as it grows. The body is decoded only when its signature matches one
 * of `secrets`, compared in constant time.
 */
export async function readSignedBody(
  request: Request,
  options: {
    limit: number;
    budget: BodyBudget;
    secrets: string[];
    signature: string;
    declared: number | null;
  },
): Promise<SignedBody> {
  const { limit, budget, declared } = options;
  if (declared !== null && declared > limit) return { kind: "too-large" };
  let reserved = 0;
  const take = (bytes: number) => {
    if (!budget.reserve(bytes)) return false;
    reserved += bytes;
    return true;
  };
  if (declared !== null && !take(declared)) return { kind: "busy" };
  const macs: Hmac[] = options.secrets.map((s) => createHmac("sha256", s));
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body?.getReader();
  try {
    for (;;) {
      if (!reader) break;
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        return { kind: "too-large" };
      }
      if (size > reserved && !take(size - reserved)) {
        await reader.cancel().catch(() => {});
        return { kind: "busy" };
      }
      for (const mac of macs) mac.update(value);
      chunks.push(value);
    }
    const expected = Buffer.from(options.signature.slice("sha256=".length), "hex");
    // Every digest is compared, so the time taken does not tell which secret matched.
    const matches = macs.map((mac) => timingSafeEqual(mac.digest(), expected));
    const valid = matches.some(Boolean);
    // Byte-exact: no BOM stripping; decoded only when it is GitHub's.
    const body = valid
      ? new TextDecoder("utf-8", { ignoreBOM: true }).decode(Buffer.concat(chunks))
      : "";
    return { kind: "read", body, valid, bytes: size };
  } finally {
    budget.release(reserved);
  }
}
