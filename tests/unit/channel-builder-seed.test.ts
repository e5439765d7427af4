/**
 * The seed walk-through channel has the packages the walk-through needs, and an environment made from
 * it works once installed: here a hand-made installation (real tar/unzip/zstd, placeholder replaced,
 * the entry point written as conda writes it) runs the noarch package's entry point.
 */
import { execFileSync } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildSeedChannel, SEED_VERSIONS, type BuiltChannel, type BuiltPackage } from '../fixtures/channel/index.js';

let tmp: string;
let channel: BuiltChannel;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'seed-channel-'));
  channel = await buildSeedChannel(path.join(tmp, 'channel'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const find = (c: BuiltChannel, name: string, version?: string) => {
  const p = c.packages.find((x) => x.record.name === name && (!version || x.record.version === version));
  if (!p) throw new Error(`no ${name} ${version ?? ''} in the seed channel`);
  return p;
};

async function extractInto(pkg: BuiltPackage, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  if (pkg.format === 'tar.bz2') {
    execFileSync('tar', ['-xjf', pkg.path, '-C', dest]);
    return;
  }
  const zipDir = await mkdtemp(path.join(tmp, 'zip-'));
  execFileSync('unzip', ['-q', pkg.path, '-d', zipDir]);
  for (const part of ['pkg', 'info']) {
    const zst = path.join(zipDir, `${part}-${pkg.dist}.tar.zst`);
    execFileSync('zstd', ['-q', '-d', zst, '-o', `${zst}.tar`]);
    execFileSync('tar', ['-xf', `${zst}.tar`, '-C', dest]);
  }
}

/** Just enough of an installer for python + one noarch package: what issue 4's installer does fully. */
async function install(prefix: string, python: BuiltPackage, noarch: BuiltPackage): Promise<void> {
  await extractInto(python, prefix);
  const script = path.join(prefix, 'bin/python');
  await writeFile(script, (await readFile(script, 'utf8')).split(python.placeholder).join(prefix));
  const xy = python.record.version.split('.').slice(0, 2).join('.');
  const staged = await mkdtemp(path.join(tmp, 'noarch-'));
  await extractInto(noarch, staged);
  await cp(path.join(staged, 'site-packages'), path.join(prefix, `lib/python${xy}/site-packages`), { recursive: true });
  const link = JSON.parse(await readFile(path.join(staged, 'info/link.json'), 'utf8'));
  for (const ep of link.noarch.entry_points as string[]) {
    const [, name, module, func] = /^\s*(\S+)\s*=\s*([\w.]+):(\w+)/.exec(ep)!;
    const body = `#!${prefix}/bin/python\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom ${module} import ${func}\nif __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw?|\\.exe)?$', '', sys.argv[0])\n    sys.exit(${func}())\n`;
    await writeFile(path.join(prefix, 'bin', name), body);
    await chmod(path.join(prefix, 'bin', name), 0o755);
  }
}

test('the channel holds the walk-through packages with their dependencies', () => {
  const names = channel.packages.map((p) => `${p.subdir}/${p.fn}`).sort();
  expect(names).toEqual([
    'linux-64/numpy-1.16.6-py27_0.tar.bz2',
    'linux-64/numpy-1.26.4-py311_0.conda',
    'linux-64/openssl-1.1.1w-0.conda',
    'linux-64/python-2.7.18-0.tar.bz2',
    'linux-64/python-3.11.4-0.conda',
    'linux-64/zlib-1.2.13-0.tar.bz2',
    'noarch/pyhello-1.0.0-py_0.conda',
  ]);
  expect(find(channel, 'python', '3.11.4').record.depends).toContain('__glibc >=2.17');
  expect(find(channel, 'numpy', SEED_VERSIONS.numpy2).record.depends).toEqual(['python 2.7.*']);
  expect(find(channel, 'numpy', SEED_VERSIONS.numpy3).record.depends).toEqual(['python 3.11.*']);
  expect(find(channel, 'pyhello').record).toMatchObject({ noarch: 'python', subdir: 'noarch' });
});

test('python has a text placeholder in bin/python and openssl a binary one, nothing python_site_packages_path', () => {
  const python = find(channel, 'python', '3.11.4');
  expect(python.paths.find((p) => p._path === 'bin/python')).toMatchObject({ file_mode: 'text' });
  expect(python.paths.find((p) => p._path === 'lib/libpython3.11.so.1.0')).toMatchObject({ file_mode: 'binary' });
  expect(find(channel, 'openssl').paths.find((p) => p._path === 'lib/libcrypto.so.1.1')).toMatchObject({ file_mode: 'binary' });
  expect(python.record).not.toHaveProperty('python_site_packages_path');
});

test('an installed python 3 environment runs the noarch entry point', async () => {
  const prefix = path.join(tmp, 'envs', 'default');
  await install(prefix, find(channel, 'python', '3.11.4'), find(channel, 'pyhello'));
  expect(execFileSync(path.join(prefix, 'bin/pyhello'), { encoding: 'utf8' })).toBe('hello from pyhello 1.0.0\n');
  expect(execFileSync(path.join(prefix, 'bin/python3'), ['--version'], { encoding: 'utf8' })).toBe('Python 3.11.4\n');
});

test('an installed python 2 environment says it is 2.7 (the walk-through checks that) and runs the entry point', async () => {
  const prefix = path.join(tmp, 'envs', 'legacy');
  await install(prefix, find(channel, 'python', '2.7.18'), find(channel, 'pyhello'));
  expect(execFileSync(path.join(prefix, 'bin/python'), ['--version'], { encoding: 'utf8' })).toBe('Python 2.7.18\n');
  expect(execFileSync(path.join(prefix, 'bin/pyhello'), { encoding: 'utf8' })).toBe('hello from pyhello 1.0.0\n');
});

test('building again with newerPython adds python 3.11.5 and leaves every other archive as it was', async () => {
  const dir = path.join(tmp, 'channel-2');
  const before = await buildSeedChannel(dir);
  const after = await buildSeedChannel(dir, { newerPython: true });
  expect(after.packages).toHaveLength(before.packages.length + 1);
  expect(find(after, 'python', SEED_VERSIONS.python3Newer).fn).toBe('python-3.11.5-0.conda');
  for (const p of before.packages) expect(find(after, p.record.name, p.record.version).sha256).toBe(p.sha256);
  const repodata = JSON.parse(await readFile(path.join(dir, 'linux-64/repodata.json'), 'utf8'));
  expect(Object.keys(repodata['packages.conda'])).toContain('python-3.11.5-0.conda');
});
