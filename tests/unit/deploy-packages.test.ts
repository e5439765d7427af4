/**
 * What a deploy reads of a tag's env.spec (src/deploy/packages.ts): channels for the credentials,
 * requested specs for conda-meta, smoke tests. Versions are left to the solver there ('unchecked':
 * the deploy action carries no solver), so a version rattler would refuse changes nothing of it.
 */
import type { PackageRecord } from '../../src/conda/types.js';
import { packagesOfTag, trustedChannels, type TagFileReader } from '../../src/deploy/packages.js';
import type { SelectedPrefix } from '../../src/deploy/selection.js';
import { historyEntry } from '../../src/installer/conda-meta.js';
import { formatLock } from '../../src/manifest/lock.js';
import { MemoryLogger } from '../../src/util/logger.js';

const CH = 'https://conda.example.org/site';
const rec = (name: string): PackageRecord => {
  const fn = `${name}-1.0-h0_0.conda`;
  return { name, version: '1.0', build: 'h0_0', buildNumber: 0, subdir: 'linux-64', channel: CH, fn, url: `${CH}/linux-64/${fn}`, depends: [], constrains: [], sha256: 'a'.repeat(64) };
};

/** A repository of files by `<rev>:<path>`. */
function reader(files: Record<string, string>): TagFileReader {
  return { readFiles: (requests) => Promise.resolve(requests.map((r) => (files[`${r.rev}:${r.path}`] === undefined ? undefined : Buffer.from(files[`${r.rev}:${r.path}`])))) };
}

const selected: SelectedPrefix = { env: 'ocean', tag: 'env-ocean-2026_01_01', deployedName: '2026_01_01', commit: 'c1', labels: [] };
const lock = formatLock([rec('numpy'), rec('python')], { platform: 'linux-64', env: 'ocean' });

test.each([
  ['versions the solver would read', 'numpy >=2'],
  ['a version rattler refuses', 'numpy >>2'],
])('env.spec with %s: its channels get the credentials, its specs become the requested ones', async (_, numpy) => {
  const spec = `channels:\n  - ${CH}\n  - conda-forge\nenv:\n  - ${numpy}\n  - python 3.12.*\ntests:\n  - python -V\n`;
  const repo = reader({ 'b1:env.spec': spec, 'c1:env.spec': spec, 'c1:env.lock': lock });
  const logger = new MemoryLogger();
  expect(await trustedChannels(repo, 'b1', 'ocean', undefined, logger)).toEqual([CH, 'https://conda.anaconda.org/conda-forge']);
  const tag = await packagesOfTag(repo, selected, { fetch: () => Promise.reject(new Error('no network')), logger, platform: 'linux-64' });
  expect(tag.packages.map((p) => p.dist)).toEqual(['numpy-1.0-h0_0', 'python-1.0-h0_0']);
  expect(tag.specs).toEqual([numpy, 'python 3.12.*']);
  expect(tag.tests).toEqual(['python -V']);
  expect(logger.lines('warning')).toEqual([]);
});

test('an env.spec that is not one (a bad channel, broken YAML) gives no credentials, with a warning, and no requested specs', async () => {
  for (const spec of ['channels: [../up]\nenv: [numpy]\n', 'channels: [\n']) {
    const repo = reader({ 'b1:env.spec': spec, 'c1:env.spec': spec, 'c1:env.lock': lock });
    const logger = new MemoryLogger();
    expect(await trustedChannels(repo, 'b1', 'ocean', undefined, logger)).toEqual([]);
    expect(logger.lines('warning')).toEqual([expect.stringContaining('ocean: the env.spec of its branch cannot be read')]);
    const tag = await packagesOfTag(repo, selected, { fetch: () => Promise.reject(new Error('no network')), logger, platform: 'linux-64' });
    expect(tag.specs).toEqual([]);
    expect(tag.packages).toHaveLength(2);
  }
});

test('a hostile version, left unchecked, stays data: shell characters kept as text, a line break refused', async () => {
  const read = (version: string) =>
    packagesOfTag(reader({ 'c1:env.spec': `channels: [${CH}]\nenv:\n  - ${JSON.stringify(`numpy ${version}`)}\n`, 'c1:env.lock': lock }), selected, {
      fetch: () => Promise.reject(new Error('no network')),
      logger: new MemoryLogger(),
      platform: 'linux-64',
    });
  const shell = '>=1$(touch${IFS}/tmp/x)`id`;|&"\'';
  const tag = await read(shell);
  expect(tag.specs).toEqual([`numpy ${shell}`]);
  // It reaches the prefix only as JSON: conda-meta's records and one line of its history.
  const history = historyEntry(tag.packages, tag.specs, new Date(0), 'gitenv deploy');
  expect(history.split('\n').filter((l) => l.startsWith('# update specs:'))).toEqual([`# update specs: ${JSON.stringify([`numpy ${shell}`])}`]);
  // White space splits a spec: a line break cannot stay inside a version to forge a history line.
  expect((await read('>=1\n# cmd: forged')).specs).toEqual([]);
});
