/**
 * The hostile-input corpus (tests/reliability/corpus): its manifest, and the archives its package
 * descriptions stand for, built with the channel builder (and by hand for the zip bomb).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { buildPackage, writeZip, type BuiltPackage, type FileSpec, type PackageSpec, type PathsEntry, type TarEntry } from '../../fixtures/channel/index.js';
import { tarEntryHeader, writeTar } from '../../fixtures/channel/tar.js';
import { zstdFromSegments } from '../../fixtures/channel/zstd.js';

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
  return text.replaceAll('@CANARY_REL@', p.canaryRel).replaceAll('@CANARY@', p.canary).replaceAll('@ENV@', p.env ?? '');
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
  const built = await buildPackage(spec, outDir);
  return d.zipBomb ? makeZipBomb(built, d.zipBomb.bytes) : built;
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
  const { default: yauzl } = await import('yauzl');
  const zip = await new Promise<import('yauzl').ZipFile>((resolve, reject) =>
    yauzl.open(built.path, { lazyEntries: true }, (err, z) => (err ? reject(err) : resolve(z))),
  );
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
  const header = Buffer.concat(tarEntryHeader({ path: 'share/zeros.bin' }, bytes));
  const pad = (512 - (bytes % 512)) % 512;
  const trailer = writeTar([]); // the two zero blocks that end a tar
  const bomb = zstdFromSegments([header, { byte: 0, size: bytes + pad }, trailer]);
  const entries = keep.map((e) => (e.name.startsWith('pkg-') ? { name: e.name, data: bomb } : e));
  const archive = writeZip(entries);
  await fs.writeFile(built.path, archive);
  const sums = {
    md5: createHash('md5').update(archive).digest('hex'),
    sha256: createHash('sha256').update(archive).digest('hex'),
    size: archive.length,
  };
  return { ...built, ...sums, record: { ...built.record, ...sums } };
}
