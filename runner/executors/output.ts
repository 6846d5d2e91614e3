// Output capture that keeps only the tail: a command may print gigabytes, the run keeps the last
// `limit` bytes (where the failure usually is) and remembers that the rest was dropped.

export class TailBuffer {
  private chunks: Buffer[] = [];
  private held = 0;
  private seen = 0;

  constructor(readonly limit: number) {
    if (!Number.isFinite(limit) || limit < 0)
      throw new RangeError(`log limit must be ≥ 0, got ${limit}`);
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.seen += chunk.length;
    if (this.limit === 0) return;
    if (chunk.length >= this.limit) {
      // One chunk covers the whole window: keep its end only (a copy, so the source can be reused).
      this.chunks = [Buffer.from(chunk.subarray(chunk.length - this.limit))];
      this.held = this.limit;
      return;
    }
    this.chunks.push(chunk);
    this.held += chunk.length;
    // Drop whole chunks that lie entirely before the window.
    while (this.chunks.length > 1 && this.held - this.chunks[0]!.length >= this.limit) {
      this.held -= this.chunks.shift()!.length;
    }
  }

  /** Bytes received in total. */
  get totalBytes(): number {
    return this.seen;
  }

  /** Whether bytes were received that the tail no longer holds. */
  get truncated(): boolean {
    return this.seen > Math.min(this.held, this.limit);
  }

  /** The last `limit` bytes. */
  bytes(): Buffer {
    const all = Buffer.concat(this.chunks, this.held);
    return all.length > this.limit ? all.subarray(all.length - this.limit) : all;
  }

  /** Forget the last `n` bytes received (ours, not the run's: see sandbox.ts's RUN_END). */
  dropEnd(n: number): void {
    this.seen = Math.max(0, this.seen - n);
    let left = n;
    while (left > 0 && this.chunks.length) {
      const last = this.chunks[this.chunks.length - 1]!;
      const cut = Math.min(left, last.length);
      if (cut === last.length) this.chunks.pop();
      else this.chunks[this.chunks.length - 1] = last.subarray(0, last.length - cut);
      this.held -= cut;
      left -= cut;
    }
  }

  /** The tail as UTF-8, without a character cut in half at its start. */
  text(): string {
    let buf = this.bytes();
    if (this.truncated) {
      let skip = 0;
      while (skip < 3 && skip < buf.length && (buf[skip]! & 0xc0) === 0x80) skip++;
      buf = buf.subarray(skip);
    }
    return buf.toString("utf8");
  }
}

/**
 * Splits Docker's multiplexed attach stream (8-byte frame headers: stream type, 3 zero bytes,
 * big-endian length) and hands every payload, stdout and stderr alike, to `sink` in order.
 */
export class DockerDemuxer {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly sink: (payload: Buffer) => void) {}

  write(chunk: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 8) {
      const type = buf[0]!;
      if (type > 2 || buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0) {
        // Not multiplexed (a TTY stream): pass everything through.
        this.sink(buf);
        buf = Buffer.alloc(0);
        break;
      }
      const length = buf.readUInt32BE(4);
      if (buf.length < 8 + length) break;
      if (length > 0) this.sink(buf.subarray(8, 8 + length));
      buf = buf.subarray(8 + length);
    }
    // Keep the partial frame (copied: the input chunk may be reused by the stream).
    this.pending = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
  }
}
