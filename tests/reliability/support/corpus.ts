/**
 * The hostile-input corpus (tests/reliability/corpus): its manifest, and the archives its package
 * descriptions stand for, built with the channel builder (and by hand for the zip bomb).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { buildPackage, writeZip, type BuiltPackage, type FileSpec, type PackageSpec, type PathsEntry, type TarEntry } from '../../fixtures/channel/index.js';
import { tarEntryHeader, writeTar } from '../../fixtures/channel/tar.js';
import { zstdCompress, zstdFromSegments } from '../../fixtures/channel/zstd.js';

export const CORPUS = path.resolve('tests', 'reliability', 'corpus');

export type Outcome = 'refused' | 'skipped' | 'harmless';

export interface Case {
  id: string;
  kind: 'env.spec' | 'branch' | 'label-file' | 'label-command' | 'archive' | 'env.lock';
  description: string;
  /** Fragment of the error (refused) or warning (skipped); empty for harmless. */
  expect: string;
  outcome: Outcome;
  /** Set where gitenv does not refuse the input yet: what is wrong, and where. */
  knownBug?: string;
  file?: string;
  generate?: { head: string; repeat: string; bytes: number };
  name?: string;
  label?: string;
  content?: string;
  tag?: string;
  package?: string;
  /** Archive cases: packages installed before `package` in the same environment (its dependencies). */
  withPackages?: string[];
  /** Must appear in no message, result or file of the run. */
  secret?: string;
}

export async function loadCases(): Promise<Case[]> {
  const doc = JSON.parse(await fs.readFile(path.join(CORPUS, 'manifest.json'), 'utf8')) as { cases: Case[] };
  return doc.cases;
}

export interface Placeholders {
  canary: string;
  canaryRel: string;
  env?: string;
}

export function substitute(text: string, p: Placeholders): string {
  return text
    .replaceAll('@CANARY_REL@', p.canaryRel)
    .replaceAll('@CANARY@', p.canary)
    .replaceAll('@ENV@', p.env ?? '');
}

/** A case's input file (or generated content) with the placeholders filled in (bytes kept as they are). */
export async function caseInput(c: Case, p: Placeholders): Promise<Buffer> {
  if (c.generate) {
    const { head, repeat, bytes } = c.generate;
    return Buffer.from(head + repeat.repeat(Math.ceil(bytes / repeat.length)));
  }
  const raw = await fs.readFile(path.join(CORPUS, c.file as string));
  const asText = raw.toString('latin1');
  return asText.includes('@CANARY') ? Buffer.from(substitute(asText, p), 'latin1') : raw;
}

interface PackageDescription extends Omit<PackageSpec, 'files' | 'hostile'> {
  files?: Record<string, string | (Omit<FileSpec, 'mode'> & { mode?: string })>;
  rawEntries?: (Omit<TarEntry, 'mode'> & { mode?: string })[];
  rawInfoEntries?: (Omit<TarEntry, 'mode'> & { mode?: string })[];
  /** Rewrites of info/paths.json: set fields of the entry at `path`, or add an entry. */
  paths?: ({ path: string; set: Partial<PathsEntry> } | { add: PathsEntry })[];
  /** Replace the payload by one file declaring this many bytes of zeros (a few kB compressed). */
  zipBomb?: { bytes: number };
  /** This many zero bytes after the end-of-archive blocks of the payload tar (a few hundred bytes compressed). */
  tail?: { bytes: number };
  /** A `.conda` whose pkg tar is empty: `nothing` (no bytes at all) or `eof` (only end-of-archive blocks). */
  emptyPayload?: 'nothing' | 'eof';
}

const octal = (mode: string | undefined) => (mode === undefined ? undefined : parseInt(mode, 8));

/** Builds the package a corpus description stands for into `outDir`. */
export async function buildCorpusPackage(file: string, p: Placeholders, outDir: string): Promise<BuiltPackage> {
  const d = JSON.parse(substitute(await fs.readFile(path.resolve(CORPUS, file), 'utf8'), p)) as PackageDescription;
  const files: PackageSpec['files'] = {};
  for (const [k, v] of Object.entries(d.files ?? {})) files[k] = typeof v === 'string' ? v : { ...v, mode: octal(v.mode) };
  const entries = (list: PackageDescription['rawEntries']) => (list ?? []).map((e) => ({ ...e, mode: octal(e.mode) }));
  const spec: PackageSpec = {
    ...d,
    files,
    hostile: {
      rawEntries: entries(d.rawEntries),
      rawInfoEntries: entries(d.rawInfoEntries),
      paths: d.paths ? (list) => rewritePaths(list, d.paths ?? []) : undefined,
    },
  };
  if (d.emptyPayload) spec.hostile = { ...spec.hostile, condaMembers: { pkg: zstdCompress(d.emptyPayload === 'eof' ? writeTar([]) : Buffer.alloc(0)) } };
  const built = await buildPackage(spec, outDir);
  if (d.tail) return withTail(built, d.tail.bytes);
  return d.zipBomb ? makeZipBomb(built, d.zipBomb.bytes) : built;
}

/**
 * 40,000,000 zero bytes as one bzip2 stream (51 bytes: `head -c 40000000 /dev/zero | bzip2 -9`, bzip2
 * 1.0.8). Concatenated streams decompress as one: a tail of any size costs 51 bytes per 40 MB.
 */
const ZEROS_40MB_BZ2 = Buffer.from('QlpoOTFBWSZTWdjs3f4BMl9ACMAAABAACCAAMMwJqmmgSlFbUBKUV4u5IpwoSGx2bv8A', 'base64');

/**
 * Appends `bytes` zeros (a multiple of 40 MB for `.tar.bz2`) after the end of the payload tar: more
 * bzip2 streams after a `.tar.bz2`, one zstd frame of the tar plus an RLE block in a `.conda`.
 */
export async function withTail(built: BuiltPackage, bytes: number): Promise<BuiltPackage> {
  let archive: Buffer;
  if (built.format === 'tar.bz2') {
    const streams = Math.ceil(bytes / 40_000_000);
    archive = Buffer.concat([await fs.readFile(built.path), ...new Array<Buffer>(streams).fill(ZEROS_40MB_BZ2)]);
  } else {
    const { decompress } = await import('fzstd');
    archive = writeZip(
      (await zipMembers(built.path)).map((e) => {
        if (!e.name.startsWith('pkg-')) return e;
        const tar = Buffer.from(decompress(e.data));
        // as zstd writes a large stream: no content size, an 8 MiB window (not one segment of it all)
        const frame = zstdFromSegments([tar, { byte: 0, size: bytes }]);
        return { name: e.name, data: Buffer.concat([frame.subarray(0, 4), Buffer.from([0x00, (23 - 10) << 3]), frame.subarray(13)]) };
      }),
    );
  }
  return rewritten(built, archive);
}

async function rewritten(built: BuiltPackage, archive: Buffer): Promise<BuiltPackage> {
  await fs.writeFile(built.path, archive);
  const sums = {
    md5: createHash('md5').update(archive).digest('hex'),
    sha256: createHash('sha256').update(archive).digest('hex'),
    size: archive.length,
  };
  return { ...built, ...sums, record: { ...built.record, ...sums } };
}

function rewritePaths(list: PathsEntry[], edits: NonNullable<PackageDescription['paths']>): PathsEntry[] {
  const out = list.map((e) => ({ ...e }));
  for (const edit of edits) {
    if ('add' in edit) out.push(edit.add);
    else Object.assign(out.find((e) => e._path === edit.path) ?? {}, edit.set);
  }
  return out;
}

/**
 * Rewrites a built .conda so its pkg tar declares `bytes` of zeros in one file: zstd RLE blocks keep
 * the archive a few kB however large the declared content is. The hashes are recomputed: the bomb
 * is a package exactly as the lock describes it, only its content explodes.
 */
async function makeZipBomb(built: BuiltPackage, bytes: number): Promise<BuiltPackage> {
  const keep = await zipMembers(built.path);
  const header = Buffer.concat(tarEntryHeader({ path: 'share/zeros.bin' }, bytes));
  const pad = (512 - (bytes % 512)) % 512;
  const trailer = writeTar([]); // the two zero blocks that end a tar
  const bomb = zstdFromSegments([header, { byte: 0, size: bytes + pad }, trailer]);
  const entries = keep.map((e) => (e.name.startsWith('pkg-') ? { name: e.name, data: bomb } : e));
  return rewritten(built, writeZip(entries));
}

/** The members of a zip (a `.conda`), in order. */
async function zipMembers(file: string): Promise<{ name: string; data: Buffer }[]> {
  const { default: yauzl } = await import('yauzl');
  const zip = await new Promise<import('yauzl').ZipFile>((resolve, reject) => yauzl.open(file, { lazyEntries: true }, (err, z) => (err ? reject(err) : resolve(z))));
  const keep: { name: string; data: Buffer }[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: import('yauzl').Entry) => {
      zip.openReadStream(entry, (err, stream) => {
        if (err) return reject(err);
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          keep.push({ name: entry.fileName, data: Buffer.concat(chunks) });
          zip.readEntry();
        });
      });
    });
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.readEntry();
  });
  return keep;
}
