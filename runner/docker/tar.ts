// A minimal ustar writer for small in-memory build contexts (a Dockerfile and a few files).
// Enough for `docker build`; not a general archiver (no links, no long names beyond ustar's 255).

export interface TarEntry {
  /** Relative path inside the archive, `/`-separated. */
  name: string;
  content: Buffer | string;
  /** Unix permission bits, default 0o644. */
  mode?: number;
}

const BLOCK = 512;

function writeString(header: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length > length) throw new Error(`tar: field too long: ${value}`);
  bytes.copy(header, offset);
}

function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  // length-1 octal digits followed by NUL
  const digits = value.toString(8).padStart(length - 1, "0");
  if (digits.length > length - 1) throw new Error(`tar: number too large: ${value}`);
  writeString(header, offset, length, `${digits}\0`);
}

function splitName(name: string): { prefix: string; base: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: "", base: name };
  const cut = name.lastIndexOf("/", 155);
  if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100)
    throw new Error(`tar: name too long: ${name}`);
  return { prefix: name.slice(0, cut), base: name.slice(cut + 1) };
}

/** A complete tar archive of regular files, mtime 0 and owner 0:0, so equal input gives equal bytes. */
export function tarFiles(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith("/") || entry.name.split("/").includes(".."))
      throw new Error(`tar: unsafe name: ${entry.name}`);
    const content =
      typeof entry.content === "string" ? Buffer.from(entry.content, "utf8") : entry.content;
    const header = Buffer.alloc(BLOCK, 0);
    const { prefix, base } = splitName(entry.name);
    writeString(header, 0, 100, base);
    writeOctal(header, 100, 8, entry.mode ?? 0o644);
    writeOctal(header, 108, 8, 0); // uid
    writeOctal(header, 116, 8, 0); // gid
    writeOctal(header, 124, 12, content.length);
    writeOctal(header, 136, 12, 0); // mtime
    header.fill(0x20, 148, 156); // checksum field counts as spaces while summing
    header[156] = 0x30; // "0": regular file
    writeString(header, 257, 6, "ustar\0");
    writeString(header, 263, 2, "00");
    writeString(header, 345, 155, prefix);
    let sum = 0;
    for (const byte of header) sum += byte;
    writeString(header, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
    parts.push(header, content);
    const pad = (BLOCK - (content.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}
