import fs from 'node:fs';
import { Readable, Transform } from 'node:stream';
import yauzl from 'yauzl';
import { PackageError } from '../util/errors.js';
import { bunzip2, systemBzip2 } from './bzip2.js';
import { ALLOWED_ENTRY_TYPES, linkStaysInside, safeMode, unsafeLinkReason, unsafePathReason } from './path-safety.js';
import { Refusal, writeTar, type Digests, type TarEntryInfo, type TarLimits } from './tar-writer.js';
import { createZstdDecompressor, decompressWhole, hasNativeZstd, MAX_ZSTD_WINDOW, zstdFrameContentSize, zstdFrameWindow } from './zstd.js';

export interface ExtractOptions {
  /**
   * Refuse the package once its entries add up to more than this many bytes (a decompression bomb).
   * Default: the larger of 1 GiB and 300 times the archive's size.
   */
  maxBytes?: number;
  /** The bzip2 that decompresses `.tar.bz2` archives; false: the JS decoder. Default: bzip2 on PATH, if any. */
  bzip2?: string | false;
  /** Small files written with synchronous calls (tar-writer.ts's TarLimits.syncWrites): for a thread of its own. */
  syncWrites?: boolean;
}

/**
 * Extracts a `.conda` or `.tar.bz2` archive into `dest` (an existing, empty directory), streaming.
 * Every entry is checked before it is written; one that would land outside `dest` (or is a
 * device, a FIFO, ...) aborts the extraction and refuses the package. The caller removes `dest`
 * on failure: it is a scratch directory that only becomes the cache entry once complete.
 */
export async function extractPackage(archive: string, dest: string, pkg: string, options: ExtractOptions = {}): Promise<Digests> {
  const archiveSize = (await fs.promises.stat(archive)).size;
  const budget = newBudget(options.maxBytes ?? Math.max(2 ** 30, archiveSize * 300));
  try {
    if (archive.endsWith('.conda')) await extractConda(archive, dest, pkg, budget);
    else if (archive.endsWith('.tar.bz2')) {
      const bzip2 = options.bzip2 === false ? undefined : (options.bzip2 ?? (await systemBzip2()));
      await untar(bunzip2(archive, bzip2), dest, pkg, budget);
    } else throw new PackageError(pkg, `unknown archive format: ${archive}`);
  } catch (err) {
    if (err instanceof PackageError) throw err;
    throw new PackageError(pkg, `cannot extract ${archive}: ${(err as Error).message}`, { cause: err });
  }
  return finish(budget, dest, pkg);
}

/** Hard links share their target's digest; every soft link is followed once all are on disk. */
async function finish(budget: Budget, dest: string, pkg: string): Promise<Digests> {
  for (const [rel, target] of budget.links) {
    const digest = budget.digests.get(target);
    if (digest) budget.digests.set(rel, digest);
  }
  for (const rel of budget.symlinks) {
    if (!(await linkStaysInside(dest, rel))) {
      throw new RefusedArchive(pkg, `refused: symlink ${rel} leads out of the package through other links; nothing of it is installed`);
    }
  }
  return budget.digests;
}

function newBudget(limit: number, syncWrites = false): Budget {
  return { left: limit, stream: { bytes: limit, symlinks: new Set(), syncWrites }, digests: new Map(), links: new Map(), symlinks: [] };
}

/** The stream is not a `.conda` laid out so that it can be extracted as it arrives: extract the file instead. */
export class NotStreamable extends Error {}

/**
 * The archive's contents are refused (a path leading out, a device, a decompression bomb...): what
 * it says is the same whether the archive was read as it arrived or from its file, so a refusal of
 * bytes that matched the lock is final (see package-cache.ts).
 */
export class RefusedArchive extends PackageError {
  constructor(
    pkg: string,
    /** The reason, without the package's name in front. */
    readonly reason: string,
  ) {
    super(pkg, reason);
  }
}

/**
 * Extracts a `.conda` from its bytes as they arrive (a download), the zip read through its local
 * headers, each `info-`/`pkg-*.tar.zst` member decompressed and written as it streams by, with every
 * check extractPackage makes. Anything the stream cannot settle on its own throws NotStreamable: a
 * member whose size only follows its data (a data descriptor), zip64 sizes it cannot read, a member not stored, or a
 * central directory (read at the end of the stream) that does not list exactly the members
 * extracted, at the offsets they were read from. The caller then extracts the downloaded file as
 * usual. The bytes are not verified here: the caller makes the result count only once the download's
 * digest matched the lock, and throws it away otherwise.
 */
export async function extractCondaStream(source: AsyncIterable<Buffer>, dest: string, pkg: string, options: ExtractOptions & { archiveSize?: number } = {}): Promise<Digests> {
  const limit = options.maxBytes ?? Math.max(2 ** 30, (options.archiveSize ?? 0) * 300);
  const budget = newBudget(limit, options.syncWrites);
  const reader = new StreamReader(source[Symbol.asyncIterator]());
  const members = new Map<string, { offset: number; size: number }>();
  try {
    for (;;) {
      const offset = reader.position;
      const head = await reader.exactly(30);
      const signature = head.readUInt32LE(0);
      if (signature === CENTRAL_HEADER) {
        await checkCentralDirectory(reader, head, members);
        break;
      }
      if (signature !== LOCAL_HEADER) throw new NotStreamable(`no zip local header at offset ${offset}`);
      const flags = head.readUInt16LE(6);
      const method = head.readUInt16LE(8);
      const name = (await reader.exactly(head.readUInt16LE(26))).toString('utf8');
      const extra = await reader.exactly(head.readUInt16LE(28));
      if (flags & 0x0009) throw new NotStreamable(`${name}: encrypted, or its size follows its data`);
      // conda-package-handling writes every member with zip64 sizes (its local header says 0xffffffff).
      const sizes = zipSizes(head.readUInt32LE(22), head.readUInt32LE(18), undefined, extra);
      if (!sizes) throw new NotStreamable(`${name}: zip64 sizes missing or beyond reach`);
      const size = sizes.compressed;
      if (method === 0 && sizes.uncompressed !== size) throw new NotStreamable(`${name}: stored, but its two sizes differ`);
      if (!/^(info|pkg)-.*\.tar\.zst$/.test(name)) {
        await reader.skip(size);
        continue;
      }
      if (method !== 0) throw new NotStreamable(`${name}: not stored`);
      if (members.has(name)) throw new NotStreamable(`${name} is twice in the zip`);
      members.set(name, { offset, size });
      if (size === 0) continue;
      const raw = Readable.from(reader.take(size), { objectMode: false });
      const guard = declaredSizeGuard(budget, pkg, name);
      const decompressed = raw.pipe(guard).pipe(createZstdDecompressor());
      // pipe() carries no errors along: the download failing (its stream destroyed) must end the tar too.
      raw.once('error', (err) => decompressed.destroy(err));
      guard.once('error', (err) => decompressed.destroy(err));
      await untar(decompressed, dest, pkg, budget, raw);
      // The member's reader is let go (no read of it is pending), then what follows the tar's end is passed over.
      if (!raw.closed) await new Promise((resolve) => raw.once('close', resolve));
      const rest = reader.left;
      reader.left = 0;
      await reader.skip(rest);
    }
    if (![...members.keys()].some((n) => n.startsWith('info-'))) throw new NotStreamable('no info-*.tar.zst');
  } catch (err) {
    if (err instanceof PackageError || err instanceof NotStreamable) throw err;
    throw new PackageError(pkg, `cannot extract the downloaded archive: ${(err as Error).message}`, { cause: err });
  } finally {
    await reader.close();
  }
  return finish(budget, dest, pkg);
}

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;

/** The central directory's `info-`/`pkg-*.tar.zst` entries are exactly the members read, at the same offsets and sizes. */
async function checkCentralDirectory(reader: StreamReader, first: Buffer, members: Map<string, { offset: number; size: number }>): Promise<void> {
  const listed = new Set<string>();
  let record = Buffer.concat([first, await reader.exactly(16)]);
  for (;;) {
    const name = (await reader.exactly(record.readUInt16LE(28))).toString('utf8');
    const extra = await reader.exactly(record.readUInt16LE(30));
    await reader.skip(record.readUInt16LE(32));
    if (/^(info|pkg)-.*\.tar\.zst$/.test(name)) {
      const member = members.get(name);
      const listedAt = zipSizes(record.readUInt32LE(24), record.readUInt32LE(20), record.readUInt32LE(42), extra);
      if (!member || !listedAt || listed.has(name) || member.offset !== listedAt.offset || member.size !== listedAt.compressed) {
        throw new NotStreamable(`the central directory does not list ${name} as it was read`);
      }
      listed.add(name);
    }
    const signature = await reader.exactly(4);
    if (signature.readUInt32LE(0) !== CENTRAL_HEADER) break;
    record = Buffer.concat([signature, await reader.exactly(42)]);
  }
  if (listed.size !== members.size) throw new NotStreamable('the central directory does not list every member read');
  await reader.skip(Infinity); // the end of central directory record
}

const ZIP64_EXTRA = 0x0001;
const FULL32 = 0xffffffff;

/**
 * A zip record's sizes (and, for a central directory record, offset), read from its zip64 extra field
 * where the 32-bit field says 0xffffffff: the extra holds, in this order, those of the uncompressed
 * size, compressed size and offset that overflowed. Undefined when the extra is missing or short, or a
 * value is beyond JavaScript's exact integers.
 */
function zipSizes(uncompressed: number, compressed: number, offset: number | undefined, extra: Buffer): { uncompressed: number; compressed: number; offset?: number } | undefined {
  const wanted = [uncompressed === FULL32, compressed === FULL32, offset === FULL32];
  if (!wanted.some(Boolean)) return { uncompressed, compressed, offset };
  for (let at = 0; at + 4 <= extra.length;) {
    const id = extra.readUInt16LE(at);
    const length = extra.readUInt16LE(at + 2);
    if (id === ZIP64_EXTRA) {
      const values: number[] = [];
      for (let v = at + 4; v + 8 <= at + 4 + length && v + 8 <= extra.length; v += 8) {
        const big = extra.readBigUInt64LE(v);
        if (big > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
        values.push(Number(big));
      }
      const take = (flag: boolean, value: number | undefined): number | undefined => (flag ? values.shift() : value);
      const out = { uncompressed: take(wanted[0], uncompressed), compressed: take(wanted[1], compressed), offset: take(wanted[2], offset) };
      if (out.uncompressed === undefined || out.compressed === undefined || (offset !== undefined && out.offset === undefined)) return undefined;
      return { uncompressed: out.uncompressed, compressed: out.compressed, offset: out.offset };
    }
    at += 4 + length;
  }
  return undefined;
}

/** Reads exact amounts from an iterator of chunks, keeping what is left of the last one. */
class StreamReader {
  position = 0;
  /** Bytes of the current take() not yet handed out. */
  left = 0;
  private pending: Buffer | undefined;
  private ended = false;

  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async next(): Promise<Buffer | undefined> {
    if (this.pending) {
      const chunk = this.pending;
      this.pending = undefined;
      return chunk;
    }
    if (this.ended) return undefined;
    const r = await this.it.next();
    if (r.done) {
      this.ended = true;
      return undefined;
    }
    return r.value;
  }

  async exactly(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const chunk = await this.next();
      if (!chunk) throw new NotStreamable(`the archive ends ${n - got} bytes short of a zip record`);
      const part = this.cut(chunk, n - got);
      parts.push(part);
      got += part.length;
    }
    this.position += n;
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /** Up to `n` bytes (all, when Infinity) are passed over; the stream may end first only for Infinity. */
  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      const chunk = await this.next();
      if (!chunk) {
        if (n === Infinity) return;
        throw new NotStreamable('the archive ends inside a zip member');
      }
      const part = this.cut(chunk, left);
      left -= part.length;
      this.position += part.length;
    }
  }

  /** The next `n` bytes, as chunks; what the consumer does not read is left in `left` for skip(). */
  async *take(n: number): AsyncGenerator<Buffer> {
    this.left = n;
    while (this.left > 0) {
      const chunk = await this.next();
      if (!chunk) throw new Error('the archive ends inside a zip member');
      const part = this.cut(chunk, this.left);
      this.left -= part.length;
      this.position += part.length;
      yield part;
    }
  }

  /** The first `n` bytes of `chunk`; the rest is kept for the next read. */
  private cut(chunk: Buffer, n: number): Buffer {
    if (chunk.length <= n) return chunk;
    this.pending = chunk.subarray(n);
    return chunk.subarray(0, n);
  }

  async close(): Promise<void> {
    if (!this.ended) await this.it.return?.();
  }
}

export type { Digests };

/** Compressed entries up to this size are decompressed in one piece when Node has no zstd of its own. */
const WHOLE_LIMIT = 64 << 20;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface Budget {
  /** Bytes the entries may still declare. */
  left: number;
  /** Bytes of decompressed tar (headers, padding, everything) still allowed, all tars of the package together. */
  stream: TarLimits;
  digests: Digests;
  /** Hard link entries: path -> the path it shares its content with. */
  links: Map<string, string>;
  /** Soft link entries, checked once all are on disk (chains of links). */
  symlinks: string[];
}

/** `.conda` is a zip of `info-<dist>.tar.zst` and `pkg-<dist>.tar.zst` (and metadata.json). */
async function extractConda(archive: string, dest: string, pkg: string, budget: Budget): Promise<void> {
  const zip = await openZip(archive);
  try {
    const entries = await zipEntries(zip);
    const inner = entries.filter((e) => /^(info|pkg)-.*\.tar\.zst$/.test(e.fileName));
    if (!inner.some((e) => e.fileName.startsWith('info-'))) {
      throw new PackageError(pkg, `${archive} has no info-*.tar.zst: not a .conda package`);
    }
    for (const entry of inner) {
      const raw = await openEntry(zip, entry, archive);
      if (hasNativeZstd() || entry.compressedSize > WHOLE_LIMIT) {
        const guard = declaredSizeGuard(budget, pkg, entry.fileName);
        const source = raw.pipe(guard).pipe(createZstdDecompressor());
        guard.once('error', (err) => source.destroy(err)); // pipe() does not carry errors along
        await untar(source, dest, pkg, budget, raw);
        continue;
      }
      // Node 20: fzstd is much faster on a whole buffer than streaming, for entries of a sane size.
      const compressed = await readAll(raw);
      refuseDeclaredSize(compressed, budget, pkg, entry.fileName);
      const whole = decompressWhole(compressed, Math.min(budget.left + 1, WHOLE_LIMIT * 8));
      await untar(whole ? Readable.from([whole]) : Readable.from([compressed]).pipe(createZstdDecompressor()), dest, pkg, budget);
    }
  } finally {
    zip.close();
  }
}

/**
 * A zstd frame declaring more content than the size budget allows is refused before a byte is
 * decompressed: fzstd allocates what a frame declares, so a small `.conda` could otherwise claim
 * gigabytes of memory (a decompression bomb).
 */
function refuseDeclaredSize(head: Uint8Array, budget: Budget, pkg: string, member: string): void {
  const declared = zstdFrameContentSize(head);
  if (declared !== undefined && declared > budget.left) {
    throw new RefusedArchive(pkg, `refused: ${member} declares ${declared} bytes of contents, beyond the size limit (a decompression bomb?); nothing of it is installed`);
  }
  const window = zstdFrameWindow(head);
  if (window !== undefined && window > MAX_ZSTD_WINDOW) {
    throw new RefusedArchive(pkg, `refused: ${member} asks for a decoding window of ${window} bytes, more than zstd decoders accept (${MAX_ZSTD_WINDOW}); nothing of it is installed`);
  }
}

/** The same check on a stream: its first chunk holds the frame header. */
function declaredSizeGuard(budget: Budget, pkg: string, member: string): Transform {
  let checked = false;
  return new Transform({
    transform(chunk: Buffer, _enc, callback) {
      try {
        if (!checked) refuseDeclaredSize(chunk, budget, pkg, member);
        checked = true;
        callback(null, chunk);
      } catch (err) {
        callback(err as Error);
      }
    },
  });
}

/** Streams a tar into `dest`, refusing the package at the first entry that is not safe. */
async function untar(source: Readable, dest: string, pkg: string, budget: Budget, head?: Readable): Promise<void> {
  try {
    await writeTar(source, dest, (entry) => entryRefusal(entry, budget), budget.digests, budget.stream);
  } catch (err) {
    if (err instanceof Refusal) throw new RefusedArchive(pkg, `refused: ${err.message}; nothing of it is installed`);
    throw err;
  } finally {
    head?.destroy();
  }
}

/** Why this tar entry may not be extracted (undefined: it may). Also strips setuid/setgid bits. */
function entryRefusal(entry: TarEntryInfo, budget: Budget): string | undefined {
  const rel = entry.path;
  if (!ALLOWED_ENTRY_TYPES.has(entry.type)) return `entry ${rel} is a ${entry.type}, not a file, directory or link`;
  const pathReason = unsafePathReason(rel);
  if (pathReason) return pathReason;
  if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
    const kind = entry.type === 'Link' ? 'hardlink' : 'symlink';
    const target = kind === 'hardlink' ? entry.linkpath.replace(/^(\.\/)+/, '') : entry.linkpath;
    const linkReason = unsafeLinkReason(rel, target, kind);
    if (linkReason) return linkReason;
    if (kind === 'hardlink') budget.links.set(rel, target);
    else budget.symlinks.push(rel);
  }
  budget.left -= entry.size;
  if (budget.left < 0) return `its contents expand beyond the size limit (a decompression bomb?) at ${rel}`;
  entry.mode = safeMode(entry.mode) as number;
  return undefined;
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => yauzl.open(file, { lazyEntries: true, autoClose: false }, (err, zip) => (err ? reject(err) : resolve(zip))));
}

function zipEntries(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const out: yauzl.Entry[] = [];
    zip.on('entry', (e: yauzl.Entry) => {
      out.push(e);
      zip.readEntry();
    });
    zip.once('end', () => resolve(out));
    zip.once('error', reject);
    zip.readEntry();
  });
}

/**
 * A zip entry's bytes. The inner tars of a .conda are stored (not deflated), so they are read straight
 * from the file in large chunks: yauzl's own stream reads 16 KiB at a time, which costs on big packages.
 */
async function openEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, archive: string): Promise<Readable> {
  if (entry.compressionMethod === 0 && !entry.isEncrypted()) {
    const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
    if (entry.compressedSize === 0) return Readable.from([]);
    return fs.createReadStream(archive, { start: fileDataStart, end: fileDataStart + entry.compressedSize - 1, highWaterMark: 1 << 20 });
  }
  return zip.openReadStreamPromise(entry);
}
