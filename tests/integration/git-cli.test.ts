/** `gitenv autotag` and `gitenv label` through the CLI bundle (dist/cli, or a build of the current sources beside it). */
import { ensureBundles } from '../fixtures/bundles.js';
import type { GitFixture } from '../fixtures/git-repo.js';
import { cleanEnv, runNode, untaggedDefault } from '../fixtures/git-frontends.js';

let fx: GitFixture;
let cli: string;
const gitenv = (...args: string[]) => runNode([cli, ...args], cleanEnv());

beforeAll(async () => {
  cli = (await ensureBundles(['cli'])).cli;
}, 300_000);
beforeEach(async () => {
  fx = await untaggedDefault();
});
afterEach(async () => {
  await fx.cleanup();
});

test("gitenv autotag prints the old tool's lines; a second run prints nothing", async () => {
  const dry = await gitenv('autotag', fx.origin, '--dry-run');
  expect(dry).toMatchObject({ code: 0, stdout: 'Would push tag env-default-2015_11_12 (dry run)\n' });
  const first = await gitenv('autotag', fx.origin);
  expect(first).toEqual({ code: 0, stdout: 'Pushing tag env-default-2015_11_12\n', stderr: '' });
  await fx.commit('manifest/default', { 'env.manifest': 'b\n' }, { date: '2015-11-12T11:00:00Z' });
  expect((await gitenv('autotag', fx.origin)).stdout).toBe('Pushing tag env-default-2015_11_12-1\n');
  expect(await gitenv('autotag', fx.origin)).toEqual({ code: 0, stdout: '', stderr: '' });
});

test('gitenv label: progression and --label; a bad tag exits 1 with a one-line reason', async () => {
  await fx.tag('env-default-2015_11_12', 'manifest/default');
  const ok = await gitenv('label', fx.origin, 'env-default-2015_11_12');
  expect(ok.code).toBe(0);
  expect(await fx.show('default', 'labels/next.txt')).toBe('env-default-2015_11_12');
  expect((await gitenv('label', fx.origin, 'env-default-2015_11_12', '--label', 'pre-prod')).code).toBe(0);
  expect(await fx.show('default', 'labels/pre-prod.txt')).toBe('env-default-2015_11_12');

  const bad = await gitenv('label', fx.origin, 'env-nope-2015_11_12');
  expect(bad.code).toBe(1);
  expect(bad.stderr).toBe(`error: gitenv label: Tag env-nope-2015_11_12 does not exist in ${fx.origin}\n`);
});

test('missing arguments give a usage line and a non-zero exit; --help lists the commands', async () => {
  const noRepo = await gitenv('autotag');
  expect(noRepo.code).not.toBe(0);
  expect(noRepo.stderr).toContain('missing argument <repo>');
  expect(noRepo.stderr).toContain('usage: gitenv autotag <repo>');
  const noTag = await gitenv('label', fx.origin);
  expect(noTag.code).not.toBe(0);
  expect(noTag.stderr).toContain('usage: gitenv label <repo> <tag>');
  const help = await gitenv('--help');
  expect(help.code).toBe(0);
  expect(help.stdout).toContain('gitenv autotag <repo>');
  expect(help.stdout).toContain('gitenv label <repo> <tag>');
});
