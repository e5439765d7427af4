// label and deploy run through `npx local-action` with their .env.example files, on a repository
// whose manifest branch and tag are made here by hand (as resolve and autotag would have), so this
// file does not depend on the solver.
import { mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildChannel, type BuiltChannel } from '../fixtures/channel/channel.js';
import { exec, GIT_ENV, git, localAction, makeOrigin, writeEnvFile } from './local-action-support.js';

const TAG = 'env-default-2024_05_01';
const WHEN = '2024-05-01T03:17:00Z';

describe('label and deploy under npx local-action', () => {
  let tmp: string;
  let origin: string;
  let channel: BuiltChannel;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'gitenv-local-deploy-'));
    channel = await buildChannel(path.join(tmp, 'channel'), [
      { name: 'libzlib', version: '1.3.1', build: 'h0_0', files: { 'lib/libz.txt': 'zlib\n' } },
      { name: 'python', version: '3.12.1', build: 'h0_0', depends: ['libzlib >=1.3'], files: { 'bin/python-version.txt': '3.12.1\n' } },
    ]);
    const spec = `channels:\n  - ${channel.url}\nenv:\n  - python\n`;
    const made = await makeOrigin(tmp, spec);
    origin = made.origin;
    const work = made.work;

    // manifest/default and its tag, as resolve and autotag write them (docs/format-reference.md).
    const [zlib, python] = ['libzlib', 'python'].map((n) => channel.packages.find((p) => p.record.name === n)!);
    await git(work, 'checkout', '--quiet', '--orphan', 'manifest/default');
    await writeFile(path.join(work, 'env.manifest'), [zlib, python].map((p) => `${channel.url}/linux-64\t${p.dist}\n`).join(''));
    const lock = ['# platform: linux-64', '# env: default', '@EXPLICIT', ...[zlib, python].map((p) => `${channel.url}/linux-64/${p.fn}#${p.sha256}`)];
    await writeFile(path.join(work, 'env.lock'), lock.join('\n') + '\n');
    await git(work, 'add', 'env.spec', 'env.manifest', 'env.lock');
    const dated = { ...GIT_ENV, GIT_AUTHOR_DATE: WHEN, GIT_COMMITTER_DATE: WHEN };
    await exec('git', ['commit', '--quiet', '-m', 'Manifest update for default'], { cwd: work, env: dated });
    await exec('git', ['tag', '-a', TAG, '-m', 'Automatic tag of default.'], { cwd: work, env: dated });
    await git(work, 'push', '--quiet', origin, 'manifest/default', TAG);
  });

  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('label sets next; deploy installs the tag under a target path with a space, with latest and next', async () => {
    const common = { INPUT_REPOSITORY: origin, 'INPUT_DRY-RUN': 'false' };
    const labelEnv = await writeEnvFile('label', tmp, { ...common, INPUT_TAG: TAG, GITHUB_STEP_SUMMARY: path.join(tmp, 'label-summary.md') });
    const label = await localAction('label', labelEnv);
    expect(label.errors).toEqual([]);
    expect(JSON.parse(label.outputs.labels)).toMatchObject({ next: TAG });
    expect(await git(origin, 'show', 'default:labels/next.txt')).toBe(TAG);

    const target = path.join(tmp, 'deployed envs');
    const summary = path.join(tmp, 'deploy-summary.md');
    const deploy = await localAction('deploy', await writeEnvFile('deploy', tmp, { ...common, INPUT_TARGET: target, GITHUB_STEP_SUMMARY: summary }));
    expect(deploy.errors).toEqual([]);
    const prefix = path.join(target, 'default', '2024_05_01');
    expect(JSON.parse(deploy.outputs.deployed)).toContainEqual(expect.objectContaining({ env: 'default', tag: TAG, prefix }));
    expect(deploy.log).toContain(`Linking default/next to ${TAG}`);
    expect(JSON.parse(await readFile(path.join(prefix, 'conda-meta', 'gitenv.json'), 'utf8'))).toMatchObject({ env: 'default', tag: TAG });
    expect(await readFile(path.join(prefix, 'bin', 'python-version.txt'), 'utf8')).toBe('3.12.1\n');
    expect(await readlink(path.join(target, 'default', 'latest'))).toBe('2024_05_01');
    expect(await readlink(path.join(target, 'default', 'next'))).toBe('2024_05_01');
    expect(await readFile(summary, 'utf8')).toContain('default');
  });
});
