/**
 * resolve end to end on real git (a bare origin in a temp dir) and the seed walk-through channel:
 * real archives, repodata read from disk through the builtin (WASM) solver.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { buildSeedChannel, SEED_VERSIONS, type BuiltChannel } from '../fixtures/channel/index.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { parseLockFile } from '../../src/manifest/lock.js';
import { resolve, type ResolveResult } from '../../src/phases/resolve.js';
import type { ResolveSettings } from '../../src/phases/settings.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { resolveSettings, specText } from './resolve-support.js';

let fx: GitFixture;
let channel: BuiltChannel;
let channelDir: string;

const spec = specText;

function settings(extra: Partial<ResolveSettings> = {}): ResolveSettings {
  return resolveSettings(fx, extra);
}

async function run(extra: Partial<ResolveSettings> = {}, env?: NodeJS.ProcessEnv): Promise<{ result: ResolveResult; logger: MemoryLogger }> {
  const logger = new MemoryLogger();
  const result = await resolve(settings(extra), { logger, env });
  return { result, logger };
}

/** A file of origin byte for byte (the fixture's `show` trims). */
const show = async (rev: string, file: string): Promise<string | undefined> => {
  try {
    return execFileSync('git', ['--git-dir', fx.origin, 'cat-file', 'blob', `${rev}:${file}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
};
const line = (subdir: string, dist: string): string => `${channel.url}/${subdir}\t${dist}`;
const log = (branch: string): Promise<string> => fx.originGit(['log', '--format=%H', `refs/heads/${branch}`]);
const message = (rev: string): Promise<string> => fx.originGit(['log', '-1', '--format=%B', rev]);

beforeEach(async () => {
  fx = await GitFixture.create();
  channelDir = path.join(fx.root, 'seed channel');
  channel = await buildSeedChannel(channelDir);
});
afterEach(async () => {
  await fx.cleanup();
});

test('the seed walk-through: manifests hold exactly the expected lines; nothing changed makes no commit', async () => {
  const defaultSpec = spec([channel.url], ['python']);
  await fx.commit('default', { 'env.spec': defaultSpec });

  const first = await run();
  expect(first.result.failed).toEqual([]);
  expect(first.result.changed).toEqual(['default']);
  expect(first.logger.lines('info')).toContain('Pushing changes to manifest/default');
  expect(await show('manifest/default', 'env.manifest')).toBe(
    [line('linux-64', `openssl-${SEED_VERSIONS.openssl}-0`), line('linux-64', `python-${SEED_VERSIONS.python3}-0`), line('linux-64', `zlib-${SEED_VERSIONS.zlib}-0`)].join('\n') + '\n',
  );
  expect(await show('manifest/default', 'env.spec')).toBe(defaultSpec);
  expect(await message('refs/heads/manifest/default')).toBe(`Manifest update for default\n\n+ openssl ${SEED_VERSIONS.openssl} 0\n+ python ${SEED_VERSIONS.python3} 0\n+ zlib ${SEED_VERSIONS.zlib} 0`);
  expect((await fx.originGit(['ls-tree', '--name-only', 'refs/heads/manifest/default'])).split('\n')).toEqual(['env.lock', 'env.manifest', 'env.spec']);

  // Nothing changed: no commit, no push.
  const before = await fx.refs();
  const again = await run();
  expect(again.result.changed).toEqual([]);
  expect(again.result.failed).toEqual([]);
  expect(again.logger.text()).not.toContain('Pushing changes');
  expect(await fx.refs()).toEqual(before);

  // python + numpy on default, python 2 + numpy on legacy: both pushed together.
  await fx.commit('default', { 'env.spec': spec([channel.url], ['python', 'numpy']) });
  await fx.commit('legacy', { 'env.spec': spec([channel.url], ['python 2.*', 'numpy']) });
  const third = await run();
  expect(third.result.changed).toEqual(['default', 'legacy']);
  expect(third.logger.lines('info').filter((l) => l.startsWith('Pushing changes'))).toEqual(['Pushing changes to manifest/default', 'Pushing changes to manifest/legacy']);
  expect(await show('manifest/default', 'env.manifest')).toBe(
    [
      line('linux-64', `numpy-${SEED_VERSIONS.numpy3}-py311_0`),
      line('linux-64', `openssl-${SEED_VERSIONS.openssl}-0`),
      line('linux-64', `python-${SEED_VERSIONS.python3}-0`),
      line('linux-64', `zlib-${SEED_VERSIONS.zlib}-0`),
    ].join('\n') + '\n',
  );
  expect(await message('refs/heads/manifest/default')).toBe(`Manifest update for default\n\n+ numpy ${SEED_VERSIONS.numpy3} py311_0`);
  expect(await show('manifest/legacy', 'env.manifest')).toBe(
    [
      line('linux-64', `numpy-${SEED_VERSIONS.numpy2}-py27_0`),
      line('linux-64', `openssl-${SEED_VERSIONS.openssl}-0`),
      line('linux-64', `python-${SEED_VERSIONS.python2}-0`),
      line('linux-64', `zlib-${SEED_VERSIONS.zlib}-0`),
    ].join('\n') + '\n',
  );
  expect(third.result.summary).toMatch(/\| `default` \| 4 \| 1 \| 0 \| 0 \| pushed \|/);
  expect(third.result.summary).toMatch(/\| `legacy` \| 4 \| 4 \| 0 \| 0 \| pushed \|/);
  expect(third.result.summary).toContain('<details><summary>Changes to manifest/default</summary>');
  expect(third.result.summary).toContain(`+ numpy ${SEED_VERSIONS.numpy3} py311_0`);

  // A new python appears in the channel: exactly one commit, on default, with a ~ line.
  const defaultCommits = (await log('manifest/default')).split('\n').length;
  const legacyHead = await log('manifest/legacy');
  channel = await buildSeedChannel(channelDir, { newerPython: true });
  const fourth = await run();
  expect(fourth.result.changed).toEqual(['default']);
  expect((await log('manifest/default')).split('\n')).toHaveLength(defaultCommits + 1);
  expect(await log('manifest/legacy')).toBe(legacyHead);
  expect(await message('refs/heads/manifest/default')).toBe(`Manifest update for default\n\n~ python ${SEED_VERSIONS.python3} 0 -> ${SEED_VERSIONS.python3Newer} 0`);
});

test('env.lock: explicit file, dependencies first, sha256 equal to the archives, no virtual packages', async () => {
  await fx.commit('default', { 'env.spec': spec([channel.url], ['python', 'numpy']) });
  const { result } = await run();
  expect(result.failed).toEqual([]);
  const text = (await show('manifest/default', 'env.lock')) as string;
  expect(text).toMatch(/^# platform: linux-64\n# env: default\n# generated by gitenv \S+\n@EXPLICIT\n/);
  const lock = parseLockFile(text);
  expect(lock.packages.map((p) => p.dist)).toEqual([
    `zlib-${SEED_VERSIONS.zlib}-0`,
    `openssl-${SEED_VERSIONS.openssl}-0`,
    `python-${SEED_VERSIONS.python3}-0`,
    `numpy-${SEED_VERSIONS.numpy3}-py311_0`,
  ]);
  for (const p of lock.packages) {
    const built = channel.packages.find((b) => b.fn === p.fn);
    expect(built).toBeDefined();
    expect(p.sha256).toBe(built?.sha256);
    expect(p.url).toBe(`${channel.url}/${built?.subdir}/${built?.fn}`);
  }
  // python depends on __glibc: it resolved, and neither file mentions a virtual package.
  expect(channel.packages.find((b) => b.record.name === 'python')?.record.depends).toContain('__glibc >=2.17');
  expect(text).not.toContain('__');
  expect(await show('manifest/default', 'env.manifest')).not.toContain('__');
});

test('virtual packages come from CONDA_OVERRIDE_*: a glibc too old makes the environment unsolvable', async () => {
  await fx.commit('default', { 'env.spec': spec([channel.url], ['python']) });
  const { result, logger } = await run({}, { ...process.env, CONDA_OVERRIDE_GLIBC: '2.12' });
  expect(result.changed).toEqual([]);
  expect(result.failed).toHaveLength(1);
  expect(result.failed[0].env).toBe('default');
  expect(result.failed[0].message).toMatch(/environment "default" cannot be solved: .*__glibc/s);
  expect(logger.lines('error').join('\n')).toContain('__glibc');
});

test('an old-tool manifest (spaces, trailing slash, no env.lock) is read by the diff', async () => {
  const old = `${channel.url}/linux-64/    openssl-${SEED_VERSIONS.openssl}-0\n` + `${channel.url}/linux-64/    python-3.11.3-0\n` + `${channel.url}/linux-64/    zlib-${SEED_VERSIONS.zlib}-0\n`;
  const defaultSpec = spec([channel.url], ['python 3.*']);
  await fx.commit('manifest/default', { 'env.manifest': old, 'env.spec': defaultSpec });
  await fx.commit('default', { 'env.spec': defaultSpec });
  const { result } = await run();
  expect(result.changed).toEqual(['default']);
  expect(await message('refs/heads/manifest/default')).toBe(`Manifest update for default\n\n~ python 3.11.3 0 -> ${SEED_VERSIONS.python3} 0`);

  // Same packages, only the format differs (and no env.lock): a commit with no package lines.
  await fx.commit('manifest/default', { 'env.manifest': old.replace('python-3.11.3-0', `python-${SEED_VERSIONS.python3}-0`), 'env.lock': null });
  await run();
  expect(await message('refs/heads/manifest/default')).toBe('Manifest update for default\n\nUpdated env.lock');
});

test('dry-run prints the diff, reports changed, pushes nothing; envs globs pick environments', async () => {
  await fx.commit('default', { 'env.spec': spec([channel.url], ['python']) });
  await fx.commit('legacy', { 'env.spec': spec([channel.url], ['python 2.*']) });
  const before = await fx.refs();
  const { result, logger } = await run({ dryRun: true, envs: ['leg*'] });
  expect(result.changed).toEqual(['legacy']);
  expect(await fx.refs()).toEqual(before);
  expect(logger.text()).not.toContain('Pushing changes');
  expect(logger.lines('info')).toContain(`  + python ${SEED_VERSIONS.python2} 0`);
  expect(result.summary).toContain('gitenv resolve (dry run)');
  expect(result.summary).toContain('would push');
  expect(result.summary).not.toContain('`default`');
});

test('a file:// channel in a directory whose name needs escaping round-trips into the manifest', async () => {
  const raw = await fs.readdir(channelDir);
  expect(raw).toContain('linux-64');
  expect(channel.url).toContain('%20');
  await fx.commit('default', { 'env.spec': spec([channel.url], ['zlib']) });
  await run();
  expect(await show('manifest/default', 'env.manifest')).toBe(`${channel.url}/linux-64\tzlib-${SEED_VERSIONS.zlib}-0\n`);
});

test('a push race: someone else moves manifest/<env> meanwhile; the commit is remade on their head', async () => {
  await fx.commit('default', { 'env.spec': spec([channel.url], ['python']) });
  await run();
  await fx.commit('default', { 'env.spec': spec([channel.url], ['python', 'numpy']) });

  // Between resolve's fetch and its push, another run pushes its own manifest commit.
  const theirs = `${channel.url}/linux-64\tpython-${SEED_VERSIONS.python3}-0\n`;
  let theirCommit = '';
  class RacingLogger extends MemoryLogger {
    override async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
      if (name === 'Resolving default') theirCommit = await fx.commit('manifest/default', { 'env.manifest': theirs });
      return super.group(name, fn);
    }
  }
  const logger = new RacingLogger();
  const result = await resolve(settings(), { logger });
  expect(result.changed).toEqual(['default']);
  expect(logger.text()).toMatch(/changed while we worked/);
  expect(await fx.originGit(['rev-parse', 'refs/heads/manifest/default^'])).toBe(theirCommit);
  // The message is the change against their manifest, not against the one fetched first.
  expect(await message('refs/heads/manifest/default')).toBe(
    `Manifest update for default\n\n+ numpy ${SEED_VERSIONS.numpy3} py311_0\n+ openssl ${SEED_VERSIONS.openssl} 0\n+ zlib ${SEED_VERSIONS.zlib} 0`,
  );
  expect((await show('manifest/default', 'env.manifest'))?.split('\n')).toHaveLength(5);
});
