/**
 * `gitenv autotag` and `gitenv label` through the CLI bundle. The bundle is built into a private
 * directory here: other test files build dist/cli at the same time, and two builds writing one
 * directory would race.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GitFixture, SAMPLE_SPEC } from '../fixtures/git-repo.js';
import { cleanEnv, ROOT, runNode } from '../fixtures/git-frontends.js';

let fx: GitFixture;
let outDir: string;
let cli: string;
const gitenv = (...args: string[]) => runNode([cli, ...args], cleanEnv());

beforeAll(async () => {
  outDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv cli '));
  const ncc = path.join(ROOT, 'node_modules/@vercel/ncc/dist/ncc/cli.js');
  const built = await runNode([ncc, 'build', 'src/entries/cli.ts', '-o', outDir, '-q'], process.env);
  expect(built).toMatchObject({ code: 0 });
  cli = path.join(outDir, 'index.js');
}, 300_000);
afterAll(async () => {
  await fs.rm(outDir, { recursive: true, force: true });
});
beforeEach(async () => {
  fx = await GitFixture.create();
  await fx.commit('default', { 'env.spec': SAMPLE_SPEC });
  await fx.commit('manifest/default', { 'env.manifest': 'a\n' }, { date: '2015-11-12T10:00:00Z' });
});
afterEach(async () => {
  await fx.cleanup();
});

test('gitenv autotag prints the old tool\'s lines; a second run prints nothing', async () => {
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
