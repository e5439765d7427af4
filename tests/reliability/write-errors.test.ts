/**
 * Write errors in the middle of a large file (issue 15 item 7): a deploy (the CLI bundle, as a child
 * process) runs under a file-size limit (`ulimit -f`, so every write past it fails with EFBIG, as on a
 * full disk), with one environment whose package holds a file larger than the limit and one whose
 * package holds the same large path twice. Both packages must fail at once, naming the package and
 * the cause, and leave no lock and no scratch directory behind; the good environment deploys in the
 * same run. Then, without the limit, the large package deploys. A run that does not end within
 * several minutes counts as hung (it used to: the extractor waited for a `drain` that never came).
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { buildPackage, serveChannel, type BuiltPackage, type ChannelServer } from '../fixtures/channel/index.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { ensureCli, runCliOk, type RunResult } from './support/cli.js';
import { Counters, recordFigures } from './support/figures.js';
import { tagLock } from './support/repo.js';

const DATE = '2026-01-01T10:00:00Z';
const MiB = 1 << 20;
/** The file-size limit of the limited run, in KiB (bash's `ulimit -f` unit). */
const LIMIT_KIB = 10 * 1024;
/** A run still going after this long is hung (a liveness guard, not a speed measure). */
const HUNG_MS = 240_000;

const counters = new Counters();
let bundle: string;
let fx: GitFixture;
let server: ChannelServer;
let target: string;
let big: BuiltPackage;
let twice: BuiltPackage;
let small: BuiltPackage;

beforeAll(async () => {
  bundle = ensureCli();
  fx = await GitFixture.create();
  const out = path.join(fx.root, 'channels', 'big', 'linux-64');
  big = await buildPackage({ name: 'big-file', version: '1.0', files: { 'share/big.bin': Buffer.alloc(12 * MiB, 7), 'share/ok.txt': 'ok\n' } }, out);
  twice = await buildPackage(
    {
      name: 'big-twice',
      version: '1.0',
      files: { 'share/ok.txt': 'ok\n' },
      hostile: {
        rawEntries: [
          { path: 'share/twice.bin', data: Buffer.alloc(9 * MiB, 1) },
          { path: 'share/twice.bin', data: Buffer.alloc(9 * MiB, 2) },
        ],
      },
    },
    out,
  );
  small = await buildPackage({ name: 'small', version: '1.0', files: { 'share/small.txt': 'small\n' } }, out);
  server = await serveChannel(path.join(fx.root, 'channels'));
  const url = `${server.url}/big`;
  await tagLock(fx, 'big', 'env-big-2026_01_01', url, [big], DATE);
  await tagLock(fx, 'twice', 'env-twice-2026_01_01', url, [twice], DATE);
  await tagLock(fx, 'good', 'env-good-2026_01_01', url, [small], DATE);
  target = path.join(fx.root, 'target');
}, 300_000);

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
  await recordFigures('write-errors', { figures: counters.figures, details: counters.details });
});

/** `gitenv deploy` under `ulimit -f`; killed (and reported hung) when it does not end in time. */
async function deployLimited(): Promise<RunResult & { hung: boolean }> {
  const child = spawn('bash', ['-c', `ulimit -f ${LIMIT_KIB} && exec "$@"`, 'bash', process.execPath, bundle, 'deploy', fx.origin, target], {
    env: { ...process.env, RUNNER_TEMP: '', GITENV_DEBUG: '', GITHUB_ACTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  let hung = false;
  const guard = setTimeout(() => {
    hung = true;
    child.kill('SIGKILL');
  }, HUNG_MS);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (c, s) => resolve({ code: c, signal: s })));
  clearTimeout(guard);
  return { code, signal, out, hung };
}

/** Lock files and scratch directories anywhere under the target. */
async function leftovers(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name);
    if (/\.lock$|^\.extract-|^\.staging-|^\.gitenv-tmp-/.test(e.name)) found.push(path.relative(target, p));
    else if (e.isDirectory()) found.push(...(await leftovers(p)));
  }
  return found;
}

test('a write error on a large file fails its package at once and releases every lock', async () => {
  const r = await deployLimited();
  if (r.signal) console.log(r.out);
  expect({ hung: r.hung, signal: r.signal }).toEqual({ hung: false, signal: null });
  expect(r.code).not.toBe(0);
  expect(r.out).toMatch(new RegExp(`${big.dist}.*(File too large|EFBIG)`));
  expect(r.out).toMatch(new RegExp(`${twice.dist}.*share/twice.bin is twice in the archive`));
  expect(await leftovers(target)).toEqual([]);
  await expect(fs.lstat(path.join(target, 'big', '2026_01_01'))).rejects.toThrow();
  expect(await fs.readFile(path.join(target, 'good', '2026_01_01', 'share', 'small.txt'), 'utf8')).toBe('small\n');
  counters.add('write errors on large files that failed their package at once', 2);

  // Without the limit the large package deploys (its lock and cache entry were released, not left half made).
  await runCliOk(bundle, ['deploy', fx.origin, target, '--envs', 'big']);
  const st = await fs.stat(path.join(target, 'big', '2026_01_01', 'share', 'big.bin'));
  expect(st.size).toBe(12 * MiB);
  counters.note(
    `under ulimit -f ${LIMIT_KIB} KiB: a 12 MiB file (EFBIG) and a 9 MiB path twice failed their packages without hanging; no lock or scratch left; the large package deployed afterwards without the limit`,
  );
}, 600_000);
