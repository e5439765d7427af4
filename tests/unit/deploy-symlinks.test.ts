import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeMarker } from '../../src/deploy/layout.js';
import { applyLinks, isLabelName, planLinks, readLabelLinks, readPointedTo, switchLink, type WantedLink } from '../../src/deploy/symlinks.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv links '));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function completePrefix(name: string): Promise<void> {
  await fs.mkdir(path.join(dir, name), { recursive: true });
  await writeMarker(path.join(dir, name), {
    env: 'default',
    tag: `env-default-${name}`,
    deployedName: name,
    commit: 'c'.repeat(40),
    lockSha256: 'd'.repeat(64),
    engine: 'builtin',
    time: new Date(0).toISOString(),
    gitenvVersion: '0.1.0',
    packages: 1,
  });
}

const want = (name: string): WantedLink => ({ deployedName: name, tag: `env-default-${name}` });

test('planLinks switches changed labels, keeps equal ones, removes only what may be removed', () => {
  const current = new Map([
    ['latest', '2026_01_01'],
    ['current', '2026_01_01'],
    ['gone', '2025_01_01'],
    ['filtered', '2025_01_01'],
  ]);
  const wanted = new Map([
    ['latest', want('2026_01_02')],
    ['current', want('2026_01_01')],
    ['next', want('2026_01_02')],
  ]);
  expect(planLinks(current, wanted, (l) => l !== 'filtered')).toEqual([
    { label: 'latest', from: '2026_01_01', to: '2026_01_02', tag: 'env-default-2026_01_02' },
    { label: 'next', from: undefined, to: '2026_01_02', tag: 'env-default-2026_01_02' },
    { label: 'gone', from: '2025_01_01' },
  ]);
});

test('links are relative, switched in place, and read back', async () => {
  await completePrefix('2026_01_01');
  await completePrefix('2026_01_02');
  await switchLink(dir, 'latest', '2026_01_01');
  expect(await fs.readlink(path.join(dir, 'latest'))).toBe('2026_01_01');
  await switchLink(dir, 'latest', '2026_01_02');
  expect(await fs.readlink(path.join(dir, 'latest'))).toBe('2026_01_02');
  expect(await fs.realpath(path.join(dir, 'latest'))).toBe(await fs.realpath(path.join(dir, '2026_01_02')));
  // no temporary link stays behind
  expect((await fs.readdir(dir)).sort()).toEqual(['2026_01_01', '2026_01_02', 'latest']);
  await fs.symlink('/elsewhere/x', path.join(dir, 'foreign'));
  expect(await readLabelLinks(dir)).toEqual(new Map([['latest', '2026_01_02']]));
});

test('a label is never switched to an incomplete prefix; removal drops only the symlink', async () => {
  await completePrefix('2026_01_01');
  await fs.mkdir(path.join(dir, '2026_01_02')); // no marker
  await switchLink(dir, 'latest', '2026_01_01');
  await switchLink(dir, 'old', '2026_01_01');
  const { applied, skipped } = await applyLinks(dir, [
    { label: 'latest', from: '2026_01_01', to: '2026_01_02', tag: 'env-default-2026_01_02' },
    { label: 'old', from: '2026_01_01' },
  ]);
  expect(skipped.map((c) => c.label)).toEqual(['latest']);
  expect(applied.map((c) => c.label)).toEqual(['old']);
  expect(await fs.readlink(path.join(dir, 'latest'))).toBe('2026_01_01');
  expect((await fs.readdir(dir)).sort()).toEqual(['2026_01_01', '2026_01_02', 'latest']);
});

test('a label never replaces a real directory, and odd names are refused', async () => {
  await fs.mkdir(path.join(dir, 'current'));
  await expect(switchLink(dir, 'current', '2026_01_01')).rejects.toThrow(/not a symlink/);
  await expect(switchLink(dir, '../x', '2026_01_01')).rejects.toThrow(/not a valid label/);
  expect(isLabelName('pre-prod')).toBe(true);
  expect(isLabelName('2026_01_01')).toBe(false);
  expect(isLabelName('.hidden')).toBe(false);
});

test('links the site made are no labels, yet every link protects what it leads to', async () => {
  for (const n of ['2026_01_01', '2026_01_02', '2026_01_03', '2026_01_04']) await completePrefix(n);
  await switchLink(dir, 'current', '2026_01_04');
  await fs.symlink('./2026_01_01', path.join(dir, 'pinned'));
  await fs.symlink(path.join(dir, '2026_01_02'), path.join(dir, 'frozen'));
  await fs.symlink('pinned', path.join(dir, 'chained'));
  await fs.symlink('2026_01_03/bin', path.join(dir, 'bin-of-3'));
  await fs.symlink('/elsewhere/x', path.join(dir, 'foreign'));
  expect(await readLabelLinks(dir)).toEqual(new Map([['current', '2026_01_04']]));
  expect([...(await readPointedTo(dir))].sort()).toEqual(['2026_01_01', '2026_01_02', '2026_01_03', '2026_01_04']);
  expect([...(await readPointedTo(dir, new Set(['current'])))].sort()).toEqual(['2026_01_01', '2026_01_02', '2026_01_03']);
});

test('one change that cannot be made fails alone; the others are made', async () => {
  await completePrefix('2026_01_01');
  await fs.mkdir(path.join(dir, 'blocked'));
  const { applied, failed } = await applyLinks(dir, [
    { label: 'blocked', to: '2026_01_01', tag: 'env-default-2026_01_01' },
    { label: 'latest', to: '2026_01_01', tag: 'env-default-2026_01_01' },
  ]);
  expect(failed.map((f) => [f.change.label, f.message])).toEqual([['blocked', expect.stringContaining('exists and is not a symlink')]]);
  expect(applied.map((c) => c.label)).toEqual(['latest']);
  expect(await fs.readlink(path.join(dir, 'latest'))).toBe('2026_01_01');
});
