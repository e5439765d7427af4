/**
 * The autotag and label actions as GitHub runs them: `node dist/<phase>/index.js` with INPUT_*
 * variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files (dist/, or a build of the current sources beside it).
 */
import path from 'node:path';
import { ensureBundles } from '../fixtures/bundles.js';
import type { GitFixture } from '../fixtures/git-repo.js';
import { runAction, untaggedDefault } from '../fixtures/git-frontends.js';

let bundles: Record<string, string>;

let fx: GitFixture;

beforeAll(async () => {
  bundles = await ensureBundles(['autotag', 'label']);
}, 300_000);
beforeEach(async () => {
  fx = await untaggedDefault();
});
afterEach(async () => {
  await fx.cleanup();
});

test('autotag: dry-run, then for real; tags output and summary', async () => {
  const common = { repository: fx.origin, token: 'ghs_unused_for_local_paths', envs: '*' };
  const dry = await runAction(bundles.autotag, { ...common, 'dry-run': 'true' }, path.join(fx.root, 'run1'));
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain('Would push tag env-default-2015_11_12 (dry run)');
  expect(JSON.parse(dry.outputs.tags)).toEqual(['env-default-2015_11_12']);
  expect(await fx.tags()).toEqual([]);

  const real = await runAction(bundles.autotag, { ...common, 'dry-run': 'false' }, path.join(fx.root, 'run2'));
  expect(real.stderr).toBe('');
  expect(real.code).toBe(0);
  expect(real.stdout).toContain('Pushing tag env-default-2015_11_12');
  expect(real.stdout).toContain('::add-mask::ghs_unused_for_local_paths');
  expect(JSON.parse(real.outputs.tags)).toEqual(['env-default-2015_11_12']);
  expect(real.summary).toContain('| default |');
  expect(real.summary).toContain('| `env-default-2015_11_12` | tagged |');
  expect(await fx.tags()).toEqual(['env-default-2015_11_12']);
});

test('label: labels output and summary; an unknown tag fails the step and pushes nothing', async () => {
  await fx.tag('env-default-2015_11_12', 'manifest/default');
  const ok = await runAction(bundles.label, { repository: fx.origin, tag: 'env-default-2015_11_12', 'next-only': 'false', 'dry-run': 'false' }, path.join(fx.root, 'run1'));
  expect(ok.code).toBe(0);
  expect(JSON.parse(ok.outputs.labels)).toEqual({ next: 'env-default-2015_11_12' });
  expect(ok.summary).toContain('| default | next |  | `env-default-2015_11_12` |');
  expect(await fx.show('default', 'labels/next.txt')).toBe('env-default-2015_11_12');

  const before = await fx.refs();
  const bad = await runAction(bundles.label, { repository: fx.origin, tag: 'env-default-2099_01_01' }, path.join(fx.root, 'run2'));
  expect(bad.code).toBe(1);
  expect(bad.stdout).toContain('::error::gitenv label: Tag env-default-2099_01_01 does not exist');
  expect(bad.outputs).toEqual({});
  expect(await fx.refs()).toEqual(before);

  const missing = await runAction(bundles.label, { repository: fx.origin }, path.join(fx.root, 'run3'));
  expect(missing.code).toBe(1);
  expect(missing.stdout).toContain('::error::gitenv label: Input required and not supplied: tag');
});
