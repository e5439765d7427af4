import { promises as fs } from 'node:fs';
import path from 'node:path';
import { EnvRepository, latestTag, tagsOf } from '../../src/repo/env-repository.js';
import { PushRejectedError } from '../../src/git/push.js';
import { ConfigurationError } from '../../src/util/errors.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { commitIn, git, GitFixture, SAMPLE_SPEC } from '../fixtures/git-repo.js';

let fx: GitFixture;
let logger: MemoryLogger;
const open = () => EnvRepository.open({ repository: fx.origin, logger, workDir: fx.root });

beforeEach(async () => {
  fx = await GitFixture.create();
  logger = new MemoryLogger();
});
afterEach(async () => {
  await fx.cleanup();
});

test('discovers environments, manifests, tags, labels and latest from one fetch', async () => {
  await fx.commit('default', { 'env.spec': SAMPLE_SPEC, 'labels/next.txt': ' env-default-2015_11_12-1\n', 'labels/bad name.txt': 'x' });
  await fx.commit('other', { 'env.spec': SAMPLE_SPEC });
  await fx.commit('main', { 'README.md': 'not an environment' });
  await fx.commit('bad-2015_11_12', { 'env.spec': SAMPLE_SPEC });
  await fx.commit('feature/x', { 'env.spec': SAMPLE_SPEC });
  await fx.commit('manifest/default', { 'env.manifest': 'a\n' }, { date: '2015-11-12T10:00:00Z' });
  await fx.tag('env-default-2015_11_12', 'manifest/default');
  await fx.commit('manifest/default', { 'env.manifest': 'b\n' }, { date: '2015-11-12T12:00:00Z' });
  await fx.tag('env-default-2015_11_12-1', 'manifest/default', { annotated: false });
  await fx.tag('v1.0', 'main');

  const repo = await open();
  try {
    const snap = await repo.snapshot();
    expect(snap.envs.map((e) => e.name)).toEqual(['default', 'other']);
    expect(snap.envs[0].labels).toEqual({ next: 'env-default-2015_11_12-1' });
    expect(snap.envs[1].labels).toEqual({});
    expect(snap.manifests.map((m) => [m.env, m.committerDate.toISOString()])).toEqual([['default', '2015-11-12T12:00:00.000Z']]);
    expect(snap.tags.map((t) => [t.name, t.deployedName, t.annotated])).toEqual([
      ['env-default-2015_11_12', '2015_11_12', true],
      ['env-default-2015_11_12-1', '2015_11_12-1', false],
    ]);
    expect(snap.tagNames.has('v1.0')).toBe(true);
    expect(tagsOf(snap, 'default')).toHaveLength(2);
    expect(latestTag(snap, 'default')?.name).toBe('env-default-2015_11_12-1');
    expect(latestTag(snap, 'other')).toBeUndefined();
    const warnings = logger.lines('warning').join('\n');
    expect(warnings).toContain('Skipping branch bad-2015_11_12: an environment name cannot end like a tag suffix');
    expect(warnings).toContain('Skipping branch feature/x: an environment name cannot contain "/"');
    expect(warnings).toContain('Skipping labels/bad name.txt on branch default');
    expect(warnings).not.toContain('main');
    await repo.snapshot(); // again, as after a race: the warnings are not repeated
    expect(logger.lines('warning')).toHaveLength(3);
    expect((await repo.readFile('default', 'env.spec'))?.toString()).toBe(SAMPLE_SPEC);
    expect(await repo.readFile('default', 'missing.txt')).toBeUndefined();
  } finally {
    await repo.close();
  }
});

test('latest: ties in committer date go to the greater tag name', async () => {
  await fx.commit('manifest/e', { 'env.manifest': 'a\n' }, { date: '2020-01-01T00:00:00Z' });
  await fx.tag('env-e-2020_01_01-9', 'manifest/e');
  await fx.tag('env-e-2020_01_01-10', 'manifest/e');
  await fx.commit('manifest/e', { 'env.manifest': 'old\n' }, { date: '2019-01-01T00:00:00Z' });
  await fx.tag('env-e-2019_01_01', 'manifest/e');
  const repo = await open();
  try {
    expect(latestTag(await repo.snapshot(), 'e')?.name).toBe('env-e-2020_01_01-10');
  } finally {
    await repo.close();
  }
});

test('writes a commit with nested files by plumbing and pushes several refs at once', async () => {
  await fx.commit('default', { 'env.spec': SAMPLE_SPEC, 'labels/current.txt': 'env-default-2015_11_12\n', 'keep/a.txt': 'a' });
  const repo = await open();
  try {
    const head = (await repo.snapshot()).branches.get('default') as string;
    const { commit, changed } = await repo.writeCommit(
      head,
      { 'labels/next.txt': 'env-default-2015_11_12-1\n', 'labels/current.txt': null, 'deep/er/file.txt': 'x' },
      'Updated next label to env-default-2015_11_12-1.',
    );
    expect(changed).toBe(true);
    const same = await repo.writeCommit(commit, { 'keep/a.txt': 'a' }, 'nothing');
    expect(same).toEqual({ commit, changed: false });
    const tagObject = await repo.makeTag('env-default-2015_11_12', commit, 'Automatic tag of default.');
    await repo.push([
      { src: commit, dst: 'refs/heads/default' },
      { src: tagObject, dst: 'refs/tags/env-default-2015_11_12' },
    ]);
    expect(await fx.show('default', 'labels/next.txt')).toBe('env-default-2015_11_12-1');
    expect(await fx.show('default', 'labels/current.txt')).toBeUndefined();
    expect(await fx.show('default', 'deep/er/file.txt')).toBe('x');
    expect(await fx.show('default', 'keep/a.txt')).toBe('a');
    expect(await fx.originGit(['log', '-1', '--format=%s', 'default'])).toBe('Updated next label to env-default-2015_11_12-1.');
    expect(await fx.originGit(['cat-file', '-t', 'env-default-2015_11_12'])).toBe('tag');
    expect(await fx.originGit(['tag', '-l', '--format=%(contents:subject)', 'env-default-2015_11_12'])).toBe('Automatic tag of default.');
  } finally {
    await repo.close();
  }
});

test('updateBranch redoes its change on the new head after another clone pushed first', async () => {
  await fx.commit('default', { 'env.spec': SAMPLE_SPEC });
  const other = await fx.clone('other');
  const repo = await open();
  try {
    const heads: (string | undefined)[] = [];
    const result = await repo.updateBranch('default', async (head, attempt) => {
      heads.push(head);
      if (attempt === 1) await commitIn(other, 'default', { 'labels/pre-prod.txt': 'env-default-2015_11_12\n' });
      return { files: { 'labels/next.txt': 'env-default-2015_11_13\n' }, message: 'Updated next label to env-default-2015_11_13.' };
    });
    expect(result).toMatchObject({ pushed: true, attempts: 2 });
    expect(heads[0]).not.toEqual(heads[1]);
    expect(await fx.show('default', 'labels/next.txt')).toBe('env-default-2015_11_13');
    expect(await fx.show('default', 'labels/pre-prod.txt')).toBe('env-default-2015_11_12');
    expect(logger.text()).toContain('changed while we worked');
  } finally {
    await repo.close();
  }
});

test('updateBranch gives up after its attempts with the rejection', async () => {
  await fx.commit('default', { 'env.spec': SAMPLE_SPEC });
  const other = await fx.clone('other');
  const repo = await open();
  try {
    let n = 0;
    const racing = repo.updateBranch(
      'default',
      async () => {
        await commitIn(other, 'default', { [`race${n++}.txt`]: 'x' });
        return { files: { 'x.txt': 'mine' }, message: 'mine' };
      },
      { attempts: 2 },
    );
    await expect(racing).rejects.toBeInstanceOf(PushRejectedError);
  } finally {
    await repo.close();
  }
});

test('updateBranch creates a missing branch, and dry-run pushes nothing', async () => {
  await fx.commit('default', { 'env.spec': SAMPLE_SPEC });
  const repo = await open();
  try {
    const dry = await repo.updateBranch('manifest/default', async () => ({ files: { 'env.manifest': 'm\n' }, message: 'Manifest update for default' }), { dryRun: true });
    expect(dry.pushed).toBe(false);
    expect(dry.commit).toMatch(/^[0-9a-f]{40}$/);
    expect((await fx.refs())['refs/heads/manifest/default']).toBeUndefined();
    const real = await repo.updateBranch('manifest/default', async () => ({ files: { 'env.manifest': 'm\n' }, message: 'Manifest update for default' }));
    expect(real.pushed).toBe(true);
    expect(await fx.originGit(['rev-list', '--count', 'manifest/default'])).toBe('1');
  } finally {
    await repo.close();
  }
});

test('a push to the checked-out branch of a non-bare repository ends with the detach advice', async () => {
  await fx.commit('default', { 'env.spec': SAMPLE_SPEC });
  const nonBare = await fx.clone('non bare');
  await git(['checkout', '--quiet', 'default'], nonBare);
  const repo = await EnvRepository.open({ repository: nonBare, logger, workDir: fx.root });
  try {
    const change = repo.updateBranch('default', async () => ({ files: { 'labels/next.txt': 'x\n' }, message: 'm' }));
    await expect(change).rejects.toThrow(ConfigurationError);
    await expect(change).rejects.toThrow(/git checkout --detach/);
  } finally {
    await repo.close();
  }
});

test('a repository that does not exist is a clear error and leaves no temporary directory', async () => {
  const before = await fs.readdir(fx.root);
  await expect(EnvRepository.open({ repository: path.join(fx.root, 'nope'), logger, workDir: fx.root })).rejects.toThrow(/git clone from .*nope failed/);
  expect(await fs.readdir(fx.root)).toEqual(before);
  expect(logger.text()).not.toContain('retrying'); // not a network failure: no retry
});

test('file:// URLs work', async () => {
  await fx.commit('default', { 'env.spec': SAMPLE_SPEC });
  const repo = await EnvRepository.open({ repository: 'file://' + fx.origin, logger, workDir: fx.root });
  try {
    expect((await repo.snapshot()).envs.map((e) => e.name)).toEqual(['default']);
  } finally {
    await repo.close();
  }
});

test('a snapshot costs the same few git processes whatever the number of environment branches', async () => {
  const gitCommands = () => logger.lines('debug').filter((l) => l.startsWith('git ')).length;
  const snapshotCost = async () => {
    const repo = await open();
    try {
      const before = gitCommands();
      const snap = await repo.snapshot();
      return { processes: gitCommands() - before, snap };
    } finally {
      await repo.close();
    }
  };
  await fx.commit('env0', { 'env.spec': SAMPLE_SPEC, 'labels/current.txt': 'env-env0-2020_01_01\n' });
  const one = await snapshotCost();

  // Shared label contents, a sub-directory and other files under labels/, labels/ as a file,
  // env.spec as a directory: each branch must read as it did alone.
  for (let i = 1; i <= 8; i++) {
    await fx.commit(`env${i}`, {
      'env.spec': SAMPLE_SPEC,
      'labels/current.txt': 'env-env0-2020_01_01\n',
      [`labels/l${i}.txt`]: ` env-env${i}-2020_01_0${i}\n`,
      'labels/sub/x.txt': 'no',
      'labels/README': 'no',
    });
  }
  await fx.commit('flat', { 'env.spec': SAMPLE_SPEC, labels: 'a file, not a directory' });
  await fx.commit('nested', { 'env.spec/inside.txt': 'a directory, not a file' });
  const many = await snapshotCost();

  expect(many.processes).toBe(one.processes);
  expect(many.snap.envs.map((e) => e.name)).toEqual(['env0', 'env1', 'env2', 'env3', 'env4', 'env5', 'env6', 'env7', 'env8', 'flat']);
  expect(many.snap.envs[0].labels).toEqual({ current: 'env-env0-2020_01_01' });
  expect(many.snap.envs[3].labels).toEqual({ current: 'env-env0-2020_01_01', l3: 'env-env3-2020_01_03' });
  expect(many.snap.envs[9].labels).toEqual({});
  expect(logger.lines('debug')).toContain('Branch nested has no env.spec: not an environment');
});

test('a snapshot for some environments reads only their branches; manifests and tags are all listed', async () => {
  await fx.commit('ocean', { 'env.spec': SAMPLE_SPEC, 'labels/current.txt': 'env-ocean-2020_01_01\n' });
  await fx.commit('ocean-next', { 'env.spec': SAMPLE_SPEC });
  await fx.commit('land', { 'env.spec': SAMPLE_SPEC, 'labels/bad name.txt': 'x' });
  await fx.commit('bad-2015_11_12', { 'env.spec': SAMPLE_SPEC });
  await fx.commit('manifest/land', { 'env.manifest': 'a\n' });
  await fx.tag('env-land-2020_01_01', 'manifest/land');
  const repo = await open();
  try {
    const reads = () => logger.lines('debug').filter((l) => l.startsWith('git ')).length;
    const before = reads();
    const some = await repo.snapshot(['ocean*']);
    expect(reads() - before).toBe(2); // for-each-ref, and the reader started once
    expect(some.envs.map((e) => [e.name, e.labels])).toEqual([
      ['ocean', { current: 'env-ocean-2020_01_01' }],
      ['ocean-next', {}],
    ]);
    expect(some.manifests.map((m) => m.env)).toEqual(['land']);
    expect(some.tags.map((t) => t.name)).toEqual(['env-land-2020_01_01']);
    // The branches not selected were not read: nothing was said about their names or labels.
    expect(logger.lines('warning')).toEqual([]);
    expect((await repo.snapshot(['land'])).envs.map((e) => [e.name, e.labels])).toEqual([['land', {}]]);
    expect(logger.lines('warning')).toEqual([expect.stringContaining('Skipping labels/bad name.txt on branch land')]);
    expect((await repo.snapshot()).envs.map((e) => e.name)).toEqual(['land', 'ocean', 'ocean-next']);
    expect(logger.lines('warning')).toEqual([expect.stringContaining('bad name.txt'), expect.stringContaining('Skipping branch bad-2015_11_12')]);
  } finally {
    await repo.close();
  }
});

test('commits as the configured identity, or as gitenv when user.name or user.email is missing', async () => {
  await fx.commit('default', { 'env.spec': SAMPLE_SPEC });
  const authorWith = async (config: string) => {
    const file = path.join(fx.root, `gitconfig-${config.length}`);
    await fs.writeFile(file, config);
    const env: NodeJS.ProcessEnv = { ...process.env, GIT_CONFIG_GLOBAL: file, GIT_CONFIG_NOSYSTEM: '1' };
    for (const k of ['GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL', 'GIT_COMMITTER_NAME', 'GIT_COMMITTER_EMAIL', 'GITHUB_ACTIONS', 'GIT_CONFIG_COUNT']) delete env[k];
    const repo = await EnvRepository.open({ repository: fx.origin, logger, workDir: fx.root, env });
    try {
      const { commit } = await repo.writeCommit(undefined, { 'a.txt': 'a' }, 'm');
      return await repo.authorOf(commit);
    } finally {
      await repo.close();
    }
  };
  expect(await authorWith('[user]\n\tname = Ann\n\temail = ann@example.org\n')).toBe('Ann <ann@example.org>');
  expect(await authorWith('[user]\n\tname = Ann\n')).toBe('gitenv <gitenv@localhost>');
  expect(await authorWith('[user]\n\temail = ann@example.org\n')).toBe('gitenv <gitenv@localhost>');
});
