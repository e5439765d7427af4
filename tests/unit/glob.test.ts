import { matchesAny, splitList } from '../../src/util/glob.js';
import { SecretMasker } from '../../src/util/logger.js';

test('matchesAny: star matches everything, globs match names', () => {
  expect(matchesAny('default/latest', ['*'])).toBe(true);
  expect(matchesAny('default/latest', ['default/*'])).toBe(true);
  expect(matchesAny('legacy/next', ['default/*', '*/current'])).toBe(false);
  expect(matchesAny('anything', [])).toBe(true);
});

test('splitList splits on new lines, commas and spaces', () => {
  expect(splitList('a, b\nc  d')).toEqual(['a', 'b', 'c', 'd']);
  expect(splitList('')).toEqual([]);
});

test('SecretMasker masks plain, URL-encoded and base64 forms', () => {
  const m = new SecretMasker();
  m.add('p@ss word');
  expect(m.mask('x p@ss word y')).toBe('x *** y');
  expect(m.mask('x p%40ss%20word y')).toBe('x *** y');
  expect(m.mask(Buffer.from('p@ss word').toString('base64'))).toBe('***');
});
