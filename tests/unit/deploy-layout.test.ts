import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  compareDeployedNames,
  envDir,
  findLeftovers,
  isComplete,
  listDeployedNames,
  makeStagingDir,
  moveIntoPlace,
  readMarker,
  removeLeftovers,
  writeMarker,
  type DeployMarker,
} from '../../src/deploy/layout.js';

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv layout '));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const marker = (tag: string): DeployMarker => ({
  env: 'default',
  tag,
  deployedName: tag.replace(/^env-default-/, ''),
  commit: 'a'.repeat(40),
  lockSha256: 'b'.repeat(64),
  engine: 'builtin',
  time: '2026-01-01T00:00:00.000Z',
  gitenvVersion: '0.1.0',
  packages: 3,
});

test('a staging prefix is hidden, beside the final one, and becomes complete only with its marker', async () => {
  const dir = path.join(tmp, 'default');
  const staging = await makeStagingDir(dir, '2026_01_02');
  expect(path.dirname(staging)).toBe(dir);
  expect(path.basename(staging)).toMatch(/^\.staging-2026_01_02-[0-9a-f]{8}$/);
  expect((await fs.stat(staging)).mode & 0o777).toBe(0o700); // private until the rename, whatever the umask
  expect(await isComplete(staging)).toBe(false);

  await writeMarker(staging, marker('env-default-2026_01_02'));
  const prefix = path.join(dir, '2026_01_02');
  expect(await moveIntoPlace(staging, prefix)).toEqual({ replaced: false });
  expect(await isComplete(prefix, 'env-default-2026_01_02')).toBe(true);
  expect(await isComplete(prefix, 'env-default-2026_01_03')).toBe(false);
  expect((await readMarker(prefix))?.lockSha256).toBe('b'.repeat(64));
  await expect(fs.access(staging)).rejects.toThrow();
});

test('a marker that is not JSON or lacks the tag is not complete', async () => {
  const prefix = path.join(tmp, 'p');
  await fs.mkdir(path.join(prefix, 'conda-meta'), { recursive: true });
  await fs.writeFile(path.join(prefix, 'conda-meta', 'gitenv.json'), '{"tag": ');
  expect(await isComplete(prefix)).toBe(false);
  await fs.writeFile(path.join(prefix, 'conda-meta', 'gitenv.json'), '{"commit": "x"}');
  expect(await isComplete(prefix)).toBe(false);
});

test('a directory without a marker under the final name is replaced by the complete one', async () => {
  const dir = path.join(tmp, 'default');
  const prefix = path.join(dir, '2026_01_02');
  await fs.mkdir(path.join(prefix, 'bin'), { recursive: true });
  await fs.writeFile(path.join(prefix, 'bin', 'old'), 'old');
  const staging = await makeStagingDir(dir, '2026_01_02');
  await fs.writeFile(path.join(staging, 'new'), 'new');
  await writeMarker(staging, marker('env-default-2026_01_02'));
  expect(await moveIntoPlace(staging, prefix)).toEqual({ replaced: true });
  expect(await fs.readFile(path.join(prefix, 'new'), 'utf8')).toBe('new');
  expect(await fs.readdir(dir)).toEqual(['2026_01_02']);
});

test('leftovers of killed runs are found and removed; prefixes and labels are not', async () => {
  const dir = path.join(tmp, 'default');
  await makeStagingDir(dir, '2026_01_02');
  await fs.mkdir(path.join(dir, '.trash-2025_01_01-0011aabb'));
  await fs.symlink('2026_01_01', path.join(dir, '.link-latest-0011aabb'));
  await fs.mkdir(path.join(dir, '2026_01_01'));
  await fs.symlink('2026_01_01', path.join(dir, 'latest'));
  expect((await findLeftovers(dir)).length).toBe(3);
  await removeLeftovers(dir);
  expect((await fs.readdir(dir)).sort()).toEqual(['2026_01_01', 'latest']);
  expect(await findLeftovers(path.join(tmp, 'missing'))).toEqual([]);
});

test('deployed names sort by date then suffix; other entries are not deployed prefixes', async () => {
  expect(['2026_01_02-1', '2026_01_02', '2025_12_31', '2026_01_02-10', '2026_01_02-2'].sort(compareDeployedNames)).toEqual([
    '2025_12_31',
    '2026_01_02',
    '2026_01_02-1',
    '2026_01_02-2',
    '2026_01_02-10',
  ]);
  const dir = path.join(tmp, 'e');
  for (const n of ['2026_01_02-1', '2026_01_02', 'notes', '.staging-2026_01_03-ab']) await fs.mkdir(path.join(dir, n), { recursive: true });
  await fs.symlink('2026_01_02', path.join(dir, '2026_09_09'));
  expect(await listDeployedNames(dir)).toEqual(['2026_01_02', '2026_01_02-1']);
});

test('environment directories never leave the target nor hide among its own entries', () => {
  expect(envDir('/t', 'default')).toBe('/t/default');
  for (const bad of ['', '.', '..', '.pkg_cache', 'a/b', '..\\x']) expect(() => envDir('/t', bad)).toThrow(/cannot be deployed/);
});

test('a complete prefix already under the final name is kept; the staging one is dropped', async () => {
  const dir = path.join(tmp, 'default');
  const prefix = path.join(dir, '2026_01_02');
  for (const content of ['first', 'second']) {
    const staging = await makeStagingDir(dir, '2026_01_02');
    await fs.writeFile(path.join(staging, 'which'), content);
    await writeMarker(staging, marker('env-default-2026_01_02'));
    await moveIntoPlace(staging, prefix);
  }
  expect(await fs.readFile(path.join(prefix, 'which'), 'utf8')).toBe('first');
  expect(await fs.readdir(dir)).toEqual(['2026_01_02']);
});

test('staging stays private under a permissive umask too', async () => {
  const old = process.umask(0);
  try {
    const staging = await makeStagingDir(path.join(tmp, 'open'), '2026_01_09');
    expect((await fs.stat(staging)).mode & 0o777).toBe(0o700);
  } finally {
    process.umask(old);
  }
});
