/**
 * actions/setup against a loopback HTTP server: the tool cache layout, find before download, a
 * mirror template (with credentials), archives, checksum refusal and leftovers of earlier runs.
 * RUNNER_TOOL_CACHE and RUNNER_TEMP point at temp directories (with spaces in their paths).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tc from '@actions/tool-cache';
import { ensureMicromamba, setupMicromamba } from '../../src/setup/micromamba-setup.js';
import { micromambaPlatform } from '../../src/setup/micromamba-platform.js';
import { HttpError } from '../../src/util/errors.js';
import { MemoryLogger } from '../../src/util/logger.js';

const PLATFORM = micromambaPlatform();
const ARCH = process.arch;
const saved = { ...process.env };
let root: string;
let toolCache: string;
let runnerTemp: string;
let server: http.Server;
let base: string;
const requests: { url: string; authorization?: string }[] = [];
const files = new Map<string, Buffer>();

/** A stand-in executable that answers `--version` like micromamba. */
const executable = (version: string): Buffer => Buffer.from(`#!/bin/sh\necho ${version}\n`);

async function tarball(version: string, compression: 'j' | 'z'): Promise<Buffer> {
  const dir = await mkdtemp(path.join(root, 'archive-'));
  await mkdir(path.join(dir, 'bin'));
  await writeFile(path.join(dir, 'bin', 'micromamba'), executable(version), { mode: 0o755 });
  const out = path.join(root, `mm-${version}.tar`);
  execFileSync('tar', [`-c${compression}f`, out, '-C', dir, 'bin']);
  return readFile(out);
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'gitenv setup '));
  files.set(`/releases/2.3.3-0/micromamba-${PLATFORM}`, executable('2.3.3'));
  files.set(`/releases/2.2.0-0/micromamba-${PLATFORM}`, executable('2.2.0'));
  files.set(`/releases/2.1.0-0/micromamba-${PLATFORM}`, executable('2.1.0'));
  files.set(`/releases/2.0.8-0/micromamba-${PLATFORM}`, executable('2.0.8'));
  files.set(`/mirror/${PLATFORM}/2.0.5-0`, await tarball('2.0.5', 'j'));
  files.set(`/gz/2.0.4-0/micromamba-${PLATFORM}.tar.gz`, await tarball('2.0.4', 'z'));
  server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
    const body = files.get(req.url ?? '');
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/octet-stream' });
    res.end(body ?? 'not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await rm(root, { recursive: true, force: true });
});

beforeEach(async () => {
  toolCache = await mkdtemp(path.join(root, 'tool cache '));
  runnerTemp = await mkdtemp(path.join(root, 'runner temp '));
  process.env = { ...saved, RUNNER_TOOL_CACHE: toolCache, RUNNER_TEMP: runnerTemp };
  delete process.env.GITHUB_PATH;
  delete process.env.MAMBA_EXE;
  requests.length = 0;
});

afterEach(() => {
  process.env = { ...saved };
});

const releases = (): string => `${base}/releases/{version}/micromamba-{platform}`;
const run = (exe: string): string => execFileSync(exe, ['--version'], { encoding: 'utf8' }).trim();

test('downloads once into the tool cache layout, puts it on PATH, and a second run downloads nothing', async () => {
  const logger = new MemoryLogger();
  const first = await setupMicromamba({ version: '2.3.3-0', urlTemplate: releases() }, { logger });
  const dir = path.join(toolCache, 'micromamba', '2.3.3-0', ARCH);
  expect(first).toEqual({ path: path.join(dir, 'micromamba'), version: '2.3.3-0' });
  expect(existsSync(`${dir}.complete`)).toBe(true);
  expect(run(first.path)).toBe('2.3.3');
  expect(process.env.PATH?.split(path.delimiter)[0]).toBe(dir);
  expect(requests.map((r) => r.url)).toEqual([`/releases/2.3.3-0/micromamba-${PLATFORM}`]);
  expect(existsSync(path.join(runnerTemp, 'gitenv-micromamba', '2.3.3-0'))).toBe(false);

  const second = await setupMicromamba({ version: '2.3.3-0', urlTemplate: releases() }, { logger });
  expect(second).toEqual(first);
  expect(requests).toHaveLength(1);
  expect(logger.text()).toContain('found in the tool cache');
});

test('a version cached by an earlier run (another job) is used without a request', async () => {
  const dir = path.join(toolCache, 'micromamba', '2.4.0-0', ARCH);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'micromamba'), executable('2.4.0'), { mode: 0o755 });
  await writeFile(`${dir}.complete`, '');
  const result = await setupMicromamba({ version: '2.4.0-0', urlTemplate: releases() }, { logger: new MemoryLogger() });
  expect(result.path).toBe(path.join(dir, 'micromamba'));
  expect(requests).toHaveLength(0);
});

test('an interrupted earlier run (no .complete marker) is replaced by a fresh download', async () => {
  const dir = path.join(toolCache, 'micromamba', '2.3.3-0', ARCH);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'micromamba'), 'half a file');
  const result = await setupMicromamba({ version: '2.3.3-0', urlTemplate: releases() }, { logger: new MemoryLogger() });
  expect(run(result.path)).toBe('2.3.3');
  expect(requests).toHaveLength(1);
});

test('a file already at the download destination does not break the download', async () => {
  const leftover = path.join(runnerTemp, 'gitenv-micromamba', '2.2.0-0', 'download');
  await mkdir(path.dirname(leftover), { recursive: true });
  await writeFile(leftover, 'left by a cancelled job');
  const logger = new MemoryLogger();
  const result = await setupMicromamba({ version: '2.2.0-0', urlTemplate: releases() }, { logger });
  expect(run(result.path)).toBe('2.2.0');
  expect(logger.text()).toContain('Removing a leftover download');
});

test('a mirror template with credentials, serving a .tar.bz2 holding bin/micromamba', async () => {
  const logger = new MemoryLogger();
  const template = base.replace('http://', 'http://mirror-user:mirror-pass@') + '/mirror/{platform}/{version}';
  const result = await setupMicromamba({ version: '2.0.5-0', urlTemplate: template }, { logger });
  expect(result.path).toBe(path.join(toolCache, 'micromamba', '2.0.5-0', ARCH, 'micromamba'));
  expect(run(result.path)).toBe('2.0.5');
  expect(requests).toEqual([{ url: `/mirror/${PLATFORM}/2.0.5-0`, authorization: `Basic ${Buffer.from('mirror-user:mirror-pass').toString('base64')}` }]);
  expect(logger.text()).not.toContain('mirror-pass');
});

test('a .tar.gz archive', async () => {
  const result = await setupMicromamba({ version: '2.0.4-0', urlTemplate: `${base}/gz/{version}/micromamba-{platform}.tar.gz` }, { logger: new MemoryLogger() });
  expect(run(result.path)).toBe('2.0.4');
});

test('a sha256 mismatch is refused and nothing is cached; the right sha256 passes', async () => {
  const settings = { version: '2.1.0-0', urlTemplate: releases(), sha256: 'f'.repeat(64) };
  await expect(setupMicromamba(settings, { logger: new MemoryLogger() })).rejects.toThrow(/sha256 is [0-9a-f]{64}, not f{64} \(input micromamba-sha256\); nothing was cached/);
  expect(tc.find('micromamba', '2.1.0-0', ARCH)).toBe('');
  expect(existsSync(path.join(toolCache, 'micromamba'))).toBe(false);
  expect(existsSync(path.join(runnerTemp, 'gitenv-micromamba', '2.1.0-0'))).toBe(false);

  const right = createHash('sha256')
    .update(files.get(`/releases/2.1.0-0/micromamba-${PLATFORM}`)!)
    .digest('hex');
  const result = await setupMicromamba({ ...settings, sha256: right.toUpperCase() }, { logger: new MemoryLogger() });
  expect(run(result.path)).toBe('2.1.0');
});

test('a missing release is an HttpError naming the URL without credentials', async () => {
  const template = base.replace('http://', 'http://u:hidden@') + '/nowhere/{version}/{platform}';
  const err = await setupMicromamba({ version: '9.9.9-0', urlTemplate: template }, { logger: new MemoryLogger() }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HttpError);
  expect((err as HttpError).status).toBe(404);
  expect((err as HttpError).url).toBe(`${base}/nowhere/9.9.9-0/${PLATFORM}`);
  expect((err as Error).message).not.toContain('hidden');
});

test('a version that is not exact is a configuration error', async () => {
  await expect(setupMicromamba({ version: 'latest', urlTemplate: releases() }, { logger: new MemoryLogger() })).rejects.toThrow(/micromamba-version must be an exact release/);
});

describe('ensureMicromamba', () => {
  let standinDir: string;
  beforeAll(async () => {
    standinDir = path.join(root, 'stand in bin');
    await mkdir(standinDir, { recursive: true });
    for (const f of ['micromamba', 'standin.mjs']) {
      await copyFile(new URL(`../fixtures/micromamba/${f}`, import.meta.url), path.join(standinDir, f));
    }
    await chmod(path.join(standinDir, 'micromamba'), 0o755);
  });

  test('MAMBA_EXE wins', async () => {
    const exe = path.join(standinDir, 'micromamba');
    const env = { ...process.env, MAMBA_EXE: exe, GITENV_STANDIN_VERSION: '2.0.8' };
    const result = await ensureMicromamba({}, { logger: new MemoryLogger(), env });
    expect(result).toEqual({ path: exe, version: '2.0.8' });
    expect(requests).toHaveLength(0);
  });

  test('a micromamba on PATH is used', async () => {
    process.env.PATH = `${standinDir}${path.delimiter}${saved.PATH ?? ''}`;
    const result = await ensureMicromamba({}, { logger: new MemoryLogger(), env: process.env });
    expect(result).toEqual({ path: path.join(standinDir, 'micromamba'), version: '2.3.3' });
    expect(requests).toHaveLength(0);
  });

  test('otherwise the setup step runs', async () => {
    const result = await ensureMicromamba({ version: '2.0.8-0', urlTemplate: releases() }, { logger: new MemoryLogger(), env: process.env });
    expect(result.path).toBe(path.join(toolCache, 'micromamba', '2.0.8-0', ARCH, 'micromamba'));
    expect(readFileSync(result.path, 'utf8')).toContain('echo 2.0.8');
    expect(requests).toHaveLength(1);
  });
});
