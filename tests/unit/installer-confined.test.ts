/**
 * The installer's one rule for writing into a directory it owns (src/installer/confined.ts): paths
 * normalised before any check, no write whose parent's real path is outside the root, links made
 * without following, new files renamed into place rather than written into an existing inode.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfinedDir } from '../../src/installer/confined.js';
import { checkIndexNames, type IndexJson } from '../../src/installer/package-info.js';
import { recordFileName } from '../../src/installer/conda-meta.js';
import { normalizeRel } from '../../src/installer/path-safety.js';

let work: string;
let root: string;
let outside: string;

beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'gitenv-confined-'));
  root = path.join(work, 'env', 'staging');
  outside = path.join(work, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'sentinel.txt'), 'keep');
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

test('paths are normalised: empty and . segments dropped, absolute kept for refusal', () => {
  expect(normalizeRel('a/./b//c/')).toBe('a/b/c');
  expect(normalizeRel('./a')).toBe('a');
  expect(normalizeRel('a/../b')).toBe('a/../b');
  expect(normalizeRel('/etc/x')).toBe('/etc/x');
  const dir = new ConfinedDir(root);
  expect(() => dir.abs('a/../../x')).toThrow('leaves its directory');
  expect(() => dir.abs('/etc/passwd')).toThrow('absolute path');
  expect(dir.abs('a/./b')).toBe(path.join(root, 'a', 'b'));
});

test('nothing is written through a link whose real path is outside, however the links were made', () => {
  const dir = new ConfinedDir(root);
  // a chain across "packages": d/s -> the root, lib/a -> ../d/s/../../outside, each inside on paper
  dir.createSync('d/s', (abs) => fs.symlinkSync('..', abs));
  dir.createSync('lib/a', (abs) => fs.symlinkSync('../d/s/../../outside', abs));
  expect(fs.realpathSync.native(path.join(root, 'lib/a'))).toBe(fs.realpathSync.native(outside)); // as the kernel follows it
  const src = path.join(work, 'src.txt');
  fs.writeFileSync(src, 'pwned');
  expect(() => dir.createSync('lib/a/sentinel.txt', (abs) => fs.linkSync(src, abs))).toThrow(/leads out of/);
  expect(() => dir.ensureDir('lib/a/sub')).toThrow(/leads out of/);
  expect(() => dir.createSync('lib/./a//sentinel.txt', (abs) => fs.symlinkSync('x', abs))).toThrow(/leads out of/);
  expect(fs.readdirSync(outside)).toEqual(['sentinel.txt']);
  expect(fs.readFileSync(path.join(outside, 'sentinel.txt'), 'utf8')).toBe('keep');
});

test('a link that resolves inside may be written through (lib64 -> lib)', async () => {
  const dir = new ConfinedDir(root);
  dir.ensureDir('lib');
  dir.createSync('lib64', (abs) => fs.symlinkSync('lib', abs));
  await dir.writeNew('lib64/libx.so', (tmp) => fs.promises.writeFile(tmp, 'x'));
  expect(fs.readFileSync(path.join(root, 'lib', 'libx.so'), 'utf8')).toBe('x');
  expect(await dir.linkInside('lib64')).toBe(true);
});

test('a directory resolved before is resolved again once something was removed (it may be a link now)', () => {
  const dir = new ConfinedDir(root);
  dir.ensureDir('lib/a');
  fs.writeFileSync(path.join(root, 'lib/a/f'), 'f');
  dir.createSync('lib/a', (abs) => fs.symlinkSync('../../../outside', abs)); // replaces the directory
  expect(() => dir.createSync('lib/a/g', (abs) => fs.symlinkSync('x', abs))).toThrow(/leads out of/);
  expect(fs.readdirSync(outside)).toEqual(['sentinel.txt']);
});

test('links are made without following, and what stands at a path is removed, not written into', async () => {
  const dir = new ConfinedDir(root);
  // a dangling link at the path: a new link replaces it, nothing is made where it pointed
  dir.createSync('bin/tool', (abs) => fs.symlinkSync('../../../outside/made-through', abs));
  dir.createSync('bin/tool', (abs) => fs.symlinkSync('other', abs));
  expect(fs.readlinkSync(path.join(root, 'bin/tool'))).toBe('other');
  expect(fs.existsSync(path.join(outside, 'made-through'))).toBe(false);
  // a file hard linked from elsewhere (the package cache): a new file replaces the link, the other name keeps its content
  const cached = path.join(work, 'cached.txt');
  fs.writeFileSync(cached, 'cache content');
  dir.createSync('conda-meta/history', (abs) => fs.linkSync(cached, abs));
  await dir.writeNew('conda-meta/history', (tmp) => fs.promises.writeFile(tmp, 'gitenv history'));
  expect(fs.readFileSync(path.join(root, 'conda-meta/history'), 'utf8')).toBe('gitenv history');
  expect(fs.readFileSync(cached, 'utf8')).toBe('cache content');
  dir.close();
  expect(fs.readdirSync(root).filter((n) => n.startsWith('.gitenv-tmp'))).toEqual([]);
});

test('directories are made 755 whatever the umask', () => {
  const umask = process.umask(0);
  try {
    new ConfinedDir(root).ensureDir('a/b');
  } finally {
    process.umask(umask);
  }
  expect((fs.statSync(path.join(root, 'a/b')).mode & 0o777).toString(8)).toBe('755');
});

const index = (fields: Partial<IndexJson>): IndexJson => ({ name: 'pkg', version: '1.0', build: 'h0_0', build_number: 0, ...fields });

test('info/index.json must name the package the lock names, in plain names', () => {
  expect(() => checkIndexNames(index({}), 'pkg-1.0-h0_0')).not.toThrow();
  expect(() => checkIndexNames(index({ build: 'h0_0/../../../../x/victim' }), 'pkg-1.0-h0_0')).toThrow(/index.json's build .* is not a valid package build/);
  expect(() => checkIndexNames(index({ name: 'numpy' }), 'pkg-1.0-h0_0')).toThrow(/names "numpy-1.0-h0_0", not the package the lock names \(pkg-1.0-h0_0\)/);
  expect(() => checkIndexNames(index({ version: '1.0\nforged' }), 'pkg-1.0\nforged-h0_0')).toThrow(/version/);
  expect(() => checkIndexNames(index({ name: '..' }), '..-1.0-h0_0')).toThrow(/name/);
  expect(() => checkIndexNames({ ...index({}), build: 7 as unknown as string }, 'pkg-1.0-7')).toThrow(/build/);
  expect(() => recordFileName({ name: 'a', version: '1', build: 'b/../../x' })).toThrow('not a plain file name');
});

test('tryLinkNew: one link into a directory already checked; anything else is left to the general path, untouched', () => {
  const dir = new ConfinedDir(root);
  const source = path.join(work, 'source.txt');
  fs.writeFileSync(source, 'data');
  dir.ensureDir('lib/sub');
  expect(dir.tryLinkNew('lib/sub/a.txt', source)).toBe(true);
  expect(fs.statSync(path.join(root, 'lib/sub/a.txt')).ino).toBe(fs.statSync(source).ino);
  expect(dir.tryLinkNew('top.txt', source)).toBe(true); // the root itself needs no check
  // Already there: nothing replaced here (createSync's job), the file stays as it was.
  expect(dir.tryLinkNew('lib/sub/a.txt', path.join(outside, 'sentinel.txt'))).toBe(false);
  expect(fs.readFileSync(path.join(root, 'lib/sub/a.txt'), 'utf8')).toBe('data');
  // A parent never checked, a path needing care: refused without a system call.
  fs.mkdirSync(path.join(root, 'made-by-hand'));
  expect(dir.tryLinkNew('made-by-hand/b.txt', source)).toBe(false);
  expect(fs.existsSync(path.join(root, 'made-by-hand/b.txt'))).toBe(false);
  for (const rel of ['lib/../../x.txt', '/etc/x', 'lib//sub/c.txt', 'lib/./sub/c.txt']) expect(dir.tryLinkNew(rel, source)).toBe(false);
  // After a removal every parent counts as unchecked again: a directory swapped for a link to
  // outside is never written through.
  dir.removeSync('lib/sub');
  fs.symlinkSync(outside, path.join(root, 'lib', 'sub'));
  expect(dir.tryLinkNew('lib/sub/d.txt', source)).toBe(false);
  expect(fs.readdirSync(outside)).toEqual(['sentinel.txt']);
});
