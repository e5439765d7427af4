import { latestTag, mayRemoveLabel, selectEnv, type EnvState } from '../../src/deploy/selection.js';

const day = (d: string) => new Date(`${d}T12:00:00Z`);

const state: EnvState = {
  env: 'default',
  labels: new Map([
    ['current', 'env-default-2026_01_01'],
    ['next', 'env-default-2026_01_02-1'],
    ['pre-prod', 'env-default-2026_01_02-1'],
    ['broken', 'env-default-2025_05_05'],
    ['foreign', 'env-other-2026_01_01'],
    ['.gitenv.lock', 'env-default-2026_01_01'],
    ['2026_01_02', 'env-default-2026_01_01'],
  ]),
  tags: new Map([
    ['env-default-2026_01_01', { commit: 'c1', date: day('2026-01-01') }],
    ['env-default-2026_01_02', { commit: 'c2', date: day('2026-01-02') }],
    ['env-default-2026_01_02-1', { commit: 'c3', date: day('2026-01-02') }],
  ]),
};

test('latest is the tag of the newest commit, ties broken by the greater name', () => {
  expect(latestTag(state.tags)).toBe('env-default-2026_01_02-1');
  expect(latestTag(new Map())).toBeUndefined();
});

test('labelled tags and latest become prefixes, one per tag, with their labels', () => {
  const sel = selectEnv(state, ['*']);
  expect(sel.prefixes).toEqual([
    { env: 'default', tag: 'env-default-2026_01_01', deployedName: '2026_01_01', commit: 'c1', labels: ['current'] },
    { env: 'default', tag: 'env-default-2026_01_02-1', deployedName: '2026_01_02-1', commit: 'c3', labels: ['latest', 'next', 'pre-prod'] },
  ]);
  expect(sel.links.get('pre-prod')).toEqual({ deployedName: '2026_01_02-1', tag: 'env-default-2026_01_02-1' });
  expect(sel.problems.map((p) => p.label)).toEqual(['.gitenv.lock', '2026_01_02', 'broken', 'foreign']);
  expect(sel.problems[3].message).toMatch(/not a tag of default/);
  expect(sel.problems[0].message).toMatch(/cannot name a symlink/);
});

test('env-labels globs on <env>/<label> filter what is deployed and what may be unlinked', () => {
  const sel = selectEnv(state, ['default/current', '*/latest']);
  expect(sel.prefixes.map((p) => [p.deployedName, p.labels])).toEqual([
    ['2026_01_01', ['current']],
    ['2026_01_02-1', ['latest']],
  ]);
  expect([...sel.links.keys()]).toEqual(['current', 'latest']);
  expect(mayRemoveLabel(sel, 'old', ['*'])).toBe(true);
  expect(mayRemoveLabel(sel, 'old', ['default/current'])).toBe(false);
  expect(mayRemoveLabel(sel, 'next', ['*'])).toBe(false);
  expect(selectEnv(state, ['other/*']).prefixes).toEqual([]);
});
