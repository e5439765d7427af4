import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import lockfile from 'proper-lockfile';
import type { LockedPackage } from '../conda/types.js';
import { PackageError, errorMessage } from '../util/errors.js';
import { renameReplacing, sha256File } from '../util/files.js';
import type { Logger } from '../util/logger.js';
import { Slots } from './concurrency.js';
import { redactUrls } from '../util/secrets.js';
import { TapOnlyUnverified, digestFile, matches, md5Wanted, type Digest, type Expected } from './download.js';
import { extractCondaStream, extractPackage, RefusedArchive, type Digests } from './extract.js';
import { hasNativeZstd } from './zstd.js';
import { sharedExtractPool, type ExtractPool } from './extract-pool.js';
import { readPackageInfo, storedPackageInfo, type IndexJson, type PackageInfo, type PackagePath } from './package-info.js';
import { joinInside } from './path-safety.js';

/** Written last into an extracted directory: until it is there, the directory does not count. */
export const COMPLETE_MARKER = '.gitenv-complete.json';

export interface CacheEntry {
  /** `<cache>/<dist>`: the extracted package. */
  dir: string;
  digest: Digest;
  /** Bytes downloaded to fill this entry (0 on a hit). */
  downloadedBytes: number;
  /** True when the extracted directory was already complete. */
  hit: boolean;
  /**
   * Every file and directory of the entry is readable (and searchable, where executable) by anyone,
   * as a world-readable deploy wants it (see Marker.readable): a prefix linked from it needs no walk
   * over its files to set their modes.
   */
  readable: boolean;
  /** What the package says about itself (package-info.ts), when the entry's marker keeps it. */
  info?: PackageInfo;
}

export interface PackageCacheOptions {
  logger: Logger;
  /**
   * Fetches `url` into `dest`, verified against `expect` (download.ts's downloadVerified); with
   * `tapOnly`, into `tap` alone (see DownloadOptions.tapOnly).
   */
  download: (url: string, dest: string, expect: Expected, pkg: string, tap?: Writable, tapOnly?: boolean) => Promise<Digest>;
  /** Extract a `.conda` while it downloads (default true; false: from the downloaded file only). */
  streaming?: boolean;
  /** A lock whose holder stopped refreshing it for this long is taken over. Default 10 s. */
  lockStaleMs?: number;
  /** Limit on the bytes one package may expand to (extract.ts's default otherwise). */
  maxExtractedBytes?: number;
  /** Downloads at once (default 4). */
  downloads?: number;
  /** Extractions at once (default: the cores, at least 2): they are CPU work, downloads mostly waiting. */
  extractions?: number;
  /**
   * The threads that extract archives while they download (default: the process's, see
   * extract-pool.ts); null: in the main thread.
   */
  extractPool?: ExtractPool | null;
}

interface Marker extends Digest {
  fn: string;
  url: string;
  /**
   * How the entry was extracted: entries of an earlier layout (made before modes lost their group and
   * other write bits, and before the confined writer) are extracted again rather than reused.
   */
  layout?: number;
  /**
   * Every regular file was written readable by anyone (and executable by anyone where executable by
   * someone), and the directories under a umask that takes no read or search bits. Unset in entries
   * of earlier gitenv versions: they count as not readable.
   */
  readable?: boolean;
  /**
   * The package's info (index.json, paths.json, link.json as package-info.ts reads them): an install
   * from the cache reads this one file instead of those three. Unset in entries of earlier gitenv versions.
   */
  info?: unknown;
}

/** The current extraction layout (see Marker.layout). */
const LAYOUT = 2;

/**
 * A package cache of extracted packages, as rattler's: `<cache>/<dist>/` (with
 * info/repodata_record.json and the completion marker). A `.conda` is extracted from its download's
 * bytes as they arrive and never written whole; any other archive (and a `.conda` whose bytes could
 * not be extracted as they came) is downloaded to `<cache>/<fn>`, extracted from there, and removed.
 * Every entry is filled under a lock of its own, in a scratch directory renamed into place with its
 * completion marker already inside.
 */
export class PackageCache {
  /**
   * Downloads and extractions have slots of their own, so a package whose download is done waits only
   * for a free extraction, and the next downloads go on meanwhile (the network and the CPU overlap).
   */
  private readonly downloads: Slots;
  private readonly extractions: Slots;
  /** Complete entries has() found, by build (their markers matched it). */
  private readonly seen = new Map<string, CacheEntry>();

  constructor(
    readonly root: string,
    private readonly options: PackageCacheOptions,
  ) {
    this.downloads = new Slots(options.downloads ?? 4);
    this.extractions = new Slots(options.extractions ?? defaultExtractions());
  }

  /** How many packages may be between lock and extracted at once for both kinds of slots to stay busy. */
  get inFlight(): number {
    return (this.options.downloads ?? 4) + (this.options.extractions ?? defaultExtractions());
  }

  /**
   * Removes what killed runs left behind: scratch extractions, partial downloads, trash and archives
   * older than `olderThanMs` (live ones are younger: an entry is filled in minutes, not hours). An
   * archive is only ever here between its download and its extraction (or kept by an earlier gitenv).
   */
  async sweep(olderThanMs = 3_600_000): Promise<void> {
    const names = await fs.readdir(this.root).catch(() => [] as string[]);
    const limit = Date.now() - olderThanMs;
    for (const name of names) {
      const archive = /\.(conda|tar\.bz2)$/.test(name);
      if (!archive && !/^\.(extract|trash)-|\.partial-\d+-[0-9a-f]+$/.test(name)) continue;
      const full = path.join(this.root, name);
      const st = await fs.lstat(full).catch(() => undefined);
      if (st && st.mtimeMs < limit && (!archive || st.isFile())) await fs.rm(full, { recursive: true, force: true });
    }
  }

  /** The extracted package for `pkg`, downloading (from `fetchUrl`) and extracting when needed. */
  async ensure(pkg: LockedPackage, fetchUrl: string): Promise<CacheEntry> {
    // A complete entry of this very build needs no lock: its marker is written last, inside a
    // directory that is renamed into place whole, and a filler only ever replaces an entry whose
    // marker does not match (the lock is not held while linking from an entry either). So one seen
    // complete by has() stays so: its marker is not read twice.
    const hit = this.seen.get(seenKey(pkg)) ?? (await this.completeEntry(pkg));
    if (hit) return hit;
    await fs.mkdir(this.root, { recursive: true });
    const release = await this.lock(pkg.dist);
    try {
      return await this.fill(pkg, fetchUrl);
    } finally {
      await release().catch(() => undefined);
    }
  }

  /** True when the cache holds this very build complete (nothing to fetch). */
  async has(pkg: LockedPackage): Promise<boolean> {
    const entry = await this.completeEntry(pkg);
    if (entry) this.seen.set(seenKey(pkg), entry);
    return entry !== undefined;
  }

  /** The extracted entry of exactly this build (its marker matches the lock), if complete. */
  private async completeEntry(pkg: LockedPackage): Promise<CacheEntry | undefined> {
    const dir = joinInside(this.root, pkg.dist);
    const marker = await readMarker(dir);
    if (!marker || marker.layout !== LAYOUT || !matches(marker, { sha256: pkg.sha256, md5: pkg.md5, size: pkg.size })) return undefined;
    return hitEntry(dir, marker, pkg.dist);
  }

  private async fill(pkg: LockedPackage, fetchUrl: string): Promise<CacheEntry> {
    const dir = joinInside(this.root, pkg.dist);
    const archive = joinInside(this.root, pkg.fn);
    const expect: Expected = { sha256: pkg.sha256, md5: pkg.md5, size: pkg.size };
    const marker = await readMarker(dir);
    if (marker && marker.layout === LAYOUT && matches(marker, expect)) return hitEntry(dir, marker, pkg.dist);
    if (marker && marker.layout !== LAYOUT) this.options.logger.info(`${pkg.dist}: the package cache entry was made by an earlier gitenv; extracting again`);
    else if (marker) this.options.logger.warning(`${pkg.dist}: the package cache holds another build of it; extracting again`);

    // An archive already here (left by an earlier gitenv, which kept them, or by a run killed
    // before extracting it) is used when it matches the lock.
    let digest = await this.cachedArchive(archive, expect, pkg.dist);
    let downloadedBytes = 0;
    if (!digest) {
      const streamed = this.options.streaming !== false && archive.endsWith('.conda') && hasNativeZstd() ? this.extractWhileDownloading(pkg) : undefined;
      try {
        digest = await this.downloads.run(() => this.options.download(fetchUrl, archive, expect, pkg.dist, streamed?.tap, streamed !== undefined));
        downloadedBytes = digest.size;
      } catch (err) {
        // A tap-only download whose extraction stopped early (no digest): it says why below, and the
        // bytes go again to a file.
        if (!(err instanceof TapOnlyUnverified)) {
          await streamed?.discard();
          throw err;
        }
      }
      // The archive is whole and matched the lock: what was extracted from its bytes as they came may
      // count, and a refusal of its contents is final (extracting its file would say the same).
      const scratch = await streamed?.extracted(digest !== undefined).catch(async (err: unknown) => {
        await fs.rm(archive, { force: true }); // written by the download in the main thread
        throw err;
      });
      if (scratch && digest) {
        const { readable, info } = await this.completeScratch(scratch.path, dir, pkg, digest, scratch.digests);
        await fs.rm(archive, { force: true }); // written by a retried download
        return { dir, digest, downloadedBytes, hit: false, readable, info };
      }
      if (scratch) await fs.rm(scratch.path, { recursive: true, force: true }); // bytes nobody verified
      // Not extracted as it came (it could not be, or its bytes were not the verified ones): the
      // archive itself, in a file, unless the download (a retried one, a .tar.bz2) wrote one.
      if (!digest || !(await isFile(archive))) {
        this.options.logger.debug(`${pkg.dist}: its bytes were not kept while they were extracted; downloading the archive again`);
        digest = await this.downloads.run(() => this.options.download(fetchUrl, archive, expect, pkg.dist));
        downloadedBytes += digest.size;
      }
    }
    const got = digest;
    try {
      const { readable, info } = await this.extractions.run(() => this.extractInto(dir, archive, pkg, got));
      return { dir, digest, downloadedBytes, hit: false, readable, info };
    } finally {
      // Extracted (or refused): the cache keeps the extracted package, not the archive.
      await fs.rm(archive, { force: true });
    }
  }

  /**
   * Extracts a `.conda` from its download's bytes as they arrive, into a scratch directory of its
   * own. `extracted(verified)` (called once the download is over; `verified`: its bytes matched the
   * lock) gives that directory when the extraction succeeded. A refusal of the verified bytes is
   * thrown as it is: final. Otherwise (an archive the stream cannot settle, bytes not verified, a
   * retried download) the directory is removed and the caller extracts the downloaded file instead,
   * which says why with the usual error.
   */
  private extractWhileDownloading(pkg: LockedPackage): {
    tap: Writable;
    extracted: (verified: boolean) => Promise<{ path: string; digests: Digests } | undefined>;
    discard: () => Promise<void>;
  } {
    const scratch = this.scratchPath(pkg);
    const limits = { maxBytes: this.options.maxExtractedBytes, archiveSize: pkg.size };
    const pool = this.options.extractPool === undefined ? sharedExtractPool() : (this.options.extractPool ?? undefined);
    let tap: Writable;
    let work: Promise<Digests>;
    if (pool) {
      // In a thread of the pool, which makes the scratch directory first, and hashes the archive's
      // bytes as they come (the download verifies that hash: see download.ts HashingTap).
      ({ tap, result: work } = pool.extract(scratch, pkg.dist, { ...limits, md5: md5Wanted({ sha256: pkg.sha256, md5: pkg.md5 }) }));
    } else {
      const through = new PassThrough({ highWaterMark: 1 << 20 });
      tap = through;
      work = (async () => {
        await fs.mkdir(scratch, { mode: 0o755 });
        return extractCondaStream(through, scratch, pkg.dist, limits);
      })();
    }
    tap.on('error', () => undefined); // the reader sees it
    const outcome = work.then(
      (digests) => ({ digests }),
      (err: unknown) => ({ err }),
    );
    const discard = async (): Promise<void> => {
      tap.destroy();
      await outcome;
      await fs.rm(scratch, { recursive: true, force: true });
    };
    return {
      tap,
      discard,
      extracted: async (verified: boolean) => {
        // A downloader that did not feed the tap to its end (one that knows nothing of it, a retry
        // into a file) gave nothing to extract: what the tap saw is not the verified archive.
        const whole = tap.writableEnded;
        if (!whole) tap.destroy(new Error('the download did not pass its bytes on'));
        const result = await outcome;
        if ('digests' in result) {
          this.options.logger.debug(`${pkg.dist}: extracted while downloading`);
          return { path: scratch, digests: result.digests };
        }
        await discard();
        // The tap saw every byte of the download that was verified against the lock: its refusal is final.
        if (verified && whole && result.err instanceof RefusedArchive) throw result.err;
        this.options.logger.debug(`${pkg.dist}: not extracted while downloading (${errorMessage(result.err)}); extracting the archive`);
        return undefined;
      },
    };
  }

  private scratchPath(pkg: LockedPackage): string {
    return path.join(this.root, `.extract-${pkg.dist}-${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  /** The archive already in the cache, when it matches what the lock expects. */
  private async cachedArchive(archive: string, expect: Expected, dist: string): Promise<Digest | undefined> {
    let digest: Digest;
    try {
      digest = await digestFile(archive, expect);
    } catch {
      return undefined;
    }
    if (matches(digest, expect)) return digest;
    this.options.logger.warning(`${dist}: the cached archive does not match the lock; downloading it again`);
    await fs.rm(archive, { force: true });
    return undefined;
  }

  /** Extracts into a scratch directory, checks it, writes its records and marker, renames it into place; whether it is readable. */
  private async extractInto(dir: string, archive: string, pkg: LockedPackage, digest: Digest): Promise<Completed> {
    const scratch = this.scratchPath(pkg);
    await fs.mkdir(scratch, { mode: 0o755 });
    let digests: Digests;
    try {
      digests = await extractPackage(archive, scratch, pkg.dist, { maxBytes: this.options.maxExtractedBytes });
    } catch (err) {
      await fs.rm(scratch, { recursive: true, force: true });
      throw err;
    }
    return this.completeScratch(scratch, dir, pkg, digest, digests);
  }

  /**
   * An extracted scratch directory checked against its paths.json, given its records and, last, its
   * completion marker, and renamed into place; removed on any failure. Whether it is readable by
   * anyone, and the package's info.
   */
  private async completeScratch(scratch: string, dir: string, pkg: LockedPackage, digest: Digest, digests: Digests): Promise<Completed> {
    try {
      const info = await readPackageInfo(scratch, pkg.dist);
      await verifyExtracted(scratch, info.paths, digests, pkg.dist);
      const record = repodataRecord(info.index, pkg, digest);
      // New files (what the package may have put at these paths is removed, never written into).
      await writeNewFile(path.join(scratch, 'info', 'repodata_record.json'), JSON.stringify(record, null, 2) + '\n');
      const readable = readableByAnyone(digests);
      const marker: Marker = { ...digest, fn: pkg.fn, url: redactUrls(pkg.url), layout: LAYOUT, readable, info };
      await writeNewFile(path.join(scratch, COMPLETE_MARKER), JSON.stringify(marker) + '\n');
      await renameReplacing(scratch, dir, '.trash-');
      return { readable, info };
    } catch (err) {
      await fs.rm(scratch, { recursive: true, force: true });
      throw err;
    }
  }

  private async lock(dist: string): Promise<() => Promise<void>> {
    const lockPath = path.join(this.root, `${dist}.lock`);
    const stale = Math.max(this.options.lockStaleMs ?? 10_000, 5_000);
    let waited = false;
    for (;;) {
      try {
        return await lockfile.lock(path.join(this.root, dist), {
          realpath: false,
          lockfilePath: lockPath,
          stale,
          onCompromised: (err) => this.options.logger.warning(`${dist}: package cache lock lost: ${errorMessage(err)}`),
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
        if (!waited) this.options.logger.info(`${dist}: waiting for another user of the package cache`);
        waited = true;
        await new Promise((r) => setTimeout(r, 200 + Math.random() * 300));
      }
    }
  }
}

/**
 * Whether an extracted entry is readable by anyone: every file the archive held (`digests`: the
 * records written beside them are 0644 under such a umask) readable by all, executable by all where
 * executable by someone, and the umask (what the directories were made under) taking no read or
 * search bit. What a world-readable deploy's walk over a prefix would otherwise add.
 */
export function readableByAnyone(digests: Digests, umask = process.umask()): boolean {
  if ((umask & 0o055) !== 0) return false;
  for (const { mode } of digests.values()) {
    if ((mode & 0o444) !== 0o444) return false;
    if ((mode & 0o111) !== 0 && (mode & 0o111) !== 0o111) return false;
  }
  return true;
}

function seenKey(pkg: LockedPackage): string {
  return `${pkg.dist}\0${pkg.sha256 ?? ''}\0${pkg.md5 ?? ''}\0${pkg.size ?? ''}`;
}

function isFile(file: string): Promise<boolean> {
  return fs.stat(file).then(
    (st) => st.isFile(),
    () => false,
  );
}

async function writeNewFile(file: string, data: string): Promise<void> {
  await fs.rm(file, { force: true });
  await fs.writeFile(file, data, { flag: 'wx', mode: 0o644 });
}

function defaultExtractions(): number {
  return Math.max(2, os.availableParallelism());
}

/** What completing an entry gives. */
interface Completed {
  readable: boolean;
  info: PackageInfo;
}

/** A complete entry found in the cache. */
function hitEntry(dir: string, marker: Marker, dist: string): CacheEntry {
  const { fn: _fn, url: _url, layout: _layout, readable, info, ...digest } = marker;
  return { dir, digest, downloadedBytes: 0, hit: true, readable: readable === true, info: storedPackageInfo(info, dist) };
}

async function readMarker(dir: string): Promise<Marker | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, COMPLETE_MARKER), 'utf8')) as Marker;
  } catch {
    return undefined;
  }
}

/**
 * Every regular file of paths.json is there with the size and sha256 it claims (paths.json may lie).
 * The hashes were taken during extraction; only a path the archive did not hold as a file is looked at.
 */
async function verifyExtracted(dir: string, paths: PackagePath[], digests: Digests, dist: string): Promise<void> {
  for (const p of paths) {
    if (p.pathType !== 'hardlink') continue;
    let digest = digests.get(p.path);
    if (!digest) {
      const file = joinInside(dir, p.path);
      const st = await fs.lstat(file).catch(() => undefined);
      if (!st) throw new PackageError(dist, `${p.path} is listed in the package's file list but missing from the archive`);
      if (!st.isFile()) continue; // a soft link recorded as a file by an old conda-build
      digest = { size: st.size, sha256: p.sha256 ? await sha256File(file) : '', mode: st.mode & 0o7777 };
    }
    if (p.size !== undefined && digest.size !== p.size) {
      throw new PackageError(dist, `${p.path} has ${digest.size} bytes, but info/paths.json says ${p.size}`);
    }
    if (p.sha256 && digest.sha256 !== p.sha256) {
      throw new PackageError(dist, `${p.path} does not have the sha256 info/paths.json gives`);
    }
  }
}

/** conda's info/repodata_record.json: index.json plus where the package came from (no credentials). */
export function repodataRecord(index: IndexJson, pkg: LockedPackage, digest: Digest): Record<string, unknown> {
  return {
    ...index,
    fn: pkg.fn,
    url: redactUrls(pkg.url),
    channel: redactUrls(pkg.channel),
    md5: digest.md5,
    sha256: digest.sha256,
    size: digest.size,
  };
}
