/**
 * The python that byte-compiles noarch packages starts as soon as the python package is linked, while
 * the packages after it are linked. Two things must hold whatever that early start meets: an
 * interpreter that could not start then (something it needs comes later) is started once more when
 * everything is linked, and an install that fails meanwhile leaves no python running.
 *
 * The fixture python is a wrapper around the system's python that logs each start (its pid) into
 * TMPDIR, which the installer passes to package code (package-env.ts).
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BuiltinInstaller } from '../../src/installer/builtin-installer.js';
import { PackageError } from '../../src/util/errors.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { lockedPackage, systemPython } from '../conformance/fixture-env.js';
import { buildChannel, cString, SHORT_PLACEHOLDER, type PackageSpec } from '../fixtures/channel/index.js';

const py = systemPython();
if (!py) throw new Error('python3 is needed: the fixture python wraps it');

let work: string;
beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-byte-compile-'));
});
afterAll(async () => {
  if (work) await fs.rm(work, { recursive: true, force: true });
});

/**
 * A python whose every start appends its pid to $TMPDIR/starts; with `failFirst`, its first start
 * exits 3 (as a python would that lacks a library linked after it).
 */
function loggingPython(failFirst: boolean): PackageSpec {
  const wrapper =
    '#!/bin/sh\n' +
    'echo $$ >> "$TMPDIR/starts"\n' +
    (failFirst ? 'if [ ! -e "$TMPDIR/failed-once" ]; then : > "$TMPDIR/failed-once"; echo "libmissing.so: not found" >&2; exit 3; fi\n' : '') +
    `exec "${py!.executable}" "$@"\n`;
  return { name: 'python', version: py!.version, build: 'h0_logging', files: { 'bin/python': { content: wrapper, mode: 0o755 } } };
}

const GREET: PackageSpec = {
  name: 'greet',
  version: '0.4.0',
  noarch: 'python',
  depends: ['python'],
  files: { 'site-packages/greet/__init__.py': '__version__ = "0.4.0"\n', 'site-packages/greet/cli.py': 'def main():\n    return 0\n' },
};

let count = 0;
async function install(specs: PackageSpec[]): Promise<{ prefix: string; staging: string; logger: MemoryLogger; tmp: string; install: Promise<unknown> }> {
  const n = ++count;
  const channel = await buildChannel(path.join(work, `channel-${n}`), specs);
  const tmp = path.join(work, `tmp-${n}`);
  await fs.mkdir(tmp);
  const prefix = path.join(work, `env-${n}`);
  const staging = `${prefix}.staging`;
  const logger = new MemoryLogger();
  const running = new BuiltinInstaller({ env: { ...process.env, TMPDIR: tmp } }).install({
    packages: channel.packages.map((p) => lockedPackage(p, pathToFileURL(channel.dir).href)),
    prefix,
    stagingDir: staging,
    pkgCache: path.join(work, 'pkgs'),
    logger,
  });
  return { prefix, staging, logger, tmp, install: running };
}

const starts = async (tmp: string): Promise<number[]> => (await fs.readFile(path.join(tmp, 'starts'), 'utf8').catch(() => '')).split('\n').filter(Boolean).map(Number);

test('one python start compiles every noarch module', async () => {
  const run = await install([loggingPython(false), GREET]);
  await run.install;
  expect(await starts(run.tmp)).toHaveLength(1);
  const tag = `cpython-${py.short.replace('.', '')}`;
  for (const mod of ['__init__', 'cli']) await fs.access(path.join(run.staging, `lib/python${py.short}/site-packages/greet/__pycache__/${mod}.${tag}.pyc`));
  expect(run.logger.lines('warning').join('\n')).not.toMatch(/byte-compiled/);
});

test('a python that could not start early is started again once everything is linked', async () => {
  const run = await install([loggingPython(true), GREET]);
  await run.install;
  expect(await starts(run.tmp)).toHaveLength(2);
  const tag = `cpython-${py.short.replace('.', '')}`;
  await fs.access(path.join(run.staging, `lib/python${py.short}/site-packages/greet/__pycache__/cli.${tag}.pyc`));
  expect(run.logger.lines('warning').join('\n')).not.toMatch(/byte-compiled/);
  const name = (await fs.readdir(path.join(run.staging, 'conda-meta'))).find((f) => f.startsWith('greet-')) as string;
  const record = JSON.parse(await fs.readFile(path.join(run.staging, 'conda-meta', name), 'utf8')) as { files: string[] };
  expect(record.files.some((f) => f.endsWith(`cli.${tag}.pyc`))).toBe(true);
});

test('an install that fails after python started leaves no python running', async () => {
  // Linked after python: a binary placeholder shorter than the prefix, which fails the link.
  const tooLong: PackageSpec = {
    name: 'toolong',
    version: '1.0',
    placeholder: SHORT_PLACEHOLDER,
    files: { 'lib/libtoolong.so': { content: Buffer.concat([Buffer.from('\x7fELF'), cString('@PREFIX@/lib')]), prefix: 'binary' } },
  };
  const run = await install([loggingPython(false), tooLong, GREET]);
  await expect(run.install).rejects.toThrow(PackageError);
  // Its pid as the installer started it (the wrapper may have been stopped before it logged anything).
  const pid = Number(/python started to byte-compile .*\(pid (\d+)\)/.exec(run.logger.lines('debug').join('\n'))?.[1]);
  expect(pid).toBeGreaterThan(0);
  const deadline = Date.now() + 5_000;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(alive(pid)).toBe(false);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
