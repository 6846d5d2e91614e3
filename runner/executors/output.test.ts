import { describe, expect, it } from "vitest";
import { DockerDemuxer, TailBuffer } from "./output";

describe("TailBuffer", () => {
  it("keeps everything under the limit", () => {
    const t = new TailBuffer(10);
    t.push(Buffer.from("abc"));
    t.push(Buffer.from("def"));
    expect(t.text()).toBe("abcdef");
    expect(t.truncated).toBe(false);
  });

  it("keeps exactly the last bytes over many chunks", () => {
    const t = new TailBuffer(7);
    for (const c of ["0123", "4567", "89", "abcdef"]) t.push(Buffer.from(c));
    expect(t.text()).toBe("89abcdef".slice(-7));
    expect(t.truncated).toBe(true);
    expect(t.totalBytes).toBe(16);
  });

  it("handles a chunk larger than the limit and a zero limit", () => {
    const t = new TailBuffer(3);
    t.push(Buffer.from("xy"));
    t.push(Buffer.from("0123456789"));
    expect(t.text()).toBe("789");
    const z = new TailBuffer(0);
    z.push(Buffer.from("abc"));
    expect(z.text()).toBe("");
    expect(z.truncated).toBe(true);
  });

  it("forgets the last bytes across chunks, and counts them out of the total", () => {
    const t = new TailBuffer(6);
    for (const c of ["0123", "45", "6789"]) t.push(Buffer.from(c));
    t.dropEnd(5);
    // What the window had already let go of ("0123") stays gone, and the tail says so.
    expect(t.text()).toBe("4");
    expect(t.totalBytes).toBe(5);
    expect(t.truncated).toBe(true);
    const v = new TailBuffer(10);
    v.push(Buffer.from("abc"));
    v.push(Buffer.from("def"));
    v.dropEnd(4);
    expect(v.text()).toBe("ab");
    expect(v.truncated).toBe(false);
    const u = new TailBuffer(4);
    u.push(Buffer.from("abcdefgh"));
    u.dropEnd(2);
    expect(u.text()).toBe("ef");
    expect(u.truncated).toBe(true);
  });

  it("does not start with half a character", () => {
    const t = new TailBuffer(5);
    t.push(Buffer.from("ééé")); // 6 bytes: the cut falls inside the first é
    expect(t.text()).toBe("éé");
  });
});

describe("DockerDemuxer", () => {
  const frame = (type: number, text: string) => {
    const payload = Buffer.from(text);
    const header = Buffer.alloc(8);
    header[0] = type;
    header.writeUInt32BE(payload.length, 4);
    return Buffer.concat([header, payload]);
  };

  it("joins stdout and stderr in order across arbitrary chunk boundaries", () => {
    const all = Buffer.concat([
      frame(1, "out1\n"),
      frame(2, "err1\n"),
      frame(1, ""),
      frame(1, "out2\n"),
    ]);
    for (let size = 1; size <= all.length; size++) {
      const got: string[] = [];
      const d = new DockerDemuxer((p) => got.push(p.toString()));
      for (let i = 0; i < all.length; i += size) d.write(all.subarray(i, i + size));
      expect(got.join("")).toBe("out1\nerr1\nout2\n");
    }
  });
});
