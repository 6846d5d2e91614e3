// A webhook body, read as it streams in: refused as soon as it passes the size limit, and held
// only within a process-wide budget of bytes (a well-formed signature header is no proof: anyone
// can send one). The signature is checked by the caller's verifier (@octokit/webhooks).

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
 * a chunked body reserves as it grows. The body is handed on only when `verify` accepts it.
 */
export async function readSignedBody(
  request: Request,
  options: {
    limit: number;
    budget: BodyBudget;
    /** Whether the signature matches this body (constant-time, in the verifier). */
    verify: (body: string) => Promise<boolean>;
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
      chunks.push(value);
    }
    // Byte-exact: no BOM stripping, so the verifier sees what GitHub signed.
    const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(Buffer.concat(chunks));
    const valid = text !== "" && (await options.verify(text));
    return { kind: "read", body: valid ? text : "", valid, bytes: size };
  } finally {
    budget.release(reserved);
  }
}
