import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { label } from '../../src/phases/label.js';
import type { LabelSettings } from '../../src/phases/settings.js';
import { ConfigurationError } from '../../src/util/errors.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { GitFixture, SAMPLE_SPEC } from '../fixtures/git-repo.js';

let fx: GitFixture;
let logger: MemoryLogger;
const TAGS = ['env-default-2015_11_12', 'env-default-2015_11_12-1', 'env-default-2015_11_13', 'env-default-2015_11_14'];

const settings = (tag: string, over: Partial<LabelSettings> = {}): LabelSettings => ({
  repository: fx.origin,
  envs: [],
  dryRun: false,
  workDir: fx.root,
  tag,
  nextOnly: false,
  ...over,
});
const run = (tag: string, over: Partial<LabelSettings> = {}) => label(settings(tag, over), { logger });

async function labels(env = 'default'): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for (const l of ['previous', 'current', 'next', 'pre-prod']) out[l] = await fx.show(env, `labels/${l}.txt`);
  return out;
}

let template: GitFixture;

beforeAll(async () => {
  fx = template = await GitFixture.create();
  await fx.commit('default', { 'env.spec': SAMPLE_SPEC });
  await fx.commit('other', { 'env.spec': SAMPLE_SPEC });
  for (const [i, tag] of TAGS.entries()) {
    await fx.commit('manifest/default', { 'env.manifest': `m${i}\n` });
    await fx.tag(tag, 'manifest/default');
  }
  await fx.commit('manifest/other', { 'env.manifest': 'o\n' });
  await fx.tag('env-other-2015_11_12', 'manifest/other');
});
afterAll(async () => {
  await template.cleanup();
});
beforeEach(async () => {
  fx = await template.copy();
  logger = new MemoryLogger();
});
afterEach(async () => {
  await fx.cleanup();
});

test('progression over four tags: previous <- current <- next <- tag', async () => {
  const r1 = await run(TAGS[0]);
  expect(r1.labels).toEqual({ next: TAGS[0] });
  expect(await labels()).toEqual({ previous: undefined, current: undefined, next: TAGS[0], 'pre-prod': undefined });
  expect((await run(TAGS[1])).labels).toEqual({ current: TAGS[0], next: TAGS[1] });
  expect((await run(TAGS[2])).labels).toEqual({ previous: TAGS[0], current: TAGS[1], next: TAGS[2] });
  const r4 = await run(TAGS[3]);
  expect(r4.labels).toEqual({ previous: TAGS[1], current: TAGS[2], next: TAGS[3] });
  expect(await labels()).toEqual({ previous: TAGS[1], current: TAGS[2], next: TAGS[3], 'pre-prod': undefined });
  expect(await fx.originGit(['log', '-1', '--format=%s', 'default'])).toBe(`Updated next label to ${TAGS[3]}.`);
  // one commit per run
  expect(await fx.originGit(['rev-list', '--count', 'default'])).toBe('5');
  expect(r4.summary).toContain('| default | previous |');
});

test('labelling the tag that already is next changes nothing', async () => {
  await run(TAGS[0]);
  const before = await fx.refs();
  const again = await run(TAGS[0]);
  expect(again.labels).toEqual({});
  expect(await fx.refs()).toEqual(before);
});

test('next-only moves nothing else', async () => {
  await run(TAGS[0]);
  await run(TAGS[1]);
  const r = await run(TAGS[2], { nextOnly: true });
  expect(r.labels).toEqual({ next: TAGS[2] });
  expect(await labels()).toMatchObject({ previous: undefined, current: TAGS[0], next: TAGS[2] });
});

test('label NAME sets just that label', async () => {
  await run(TAGS[0]);
  const r = await run(TAGS[1], { label: 'pre-prod' });
  expect(r.labels).toEqual({ 'pre-prod': TAGS[1] });
  expect(await labels()).toMatchObject({ next: TAGS[0], 'pre-prod': TAGS[1], current: undefined });
  expect(await fx.originGit(['log', '-1', '--format=%s', 'default'])).toBe(`Updated pre-prod label to ${TAGS[1]}.`);
});

test('dry-run pushes nothing', async () => {
  const before = await fx.refs();
  const r = await run(TAGS[0], { dryRun: true });
  expect(r.labels).toEqual({ next: TAGS[0] });
  expect(await fx.refs()).toEqual(before);
  expect(logger.text()).toContain('Would push changes to default (dry run)');
});

describe('refusals push nothing', () => {
  test.each([
    ['env-default-2016_01_01', {}, /Tag env-default-2016_01_01 does not exist/],
    ['not-a-tag', {}, /"not-a-tag" is not a gitenv tag/],
    ['env-other-2015_11_12', { label: 'latest' }, /"latest" is computed/],
    ['env-other-2015_11_12', { label: 'a/b' }, /cannot be set/],
  ])('%s %j', async (tag, over, message) => {
    const before = await fx.refs();
    const attempt = run(tag, over as Partial<LabelSettings>);
    await expect(attempt).rejects.toBeInstanceOf(ConfigurationError);
    await expect(attempt).rejects.toThrow(message);
    expect(await fx.refs()).toEqual(before);
  });

  test('a tag of another environment', async () => {
    // named for "default", but pointing at other's manifest
    await fx.tag('env-default-2015_11_20', 'manifest/other');
    const before = await fx.refs();
    await expect(run('env-default-2015_11_20')).rejects.toThrow(/does not belong to environment "default"/);
    expect(await fx.refs()).toEqual(before);
  });

  test('a tag whose environment has no branch', async () => {
    await fx.commit('manifest/gone', { 'env.manifest': 'g\n' });
    await fx.tag('env-gone-2015_11_12', 'manifest/gone');
    await expect(run('env-gone-2015_11_12')).rejects.toThrow(/has no environment branch gone/);
  });
});

test('push race: another clone pushes to the environment branch between our fetch and our push', async () => {
  const other = await fx.clone('other');
  let raced = false;
  const racing = new (class extends MemoryLogger {
    override debug(message: string): void {
      super.debug(message);
      // the first push is about to run: the other clone pushes first (synchronously, from here)
      if (!raced && message.startsWith('git push')) {
        raced = true;
        pushFromOtherSync(other);
      }
    }
  })();
  const result = await label(settings(TAGS[0]), { logger: racing });
  expect(raced).toBe(true);
  expect(result.labels).toEqual({ next: TAGS[0] });
  expect(await fx.show('default', 'labels/next.txt')).toBe(TAGS[0]);
  expect(await fx.show('default', 'notes.txt')).toBe('from the other clone');
  expect(racing.text()).toContain('changed while we worked');
});

function pushFromOtherSync(work: string): void {
  // commitIn is async; the race must land before our push starts, so do it with blocking calls.
  const env = { ...process.env, GIT_AUTHOR_NAME: 'o', GIT_AUTHOR_EMAIL: 'o@x', GIT_COMMITTER_NAME: 'o', GIT_COMMITTER_EMAIL: 'o@x' };
  const g = (args: string[]) => execFileSync('git', args, { cwd: work, env, stdio: 'pipe' });
  g(['fetch', '--quiet', 'origin']);
  g(['checkout', '--quiet', '--force', '-B', 'default', 'origin/default']);
  writeFileSync(path.join(work, 'notes.txt'), 'from the other clone');
  g(['add', 'notes.txt']);
  g(['commit', '--quiet', '-m', 'notes']);
  g(['push', '--quiet', 'origin', 'HEAD:refs/heads/default']);
}
