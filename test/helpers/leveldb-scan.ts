import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

/**
 * Reads every file of a LevelDB directory the way an attacker with the disk
 * would, for tests that assert what is (not) stored in clear.
 *
 * A plain byte search is not enough: table files store keys prefix-compressed
 * (a key shares its first bytes with the one before it) and blocks are
 * usually Snappy-compressed, so a string can be on disk without appearing as
 * contiguous bytes. This decodes table files (footer → index → data blocks,
 * Snappy, prefix compression), write-ahead logs (log records → WriteBatch)
 * and MANIFEST files (log records → VersionEdit, whose file boundaries are
 * keys), and keeps the raw bytes of everything else (LOG, CURRENT, …).
 * It throws on anything it cannot decode, so that a test never passes
 * because a file went unread.
 */

/** One key/value found in a file; `value` is empty for deletions and boundary keys. */
export interface ScannedEntry {
  file: string;
  kind: "table" | "wal" | "manifest";
  key: Buffer;
  value: Buffer;
}

export interface ScannedDatabase {
  entries: ScannedEntry[];
  /** Raw bytes of every file that is not a table, a WAL or a MANIFEST. */
  others: { file: string; bytes: Buffer }[];
  /** Raw bytes of every file, decoded or not. */
  raw: { file: string; bytes: Buffer }[];
  stats: { tables: number; wals: number; manifests: number; blocks: number; snappyBlocks: number };
}

export function scanLevelDb(dir: string): ScannedDatabase {
  const out: ScannedDatabase = {
    entries: [],
    others: [],
    raw: [],
    stats: { tables: 0, wals: 0, manifests: 0, blocks: 0, snappyBlocks: 0 },
  };
  for (const name of readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    if (!statSync(file).isFile()) continue;
    const bytes = readFileSync(file);
    out.raw.push({ file: name, bytes });
    try {
      if (/\.(ldb|sst)$/.test(name)) {
        out.stats.tables++;
        readTable(name, bytes, out);
      } else if (/^\d+\.log$/.test(name)) {
        out.stats.wals++;
        for (const record of readLogRecords(bytes)) readWriteBatch(name, record, out);
      } else if (/^MANIFEST-\d+$/.test(name)) {
        out.stats.manifests++;
        for (const record of readLogRecords(bytes)) readVersionEdit(name, record, out);
      } else {
        out.others.push({ file: name, bytes });
      }
    } catch (err) {
      throw new Error(`cannot decode ${file}: ${(err as Error).message}`);
    }
  }
  return out;
}

export interface Hit {
  file: string;
  where: "key" | "value" | "raw";
  key?: string;
}

/**
 * Where `needle` occurs: in decoded keys and values (except entries whose key
 * starts with one of `exceptKeyPrefixes`) and in the raw bytes of the files
 * that are not decoded. With `alsoRawEverywhere`, the raw bytes of every file
 * are searched too (for strings that must not appear anywhere at all).
 */
export function findInDatabase(
  db: ScannedDatabase,
  needle: string | Buffer,
  opts: { exceptKeyPrefixes?: string[]; alsoRawEverywhere?: boolean } = {},
): Hit[] {
  const n = typeof needle === "string" ? Buffer.from(needle, "utf8") : needle;
  const except = (opts.exceptKeyPrefixes ?? []).map((p) => Buffer.from(p, "utf8"));
  const hits: Hit[] = [];
  for (const e of db.entries) {
    if (except.some((p) => e.key.subarray(0, p.length).equals(p))) continue;
    if (e.key.includes(n)) hits.push({ file: e.file, where: "key", key: e.key.toString("latin1") });
    else if (e.value.includes(n)) hits.push({ file: e.file, where: "value", key: e.key.toString("latin1") });
  }
  const raws = opts.alsoRawEverywhere ? db.raw : db.others;
  for (const r of raws) if (r.bytes.includes(n)) hits.push({ file: r.file, where: "raw" });
  return hits;
}

// ---------------------------------------------------------------------------
// Table files

const TABLE_MAGIC = Buffer.from([0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb]);
const FOOTER_BYTES = 48;
const BLOCK_TRAILER_BYTES = 5;

function readTable(file: string, bytes: Buffer, out: ScannedDatabase): void {
  if (bytes.length < FOOTER_BYTES || !bytes.subarray(bytes.length - 8).equals(TABLE_MAGIC)) {
    throw new Error("not a table file (bad magic)");
  }
  const footer = new Reader(bytes.subarray(bytes.length - FOOTER_BYTES));
  const metaIndex = { offset: footer.varint(), size: footer.varint() };
  const index = { offset: footer.varint(), size: footer.varint() };
  // Meta blocks (the Bloom filter) hold hashes only, but are read so that nothing is skipped.
  for (const [, handle] of readBlock(readBlockContents(bytes, metaIndex, out))) readBlockContents(bytes, decodeHandle(handle), out);
  for (const [indexKey, handle] of readBlock(readBlockContents(bytes, index, out))) {
    // Index keys are separators between blocks: shortened keys, still on disk.
    out.entries.push({ file, kind: "table", key: userKey(indexKey), value: Buffer.alloc(0) });
    for (const [key, value] of readBlock(readBlockContents(bytes, decodeHandle(handle), out))) {
      out.entries.push({ file, kind: "table", key: userKey(key), value });
    }
  }
}

function decodeHandle(value: Buffer): { offset: number; size: number } {
  const r = new Reader(value);
  return { offset: r.varint(), size: r.varint() };
}

function readBlockContents(bytes: Buffer, handle: { offset: number; size: number }, out: ScannedDatabase): Buffer {
  const end = handle.offset + handle.size;
  if (end + BLOCK_TRAILER_BYTES > bytes.length) throw new Error(`block at ${handle.offset} runs past the end`);
  const contents = bytes.subarray(handle.offset, end);
  const type = bytes[end];
  out.stats.blocks++;
  if (type === 0) return contents;
  if (type === 1) {
    out.stats.snappyBlocks++;
    return snappyUncompress(contents);
  }
  throw new Error(`block at ${handle.offset} has unknown compression ${type}`);
}

/** Entries of a block, with prefix-compressed keys restored. */
function readBlock(block: Buffer): [Buffer, Buffer][] {
  if (block.length < 4) throw new Error("block too short");
  const restarts = block.readUInt32LE(block.length - 4);
  const dataEnd = block.length - 4 - restarts * 4;
  if (dataEnd < 0) throw new Error("bad restart count");
  const r = new Reader(block.subarray(0, dataEnd));
  const entries: [Buffer, Buffer][] = [];
  let last = Buffer.alloc(0);
  while (!r.done) {
    const shared = r.varint();
    const unshared = r.varint();
    const valueLength = r.varint();
    if (shared > last.length) throw new Error("shared prefix longer than the previous key");
    const key = Buffer.concat([last.subarray(0, shared), r.bytes(unshared)]);
    entries.push([key, r.bytes(valueLength)]);
    last = key;
  }
  return entries;
}

/** Table keys are internal keys: the user key followed by 8 bytes of sequence and type. */
function userKey(internalKey: Buffer): Buffer {
  return internalKey.length >= 8 ? internalKey.subarray(0, internalKey.length - 8) : internalKey;
}

function snappyUncompress(input: Buffer): Buffer {
  const r = new Reader(input);
  const length = r.varint();
  const out = Buffer.alloc(length);
  let o = 0;
  while (!r.done) {
    const tag = r.byte();
    const kind = tag & 3;
    if (kind === 0) {
      let len = tag >> 2;
      if (len >= 60) {
        const extra = len - 59;
        len = 0;
        for (let i = 0; i < extra; i++) len |= r.byte() << (8 * i);
      }
      len += 1;
      r.bytes(len).copy(out, o);
      o += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (kind === 1) {
      len = ((tag >> 2) & 7) + 4;
      offset = ((tag >> 5) << 8) | r.byte();
    } else if (kind === 2) {
      len = (tag >> 2) + 1;
      offset = r.byte() | (r.byte() << 8);
    } else {
      len = (tag >> 2) + 1;
      offset = (r.byte() | (r.byte() << 8) | (r.byte() << 16) | (r.byte() << 24)) >>> 0;
    }
    if (offset === 0 || offset > o) throw new Error("snappy copy offset out of range");
    // Byte by byte: a copy may overlap the bytes it produces.
    for (let i = 0; i < len; i++, o++) out[o] = out[o - offset];
  }
  if (o !== length) throw new Error(`snappy produced ${o} bytes, expected ${length}`);
  return out;
}

// ---------------------------------------------------------------------------
// Log files (write-ahead log and MANIFEST share the record format)

const LOG_BLOCK = 32768;
const LOG_HEADER = 7;

function readLogRecords(bytes: Buffer): Buffer[] {
  const records: Buffer[] = [];
  let pending: Buffer[] | undefined;
  let pos = 0;
  while (pos < bytes.length) {
    const leftInBlock = LOG_BLOCK - (pos % LOG_BLOCK);
    if (leftInBlock < LOG_HEADER) {
      pos += leftInBlock;
      continue;
    }
    if (pos + LOG_HEADER > bytes.length) break;
    const length = bytes.readUInt16LE(pos + 4);
    const type = bytes[pos + 6];
    if (type === 0 && length === 0) {
      // Pre-allocated zeros at the end of a block or file.
      pos += leftInBlock;
      continue;
    }
    const data = bytes.subarray(pos + LOG_HEADER, pos + LOG_HEADER + length);
    if (data.length !== length) throw new Error(`log record at ${pos} is truncated`);
    pos += LOG_HEADER + length;
    if (type === 1) records.push(Buffer.from(data));
    else if (type === 2) pending = [data];
    else if (type === 3 && pending) pending.push(data);
    else if (type === 4 && pending) {
      pending.push(data);
      records.push(Buffer.concat(pending));
      pending = undefined;
    } else throw new Error(`log record at ${pos} has unexpected type ${type}`);
  }
  return records;
}

function readWriteBatch(file: string, record: Buffer, out: ScannedDatabase): void {
  const r = new Reader(record);
  r.bytes(8); // sequence
  const count = r.fixed32();
  for (let i = 0; i < count; i++) {
    const tag = r.byte();
    if (tag === 1) {
      const key = r.lengthPrefixed();
      out.entries.push({ file, kind: "wal", key, value: r.lengthPrefixed() });
    } else if (tag === 0) {
      out.entries.push({ file, kind: "wal", key: r.lengthPrefixed(), value: Buffer.alloc(0) });
    } else {
      throw new Error(`write batch has unknown tag ${tag}`);
    }
  }
}

function readVersionEdit(file: string, record: Buffer, out: ScannedDatabase): void {
  const r = new Reader(record);
  const boundary = (key: Buffer) => out.entries.push({ file, kind: "manifest", key: userKey(key), value: Buffer.alloc(0) });
  while (!r.done) {
    const tag = r.varint();
    switch (tag) {
      case 1: // comparator name
        out.others.push({ file, bytes: r.lengthPrefixed() });
        break;
      case 2: // log number
      case 3: // next file number
      case 4: // last sequence
      case 9: // previous log number
        r.varint();
        break;
      case 5: // compaction pointer
        r.varint();
        boundary(r.lengthPrefixed());
        break;
      case 6: // deleted file
        r.varint();
        r.varint();
        break;
      case 7: // new file: level, number, size, smallest, largest
        r.varint();
        r.varint();
        r.varint();
        boundary(r.lengthPrefixed());
        boundary(r.lengthPrefixed());
        break;
      default:
        throw new Error(`version edit has unknown tag ${tag}`);
    }
  }
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  byte(): number {
    if (this.pos >= this.buf.length) throw new Error("read past the end");
    return this.buf[this.pos++]!;
  }
  varint(): number {
    let result = 0;
    let factor = 1;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * factor;
      if ((b & 0x80) === 0) return result;
      factor *= 128;
      if (factor > 2 ** 63) throw new Error("varint too long");
    }
  }
  fixed32(): number {
    const v = this.bytes(4).readUInt32LE(0);
    return v;
  }
  bytes(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw new Error("read past the end");
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  lengthPrefixed(): Buffer {
    return Buffer.from(this.bytes(this.varint()));
  }
}
