import { execFileSync } from 'node:child_process';
import { autotag } from '../../src/phases/autotag.js';
import type { AutotagSettings } from '../../src/phases/settings.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { GitFixture, SAMPLE_SPEC } from '../fixtures/git-repo.js';

let fx: GitFixture;
let logger: MemoryLogger;
const settings = (over: Partial<AutotagSettings> = {}): AutotagSettings => ({
  repository: fx.origin,
  envs: [],
  dryRun: false,
  workDir: fx.root,
  ...over,
});
const run = (over: Partial<AutotagSettings> = {}) => autotag(settings(over), { logger });

beforeEach(async () => {
  fx = await GitFixture.create();
  logger = new MemoryLogger();
  await fx.commit('default', { 'env.spec': SAMPLE_SPEC });
});
afterEach(async () => {
  await fx.cleanup();
});

test('tags each untagged manifest head by its committer date (UTC); twice is a no-op', async () => {
  await fx.commit('manifest/default', { 'env.manifest': 'a\n' }, { date: '2015-11-12T23:30:00-05:00' });
  await fx.commit('manifest/other', { 'env.manifest': 'b\n' }, { date: '2016-01-02T10:00:00Z' });
  const first = await run();
  expect(first.tags).toEqual(['env-default-2015_11_13', 'env-other-2016_01_02']);
  expect(logger.lines('info')).toEqual(expect.arrayContaining(['Pushing tag env-default-2015_11_13', 'Pushing tag env-other-2016_01_02']));
  expect(await fx.tags()).toEqual(['env-default-2015_11_13', 'env-other-2016_01_02']);
  expect(await fx.originGit(['cat-file', '-t', 'env-default-2015_11_13'])).toBe('tag');
  expect(await fx.originGit(['tag', '-l', '--format=%(contents:subject)', 'env-other-2016_01_02'])).toBe('Automatic tag of other.');
  expect(await fx.originGit(['rev-parse', 'env-default-2015_11_13^{commit}'])).toBe(await fx.originGit(['rev-parse', 'manifest/default']));
  expect(first.summary).toContain('| default |');
  expect(first.summary).toContain('`env-default-2015_11_13`');

  const refsBefore = await fx.refs();
  const second = await run();
  expect(second.tags).toEqual([]);
  expect(await fx.refs()).toEqual(refsBefore);
  expect(second.summary).toContain('already tagged');
});

test('a second and third manifest commit on the same day get -1 and -2', async () => {
  await fx.commit('manifest/default', { 'env.manifest': 'a\n' }, { date: '2015-11-12T08:00:00Z' });
  expect((await run()).tags).toEqual(['env-default-2015_11_12']);
  await fx.commit('manifest/default', { 'env.manifest': 'b\n' }, { date: '2015-11-12T09:00:00Z' });
  expect((await run()).tags).toEqual(['env-default-2015_11_12-1']);
  await fx.commit('manifest/default', { 'env.manifest': 'c\n' }, { date: '2015-11-12T10:00:00Z' });
  expect((await run()).tags).toEqual(['env-default-2015_11_12-2']);
  expect(await fx.tags()).toEqual(['env-default-2015_11_12', 'env-default-2015_11_12-1', 'env-default-2015_11_12-2']);
});

test('a head that already carries any tag of its environment is skipped', async () => {
  await fx.commit('manifest/default', { 'env.manifest': 'a\n' }, { date: '2015-11-12T08:00:00Z' });
  await fx.tag('env-default-2014_01_01-7', 'manifest/default', { annotated: false });
  const result = await run();
  expect(result.tags).toEqual([]);
  expect(logger.text()).toContain('already tagged env-default-2014_01_01-7');
  expect(await fx.tags()).toEqual(['env-default-2014_01_01-7']);
});

test('dry-run prints the plan and pushes nothing', async () => {
  await fx.commit('manifest/default', { 'env.manifest': 'a\n' }, { date: '2015-11-12T08:00:00Z' });
  const before = await fx.refs();
  const result = await run({ dryRun: true });
  expect(result.tags).toEqual(['env-default-2015_11_12']);
  expect(logger.lines('info')).toContain('Would push tag env-default-2015_11_12 (dry run)');
  expect(await fx.refs()).toEqual(before);
  expect(result.summary).toContain('would tag');
});

test('envs globs choose the environments', async () => {
  await fx.commit('manifest/default', { 'env.manifest': 'a\n' }, { date: '2015-11-12T08:00:00Z' });
  await fx.commit('manifest/other', { 'env.manifest': 'a\n' }, { date: '2015-11-12T08:00:00Z' });
  expect((await run({ envs: ['oth*'] })).tags).toEqual(['env-other-2015_11_12']);
});

test('a tag someone else pushes between our fetch and our push is re-planned around', async () => {
  await fx.commit('manifest/default', { 'env.manifest': 'a\n' }, { date: '2015-11-12T08:00:00Z' });
  await fx.commit('side', { 'x.txt': 'x' });
  // The logger says "Pushing tag" after the plan and before the push: the other runner strikes then.
  let raced = false;
  const racing = new (class extends MemoryLogger {
    override info(message: string): void {
      super.info(message);
      if (!raced && message.startsWith('Pushing tag ')) {
        raced = true;
        execFileSync('git', ['--git-dir', fx.origin, 'tag', 'env-default-2015_11_12', 'refs/heads/side']);
      }
    }
  })();
  const result = await autotag(settings(), { logger: racing });
  expect(raced).toBe(true);
  expect(result.tags).toEqual(['env-default-2015_11_12-1']);
  expect(racing.text()).toContain('changed while we worked');
  expect(await fx.tags()).toEqual(['env-default-2015_11_12', 'env-default-2015_11_12-1']);
});
