import { compareTagNames, latestOf, nextTagName, parseTag, tagDate, tagName } from '../../src/repo/tags.js';

test('parses tags from the right', () => {
  expect(parseTag('env-default-2015_11_12')).toEqual({ env: 'default', deployedName: '2015_11_12', date: '2015_11_12', serial: 0 });
  expect(parseTag('env-default-2015_11_12-1')).toEqual({
    env: 'default',
    deployedName: '2015_11_12-1',
    date: '2015_11_12',
    serial: 1,
  });
  expect(parseTag('env-my-env-2-2020_01_02-12')).toMatchObject({ env: 'my-env-2', deployedName: '2020_01_02-12', serial: 12 });
});

test('refuses what is not a gitenv tag', () => {
  for (const t of ['v1.0', 'env-default', 'env--2015_11_12x', 'env-default-2015-11-12', 'xenv-a-2015_11_12', 'env-2015_11_12']) {
    expect(parseTag(t)).toBeUndefined();
  }
});

test('tag dates are UTC', () => {
  expect(tagDate(new Date('2015-11-12T23:30:00-05:00'))).toBe('2015_11_13');
  expect(tagDate(new Date('2015-01-02T00:00:00Z'))).toBe('2015_01_02');
});

test('next free name: plain, then -1, -2', () => {
  const when = new Date('2015-11-12T10:00:00Z');
  const taken = new Set<string>();
  const take = () => {
    const n = nextTagName('default', when, (x) => taken.has(x));
    taken.add(n);
    return n;
  };
  expect(take()).toBe('env-default-2015_11_12');
  expect(take()).toBe('env-default-2015_11_12-1');
  expect(take()).toBe('env-default-2015_11_12-2');
  expect(tagName('x', '2015_11_12', 0)).toBe('env-x-2015_11_12');
});

test('ordering: by date, then numeric serial', () => {
  const names = ['env-a-2015_11_12-10', 'env-a-2015_11_12', 'env-a-2015_11_12-9', 'env-a-2014_01_01-3', 'env-a-2015_11_12-1'];
  expect([...names].sort(compareTagNames)).toEqual(['env-a-2014_01_01-3', 'env-a-2015_11_12', 'env-a-2015_11_12-1', 'env-a-2015_11_12-9', 'env-a-2015_11_12-10']);
  expect(compareTagNames('2015_11_12-2', '2015_11_12-10')).toBeLessThan(0);
});

test('latest: newest commit date, ties to the greater tag name, an unknown date counts as the oldest', () => {
  const latest = (tags: [string, string | undefined][]): string | undefined =>
    latestOf(
      tags,
      ([name]) => name,
      ([, date]) => (date === undefined ? undefined : new Date(date)),
    )?.[0];
  expect(latest([])).toBeUndefined();
  expect(
    latest([
      ['env-e-2020_01_02', '2020-01-01T00:00:00Z'],
      ['env-e-2020_01_01', '2020-01-03T00:00:00Z'],
    ]),
  ).toBe('env-e-2020_01_01');
  expect(
    latest([
      ['env-e-2020_01_01-9', '2020-01-01T00:00:00Z'],
      ['env-e-2020_01_01-10', '2020-01-01T00:00:00Z'],
    ]),
  ).toBe('env-e-2020_01_01-10');
  expect(
    latest([
      ['env-e-2020_01_03', undefined],
      ['env-e-2020_01_01', '2020-01-01T00:00:00Z'],
    ]),
  ).toBe('env-e-2020_01_01');
  expect(
    latest([
      ['env-e-2020_01_01', undefined],
      ['env-e-2020_01_03', undefined],
    ]),
  ).toBe('env-e-2020_01_03');
});
