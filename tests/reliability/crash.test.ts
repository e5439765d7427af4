/**
 * Crashes: a deploy (the CLI bundle, as a child process) is SIGKILLed at 30 exact points spread over
 * downloading, extracting into the package cache, linking the prefix, writing its records and marker,
 * moving it into place and switching the label symlinks. The points are reached deterministically:
 * tests/reliability/kill-hook.mjs is preloaded into the child and kills it at the n-th matching
 * file-system call (one more point stalls a download body on the loopback server and kills the
 * process while it waits).
 *
 * Each case starts from the same deployed state (environment `app` at its first tag with labels, and
 * an unrelated environment `other`), deploys a second tag with new packages and moved labels, and
 * after the kill checks: every label points at a complete prefix, no final name lacks its marker, the
 * package cache is complete or recognisably incomplete. Then a re-run must succeed and leave exactly
 * what an uninterrupted deploy leaves (file trees, modes, contents, link targets, hard links).
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serveChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { buildAppChannel, type AppChannel } from './support/app-channel.js';
import { ensureCli, runCli, runCliOk, startCli, waitFor, type KillPoint } from './support/cli.js';
import { Counters, recordFigures } from './support/figures.js';
import { setLabel, tagLock } from './support/repo.js';
import { ageLeftovers, ageLocks, checkDeployInvariants, inspectCache, snapshotEnvs, type CacheState } from './support/tree.js';

type Stage = 'download' | 'extract' | 'link' | 'relink';
interface Point {
  stage: Stage;
  what: string;
  kill: KillPoint | 'stall-body';
  /** Kill the re-run too, here; a third run must then complete. */
  thenKill?: KillPoint;
  /**
   * The killed deploy is first stopped at its point, holding the environment's lock; a second deploy
   * is started and must wait for that lock; then the first is killed and the second must recover the
   * lock from the dead holder and complete (instead of a separate re-run).
   */
  waiter?: boolean;
  /** Leave the dead holder's package-cache locks to go stale by themselves (slow: the stale period). */
  naturalStale?: boolean;
}

const k = (op: string, match: string, n: number, when: KillPoint['when'] = 'before'): KillPoint => ({ op, match, n, when });

const POINTS: Point[] = [
  // A .conda's bytes go to its extraction as they arrive and are never written whole (five of the six
  // downloads); the .tar.bz2 is downloaded to a file, extracted from it, and the file removed.
  { stage: 'download', what: "before the first .conda download's bytes have anywhere to go", kill: k('mkdir', '/.extract-', 1) },
  { stage: 'download', what: 'before the .tar.bz2 download writes a byte', kill: k('open', '.partial-', 1) },
  { stage: 'download', what: 'with four .conda downloads under way', kill: k('mkdir', '/.extract-', 4, 'after') },
  { stage: 'download', what: 'with every .conda download under way', kill: k('mkdir', '/.extract-', 5, 'after') },
  { stage: 'download', what: 'in the middle of a body (server stalls it half sent)', kill: 'stall-body' },
  { stage: 'download', what: 'the .tar.bz2 archive verified, not yet renamed into the cache', kill: k('rename', '.partial-', 1) },
  { stage: 'download', what: 'just after the .tar.bz2 archive is in place', kill: k('rename', '.partial-', 1, 'after'), naturalStale: true },
  { stage: 'download', what: 'the .tar.bz2 extracted and its entry in place, its archive not yet removed', kill: k('rm', 'extra-a-2.0-0.tar.bz2', 1) },
  { stage: 'extract', what: 'with an empty extraction scratch directory', kill: k('mkdir', '/.extract-', 1, 'after') },
  // extraction is counted in file-system operations of any kind (directories, files, modes, times),
  // so the points stay where they are whichever calls the extractor makes
  { stage: 'extract', what: 'before the first write into a scratch directory', kill: k('any', '/.extract-', 2) },
  { stage: 'extract', what: 'after 40 extraction operations', kill: k('any', '/.extract-', 40, 'after') },
  { stage: 'extract', what: 'after 90 extraction operations', kill: k('any', '/.extract-', 90, 'after') },
  { stage: 'extract', what: 'extracted and verified, completion marker not written', kill: k('writeFile', 'repodata_record.json', 2, 'after') },
  { stage: 'extract', what: 'marker written, scratch not yet renamed', kill: k('writeFile', '.gitenv-complete.json', 1, 'after') },
  { stage: 'extract', what: 'before the first cache entry is renamed into place', kill: k('rename', '/.extract-', 1) },
  { stage: 'extract', what: 'just after the third cache entry is in place', kill: k('rename', '/.extract-', 3, 'after') },
  { stage: 'extract', what: 'just after the last cache entry is in place', kill: k('rename', '/.extract-', 6, 'after') },
  { stage: 'link', what: 'before the first hard link into staging', kill: k('link', '/.staging-', 1) },
  { stage: 'link', what: 'after 20 hard links', kill: k('link', '/.staging-', 20, 'after') },
  { stage: 'link', what: 'after 40 hard links', kill: k('link', '/.staging-', 40, 'after') },
  { stage: 'link', what: 'after the first soft link', kill: k('symlink', '/.staging-', 1, 'after') },
  { stage: 'link', what: 'after the first prefix-replaced file', kill: k('writeFile', '/.staging-', 1, 'after') },
  { stage: 'link', what: 'links done (post-link scripts deferred to the final prefix), before the first conda-meta record', kill: k('writeFile', 'conda-meta', 1) },
  { stage: 'link', what: 'conda-meta written, completion marker not', kill: k('writeFile', 'history', 1, 'after') },
  { stage: 'link', what: 'complete staging prefix not yet moved into place', kill: k('rename', '/.staging-', 1) },
  { stage: 'link', what: 'prefix in place and marked incomplete, post-link scripts and marker not done', kill: k('rename', '/.staging-', 1, 'after') },
  { stage: 'relink', what: 'completion marker opened but empty, in the final prefix; no label switched', kill: k('open', 'gitenv.json', 1, 'after') },
  { stage: 'relink', what: 'temporary label symlink made, not renamed', kill: k('symlink', '/.link-', 1, 'after') },
  { stage: 'relink', what: 'first label switched, the others not', kill: k('rename', '/.link-', 1, 'after') },
  { stage: 'relink', what: 'before the third label switch', kill: k('rename', '/.link-', 3) },
  {
    stage: 'link',
    what: 'killed while linking, and the re-run killed while removing the leftover staging directory',
    kill: k('link', '/.staging-', 10, 'after'),
    thenKill: k('rm', '/.staging-', 1),
  },
  {
    stage: 'link',
    what: 'killed while linking with a second deploy waiting for its lock, which recovers the lock and completes',
    kill: k('link', '/.staging-', 5, 'stop'),
    waiter: true,
  },
];

const counters = new Counters();
let bundle: string;
let fx: GitFixture;
let app: AppChannel;
let server: ChannelServer;
let target: string;
let base: string;
let reference: string[];
let referenceCache: CacheState;

const deployArgs = () => ['deploy', fx.origin, target];

beforeAll(async () => {
  bundle = ensureCli();
  fx = await GitFixture.create();
  app = await buildAppChannel(path.join(fx.root, 'channels', 'app'));
  server = await serveChannel(path.join(fx.root, 'channels'), { stallMs: 120_000 });
  const url = `${server.url}/app`;
  await tagLock(fx, 'app', 'env-app-2026_01_01', url, app.v1, '2026-01-01T10:00:00Z');
  await tagLock(fx, 'other', 'env-other-2026_01_01', url, app.v1, '2026-01-01T10:00:00Z');
  await setLabel(fx, 'app', 'current', 'env-app-2026_01_01');
  target = path.join(fx.root, 'target');
  base = path.join(fx.root, 'base');
  await runCliOk(bundle, deployArgs());
  execFileSync('cp', ['-a', target, base]);

  await tagLock(fx, 'app', 'env-app-2026_01_02', url, app.v2, '2026-01-02T10:00:00Z');
  await setLabel(fx, 'app', 'current', 'env-app-2026_01_02');
  await setLabel(fx, 'app', 'next', 'env-app-2026_01_02');
  await setLabel(fx, 'app', 'previous', 'env-app-2026_01_01');
  await runCliOk(bundle, deployArgs());
  reference = await snapshotEnvs(target);
  referenceCache = await inspectCache(path.join(target, '.pkg_cache'), app.sha256);
  expect(referenceCache.complete).toHaveLength(9);
}, 300_000);

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
  await recordFigures('crash', { figures: counters.figures, details: counters.details });
});

async function restoreBase(): Promise<void> {
  await fs.rm(target, { recursive: true, force: true });
  execFileSync('cp', ['-a', base, target]);
}

/** Runs the deploy until it is killed at `kill`; fails when the point was never reached. */
async function killedRun(kill: Point['kill']): Promise<void> {
  if (kill === 'stall-body') {
    server.clearRequests();
    server.setFault({ match: 'big-2.0', fault: { type: 'stall', afterBytes: 50_000 } });
    const { child, done } = startCli(bundle, deployArgs());
    await waitFor(() => server.requests.some((r) => r.path.includes('big-2.0') && r.bytes > 0));
    child.kill('SIGKILL');
    const r = await done;
    server.setFault(null);
    expect(r.signal).toBe('SIGKILL');
    return;
  }
  const r = await runCli(bundle, deployArgs(), { killAt: kill });
  if (r.signal !== 'SIGKILL') throw new Error(`kill point ${JSON.stringify(kill)} was never reached (exit ${r.code}):\n${r.out}`);
}

/** The invariants that must hold whenever a deploy dies. */
async function checkAfterKill(): Promise<void> {
  const labels = await checkDeployInvariants(target);
  expect(labels.other).toEqual({ latest: '2026_01_01' });
  for (const [label, to] of Object.entries(labels.app)) {
    expect([label, ['2026_01_01', '2026_01_02']]).toEqual([label, expect.arrayContaining([to])]);
  }
  const cache = await inspectCache(path.join(target, '.pkg_cache'), app.sha256);
  counters.add('cache entries found incomplete after a kill (redone by the next run)', cache.incomplete.length);
}

/** Linux process state letter from /proc (T: stopped). */
async function procState(pid: number): Promise<string> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

/** The first deploy stops at its point holding the lock; a second waits; the first is killed. */
async function killedWithWaiter(kill: KillPoint): Promise<string> {
  const first = startCli(bundle, deployArgs(), { killAt: kill });
  await waitFor(async () => (await procState(first.child.pid as number)) === 'T');
  const second = startCli(bundle, deployArgs());
  let out = '';
  second.child.stdout?.on('data', (d) => (out += d));
  await waitFor(() => /Waiting for the lock/.test(out));
  first.child.kill('SIGKILL');
  expect((await first.done).signal).toBe('SIGKILL');
  const r = await second.done;
  if (r.code !== 0) throw new Error(`the waiting deploy failed:\n${r.out}`);
  expect(r.out).toMatch(/Recovering the lock .* its holder \(pid \d+ on .*\) is gone/);
  return r.out;
}

test.each(POINTS.map((p, i) => [i + 1, p.stage, p.what, p] as const))('kill point %i (%s): %s', async (n, stage, what, point) => {
  counters.add('kill points attempted');
  await restoreBase();
  if (point.waiter) {
    await killedWithWaiter(point.kill as KillPoint);
    expect(await snapshotEnvs(target)).toEqual(reference);
    await checkDeployInvariants(target);
    counters.add('kill points survived');
    counters.add(`kill points in ${stage}`);
    counters.add('deploys that waited for a killed holder and recovered its lock');
    counters.note(`${stage}: ${what} — result equal to an uninterrupted deploy`);
    return;
  }
  await killedRun(point.kill);
  await checkAfterKill();
  if (!point.naturalStale) await ageLocks(path.join(target, '.pkg_cache'));
  if (point.thenKill) {
    await killedRun(point.thenKill);
    await checkAfterKill();
    await ageLocks(path.join(target, '.pkg_cache'));
  }

  // leftovers of the killed runs, made old enough for the installer's sweep: the re-run removes them
  const leftovers = await ageLeftovers(path.join(target, '.pkg_cache'));
  const out = await runCliOk(bundle, deployArgs());
  expect(out).toMatch(/^Linking app\/\w+ to env-app-2026_01_0[12]$/m);
  await checkDeployInvariants(target);
  expect(await snapshotEnvs(target)).toEqual(reference);
  const cache = await inspectCache(path.join(target, '.pkg_cache'), app.sha256);
  expect(cache.complete).toEqual(referenceCache.complete);
  expect(cache.archives).toEqual(referenceCache.archives);
  // now and then, a further run finds nothing to do (not every time: each run costs a process)
  if (n % 5 === 0) expect(await runCliOk(bundle, deployArgs())).not.toMatch(/Installing|Linking/);

  counters.add('kill points survived');
  counters.add(`kill points in ${stage}`);
  if (point.thenKill) counters.add('re-runs also killed (and the third run completed)');
  expect(cache.leftovers).toEqual([]);
  counters.add('package-cache leftovers of killed runs swept by the re-run', leftovers);
  counters.note(`${stage}: ${what} — labels intact, re-run equal to an uninterrupted deploy`);
});

test('a killed run leaves its temporary clone in TMPDIR: the next run sweeps it once old, and never a live one', async () => {
  await restoreBase();
  const tmp = path.join(fx.root, 'tmp-clones');
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(tmp);
  const env = { TMPDIR: tmp };
  const r = await runCli(bundle, deployArgs(), { env, killAt: k('link', '/.staging-', 1) });
  expect(r.signal).toBe('SIGKILL');
  const left = (await fs.readdir(tmp)).filter((n) => n.startsWith('gitenv-repo-'));
  expect(left).toHaveLength(1);
  // a clone of a live run (this test process), as old as the dead one: it must stay
  const live = path.join(tmp, 'gitenv-repo-live');
  await fs.mkdir(live);
  await fs.writeFile(path.join(live, 'gitenv-owner.json'), JSON.stringify({ host: os.hostname(), pid: process.pid }));
  const old = new Date(Date.now() - 2 * 3_600_000);
  for (const n of [...left, 'gitenv-repo-live']) await fs.utimes(path.join(tmp, n), old, old);
  await ageLocks(path.join(target, '.pkg_cache'));
  await ageLeftovers(path.join(target, '.pkg_cache'));

  const out = await runCliOk(bundle, deployArgs(), { env });
  expect(out).toContain(`Removed ${path.join(tmp, left[0])}, a temporary clone left by an interrupted run`);
  expect((await fs.readdir(tmp)).sort()).toEqual(['gitenv-repo-live']);
  expect(await snapshotEnvs(target)).toEqual(reference);
  counters.add('temporary clones of killed runs swept by the next run', 1);
  counters.note("a run killed while linking left its clone in TMPDIR: swept by the next run once an hour old; a live run's clone of the same age kept");
});
