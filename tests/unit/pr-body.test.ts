import type { ManifestEntry } from '../../src/manifest/manifest.js';
import { changeCounts, classifyChanges, compareVersions, entryKey, formatBytes, lineDiff, renderManifestChange, summarizeSizes } from '../../src/manifest/pr-body.js';

const CF = 'https://conda.anaconda.org/conda-forge';
const MAIN = 'https://repo.anaconda.com/pkgs/main';

function entry(name: string, version: string, build = '0', channel = CF, subdir = 'linux-64'): ManifestEntry {
  return { name, version, build, channel, subdir, dist: `${name}-${version}-${build}` };
}

describe('compareVersions (conda ordering)', () => {
  test.each([
    ['1.10', '1.9', 1],
    ['1.9', '1.10', -1],
    ['2.0.0rc1', '2.0.0', -1],
    ['2.0.0', '2.0.0rc1', 1],
    ['1.0', '1.0.0', 0],
    ['1.1.1w', '1.1.1v', 1],
  ])('%s vs %s', (a, b, want) => {
    expect(compareVersions(a, b)).toBe(want);
  });
});

describe('classifyChanges', () => {
  test('1.9 → 1.10 is an upgrade, 2.0.0 → 2.0.0rc1 a downgrade (not string order)', () => {
    const c = classifyChanges([entry('numpy', '1.9'), entry('scipy', '2.0.0')], [entry('numpy', '1.10'), entry('scipy', '2.0.0rc1')]);
    expect(c.upgraded.map((p) => [p.before.version, p.after.version])).toEqual([['1.9', '1.10']]);
    expect(c.downgraded.map((p) => [p.before.version, p.after.version])).toEqual([['2.0.0', '2.0.0rc1']]);
    expect(c.added).toEqual([]);
    expect(c.removed).toEqual([]);
  });

  test('a new build of the same version is a rebuild, not an upgrade', () => {
    const c = classifyChanges([entry('python', '3.11.4', 'h1_0')], [entry('python', '3.11.4', 'h1_1')]);
    expect(c.rebuilt).toEqual([{ before: entry('python', '3.11.4', 'h1_0'), after: entry('python', '3.11.4', 'h1_1') }]);
    expect(c.upgraded).toEqual([]);
    expect(changeCounts(c)).toBe('1 rebuilt');
  });

  test('the same build from another channel is a channel change', () => {
    const c = classifyChanges([entry('zlib', '1.2.13', '0', MAIN)], [entry('zlib', '1.2.13', '0', CF)]);
    expect(c.moved).toHaveLength(1);
    expect(c.moved[0].before.channel).toBe(MAIN);
    expect(c.moved[0].after.channel).toBe(CF);
  });

  test('added and removed by name (case-insensitive), unchanged packages left out', () => {
    const c = classifyChanges([entry('openssl', '3.0.0'), entry('Zlib', '1.2.13')], [entry('zlib', '1.2.13'), entry('libffi', '3.4')]);
    expect(c.added.map((e) => e.name)).toEqual(['libffi']);
    expect(c.removed.map((e) => e.name)).toEqual(['openssl']);
    expect(changeCounts(c)).toBe('1 added, 1 removed');
  });
});

describe('sizes', () => {
  test('total, change and new downloads; unknown sizes are named', () => {
    const before = [entry('python', '3.11.4'), entry('zlib', '1.2.13')];
    const after = [entry('python', '3.11.5'), entry('zlib', '1.2.13')];
    const sizes = new Map([
      [entryKey(before[0]), 30_000_000],
      [entryKey(after[0]), 31_500_000],
      [entryKey(after[1]), 100_000],
    ]);
    expect(summarizeSizes({ before, after, sizes })).toEqual({ total: 31_600_000, change: 1_500_000, toDownload: 31_500_000, unknown: [] });
    sizes.delete(entryKey(before[0]));
    expect(summarizeSizes({ before, after, sizes })).toEqual({ total: 31_600_000, change: undefined, toDownload: 31_500_000, unknown: ['python-3.11.4-0'] });
  });

  test('formatBytes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1_500_000, true)).toBe('+1.5 MB');
    expect(formatBytes(-4000, true)).toBe('-4.0 kB');
    expect(formatBytes(0, true)).toBe('0 B');
  });
});

test('lineDiff marks removed, added and kept lines', () => {
  expect(lineDiff('channels:\n  - a\nenv:\n  - python 3.11.*\n', 'channels:\n  - a\nenv:\n  - python 3.12.*\n  - numpy\n')).toEqual([
    ' channels:',
    '   - a',
    ' env:',
    '-  - python 3.11.*',
    '+  - python 3.12.*',
    '+  - numpy',
  ]);
  expect(lineDiff('', 'env:\n')).toEqual(['+env:']);
});

describe('renderManifestChange', () => {
  const before = [entry('numpy', '1.9', 'py_0'), entry('scipy', '2.0.0'), entry('python', '3.11.4', 'h1_0'), entry('zlib', '1.2.13', '0', MAIN), entry('gone', '1.0')];
  const after = [entry('numpy', '1.10', 'py_0'), entry('scipy', '2.0.0rc1'), entry('python', '3.11.4', 'h1_1'), entry('zlib', '1.2.13', '0', CF), entry('new-pkg', '0.1')];
  const sizes = new Map<string, number>([...before, ...after].map((e, i) => [entryKey(e), (i + 1) * 1000]));
  const text = renderManifestChange({
    env: 'default',
    before,
    after,
    sizes,
    specBefore: 'env:\n  - numpy 1.9\n',
    specAfter: 'env:\n  - numpy 1.10\n',
  });

  test('one table per kind, each row with its old and new version', () => {
    expect(text).toContain('5 packages: 1 added, 1 removed, 1 upgraded, 1 downgraded, 1 rebuilt, 1 moved to another channel.');
    expect(text).toMatch(/#### Upgraded\n\n\| Package \| Before \| After \|\n\| --- \| --- \| --- \|\n\| `numpy` \| `1\.9` `py_0` \| `1\.10` `py_0` \|\n/);
    expect(text).toMatch(/#### Downgraded\n\n[^#]*\| `scipy` \| `2\.0\.0` `0` \| `2\.0\.0rc1` `0` \|/);
    expect(text).toMatch(/#### Rebuilt \(same version, other build\)\n\n[^#]*\| `python` \| `3\.11\.4` `h1_0` \| `3\.11\.4` `h1_1` \|/);
    expect(text).toContain(`| \`zlib\` | \`1.2.13\` | \`0\` | \`${MAIN}/linux-64\` | \`${CF}/linux-64\` |`);
    expect(text).toMatch(/#### Added\n\n[^#]*\| `new-pkg` \| `0\.1` \| `0` \|/);
    expect(text).toMatch(/#### Removed\n\n[^#]*\| `gone` \| `1\.0` \| `0` \|/);
  });

  test('sizes and the env.spec diff', () => {
    // before: 1+2+3+4+5 kB = 15 kB; after: 6+7+8+9+10 kB = 40 kB; every after package is a new file.
    expect(text).toContain('| Whole environment | 40.0 kB |');
    expect(text).toContain('| Change | +25.0 kB |');
    expect(text).toContain('| New downloads | 40.0 kB |');
    expect(text).toContain('```diff\n env:\n-  - numpy 1.9\n+  - numpy 1.10\n```');
  });

  test('an unchanged env.spec says so; a spec holding backticks cannot break out of its fence', () => {
    const same = renderManifestChange({ env: 'x', before: [], after: [], sizes: new Map(), specBefore: 'a\n', specAfter: 'a\n' });
    expect(same).toContain('env.spec is unchanged.');
    expect(same).toContain('0 packages: no package changes');
    const ticks = renderManifestChange({ env: 'x', before: [], after: [], sizes: new Map(), specAfter: '# ```` oops\n' });
    expect(ticks).toContain('`````diff\n+# ```` oops\n`````');
  });
});

test('a change too long for GitHub keeps the counts, sizes and env.spec diff, not the tables', () => {
  const after = Array.from({ length: 50 }, (_, i) => entry(`pkg${i}`, '1.0'));
  const full = renderManifestChange({ env: 'x', before: [], after, sizes: new Map(), specAfter: 'env:\n' });
  expect(full).toContain('| `pkg49` |');
  const short = renderManifestChange({ env: 'x', before: [], after, sizes: new Map(), specAfter: 'env:\n' }, 1000);
  expect(short).not.toContain('pkg49');
  expect(short).toContain('Size not known for `pkg0-1.0-0`, `pkg1-1.0-0`, ');
  expect(short).toContain(' and 40 more.');
  expect(short).toContain('50 packages: 50 added.');
  expect(short).toContain('too long to show here');
  expect(short).toContain('#### Download size');
  expect(short).toContain('+env:');
});
