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
}

/**
 * Extracts a `.conda` or `.tar.bz2` archive into `dest` (an existing, empty directory), streaming.
 * Every entry is checked before it is written; one that would land outside `dest` (or is a
 * device, a FIFO, ...) aborts the extraction and refuses the package. The caller removes `dest`
 * on failure: it is a scratch directory that only becomes the cache entry once complete.
 */
export async function extractPackage(archive: string, dest: string, pkg: string, options: ExtractOptions = {}): Promise<Digests> {
  const archiveSize = (await fs.promises.stat(archive)).size;
  const limit = options.maxBytes ?? Math.max(2 ** 30, archiveSize * 300);
  const budget: Budget = { left: limit, stream: { bytes: limit, symlinks: new Set() }, digests: new Map(), links: new Map(), symlinks: [] };
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
  for (const [rel, target] of budget.links) {
    const digest = budget.digests.get(target);
    if (digest) budget.digests.set(rel, digest);
  }
  for (const rel of budget.symlinks) {
    if (!(await linkStaysInside(dest, rel))) {
      throw new PackageError(pkg, `refused: symlink ${rel} leads out of the package through other links; nothing of it is installed`);
    }
  }
  return budget.digests;
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
    throw new PackageError(pkg, `refused: ${member} declares ${declared} bytes of contents, beyond the size limit (a decompression bomb?); nothing of it is installed`);
  }
  const window = zstdFrameWindow(head);
  if (window !== undefined && window > MAX_ZSTD_WINDOW) {
    throw new PackageError(pkg, `refused: ${member} asks for a decoding window of ${window} bytes, more than zstd decoders accept (${MAX_ZSTD_WINDOW}); nothing of it is installed`);
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
    if (err instanceof Refusal) throw new PackageError(pkg, `refused: ${err.message}; nothing of it is installed`);
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
