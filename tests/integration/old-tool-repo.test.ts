import { autotag } from '../../src/phases/autotag.js';
import { label } from '../../src/phases/label.js';
import { EnvRepository, latestTag } from '../../src/repo/env-repository.js';
import { parseEnvSpec } from '../../src/repo/env-spec.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { GitFixture } from '../fixtures/git-repo.js';

// A repository laid out as conda-gitenv's README and tests describe it: an initial commit on
// master, environment branches made from it, env.spec with `env:` first and a trailing space,
// manifest/<env> branches holding env.spec and an env.manifest of that era (no env.lock), annotated
// tags "Automatic tag of <env>.", and label files written without a final new line.
const OLD_SPEC = '\nenv:\n - python\nchannels:\n - defaults \n';
const OLD_MANIFEST = 'https://repo.continuum.io/pkgs/free/linux-64/   python-2.7.10-2\n';

let fx: GitFixture;
let logger: MemoryLogger;

beforeAll(async () => {
  fx = await GitFixture.create();
  await fx.commit('master', {}, { message: 'Initial commit.', date: '2015-11-10T09:00:00Z' });
  await fx.commit('default', { 'env.spec': OLD_SPEC }, { from: 'master', message: 'Add default spec', date: '2015-11-11T09:00:00Z' });
  const manifest = { 'env.spec': OLD_SPEC, 'env.manifest': OLD_MANIFEST };
  await fx.commit('manifest/default', manifest, { from: 'default', date: '2015-11-12T09:00:00Z' });
  await fx.tag('env-default-2015_11_12', 'manifest/default', { message: 'Automatic tag of default.' });
  await fx.commit('manifest/default', { 'env.manifest': OLD_MANIFEST.replace('-2\n', '-3\n') }, { date: '2015-11-12T15:00:00Z' });
  await fx.tag('env-default-2015_11_12-1', 'manifest/default', { message: 'Automatic tag of default.' });
  await fx.commit(
    'default',
    { 'labels/pre-prod.txt': 'env-default-2015_11_12', 'labels/next.txt': 'env-default-2015_11_12-1', 'labels/current.txt': 'env-default-2015_11_12' },
    { message: 'Updated next label to env-default-2015_11_12-1.', date: '2015-11-13T09:00:00Z' },
  );
});
afterAll(async () => {
  await fx.cleanup();
});
beforeEach(() => {
  logger = new MemoryLogger();
});

test('is read correctly: environments, manifests, tags, labels, latest, env.spec', async () => {
  const repo = await EnvRepository.open({ repository: fx.origin, logger, workDir: fx.root });
  try {
    const snap = await repo.snapshot();
    expect(snap.envs).toEqual([
      {
        name: 'default',
        branch: 'default',
        commit: snap.branches.get('default'),
        labels: { 'pre-prod': 'env-default-2015_11_12', next: 'env-default-2015_11_12-1', current: 'env-default-2015_11_12' },
      },
    ]);
    expect(snap.manifests.map((m) => m.env)).toEqual(['default']);
    expect(snap.tags.map((t) => [t.name, t.env, t.deployedName])).toEqual([
      ['env-default-2015_11_12', 'default', '2015_11_12'],
      ['env-default-2015_11_12-1', 'default', '2015_11_12-1'],
    ]);
    expect(latestTag(snap, 'default')?.name).toBe('env-default-2015_11_12-1');
    expect(logger.lines('warning')).toEqual([]);
    const spec = parseEnvSpec((await repo.readFile('default', 'env.spec')) as Buffer, { env: 'default' });
    expect(spec).toMatchObject({ channels: ['defaults'], specs: ['python'] });
    expect(await repo.readFile('manifest/default', 'env.lock')).toBeUndefined();
  } finally {
    await repo.close();
  }
});

test('autotag finds every head tagged and does nothing', async () => {
  const before = await fx.refs();
  const result = await autotag({ repository: fx.origin, envs: [], dryRun: false, workDir: fx.root }, { logger });
  expect(result.tags).toEqual([]);
  expect(await fx.refs()).toEqual(before);
});

test('label moves pre-prod on it (dry run)', async () => {
  const result = await label(
    { repository: fx.origin, envs: [], dryRun: true, workDir: fx.root, tag: 'env-default-2015_11_12-1', nextOnly: false, label: 'pre-prod' },
    { logger },
  );
  expect(result.labels).toEqual({ 'pre-prod': 'env-default-2015_11_12-1' });
});
