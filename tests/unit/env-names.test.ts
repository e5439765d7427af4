import { envNameProblem, isEnvName, labelNameProblem, labelPath, manifestBranch, newLabelNameProblem } from '../../src/repo/names.js';

test.each(['default', 'py3.12', '_x', '.hidden', 'a-b_c.d', 'env-2015', 'x-2015_11'])('%s is an environment name', (name) => {
  expect(envNameProblem(name)).toBeUndefined();
  expect(isEnvName(name)).toBe(true);
});

test.each([
  ['', 'empty'],
  ['manifest/default', '"/"'],
  ['feature/x', '"/"'],
  ['-x', 'cannot start with "-"'],
  ['a b', 'letters, digits'],
  ['default-2015_11_12', 'tag suffix'],
  ['default-2015_11_12-3', 'tag suffix'],
])('%j is refused: %s', (name, why) => {
  expect(envNameProblem(name)).toContain(why);
});

test('label names', () => {
  expect(labelNameProblem('pre-prod')).toBeUndefined();
  expect(labelNameProblem('next')).toBeUndefined();
  expect(labelNameProblem('v1.2_x')).toBeUndefined();
  expect(labelNameProblem('a/b')).toContain('letters');
  expect(labelNameProblem('')).toContain('letters');
  expect(labelNameProblem('..')).toContain('not a label');
  expect(labelNameProblem('latest')).toContain('computed');
});

test('paths of labels and manifest branches', () => {
  expect(labelPath('pre-prod')).toBe('labels/pre-prod.txt');
  expect(manifestBranch('default')).toBe('manifest/default');
});

test('a new label may not be hidden nor shaped like a deployed name (its symlink stands beside the prefixes)', () => {
  expect(newLabelNameProblem('pre-prod')).toBeUndefined();
  expect(newLabelNameProblem('2026_01_01')).toMatch(/shaped like a deployed name/);
  expect(newLabelNameProblem('2026_01_01-3')).toMatch(/shaped like a deployed name/);
  expect(newLabelNameProblem('.hidden')).toMatch(/never hidden/);
  expect(newLabelNameProblem('latest')).toMatch(/computed from the tags/);
});
