// The tar framing of an export, without its contents: ustar headers (a pax record for long or non-ASCII names), padding, the end.
/**
 * The export writes file contents as gzip members it does not touch, so it frames them itself instead of through
 * tar-stream (whose pack needs the plaintext). Same format tar-stream writes: POSIX ustar, name split into prefix/name
 * when it is ASCII and fits, otherwise a pax `path` record; sizes over 8 GiB in GNU base-256.
 */
export const BLOCK = 512;
const END = Buffer.alloc(2 * BLOCK);

export interface TarFile {
  name: string;
  size: number;
  mode: number;
  mtime: Date;
}

/** The bytes that precede a regular file's content: one header, or a pax header, its record and the header. */
export function fileHeader(f: TarFile): Buffer {
  const plain = ustar(f.name, f.size, f.mode, f.mtime, "0");
  if (plain) return plain;
  const record = paxRecord("path", f.name);
  // The pax header and the header after it carry a stand-in name; readers take the name from the record.
  return Buffer.concat([ustar("PaxHeader", record.length, f.mode, f.mtime, "x")!, record, padding(record.length), ustar("PaxHeader", f.size, f.mode, f.mtime, "0")!]);
}

/** Zeros that fill a content of `size` bytes up to the next 512-byte block. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

/** Two zero blocks: the end of the archive. */
export const endOfArchive = (): Buffer => END;

function ustar(fullName: string, size: number, mode: number, mtime: Date, type: "0" | "x"): Buffer | null {
  if (Buffer.byteLength(fullName) !== fullName.length) return null; // not ASCII: the pax record keeps it exact
  let name = fullName;
  let prefix = "";
  while (name.length > 100) {
    const i = name.indexOf("/");
    if (i === -1) return null;
    prefix += prefix ? `/${name.slice(0, i)}` : name.slice(0, i);
    name = name.slice(i + 1);
  }
  if (prefix.length > 155) return null;
  const buf = Buffer.alloc(BLOCK);
  buf.write(name, 0, "ascii");
  buf.write(octal(mode & 0o7777, 6), 100, "ascii");
  buf.write(octal(0, 6), 108, "ascii"); // uid
  buf.write(octal(0, 6), 116, "ascii"); // gid
  writeSize(buf, size);
  buf.write(octal(Math.floor(mtime.getTime() / 1000), 11), 136, "ascii");
  buf.write(type, 156, "ascii");
  buf.write("ustar\u000000", 257, "ascii");
  buf.write(octal(0, 6), 329, "ascii"); // devmajor
  buf.write(octal(0, 6), 337, "ascii"); // devminor
  if (prefix) buf.write(prefix, 345, "ascii");
  let sum = 8 * 32; // the checksum field counts as spaces
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += buf[i]!;
  buf.write(octal(sum, 6), 148, "ascii");
  return buf;
}

const octal = (n: number, digits: number): string => `${n.toString(8).padStart(digits, "0")} `;

function writeSize(buf: Buffer, size: number): void {
  if (size.toString(8).length <= 11) {
    buf.write(octal(size, 11), 124, "ascii");
    return;
  }
  buf[124] = 0x80; // GNU base-256, as tar-stream and GNU tar write sizes of 8 GiB and more
  for (let i = 11, n = size; i > 0; i--, n = Math.floor(n / 256)) buf[124 + i] = n % 256;
}

/** One pax record, "<length> <key>=<value>\n", whose length counts its own digits. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const len = Buffer.byteLength(body);
  let digits = String(len).length;
  if (len + digits >= 10 ** digits) digits++;
  return Buffer.from(`${len + digits}${body}`);
}
