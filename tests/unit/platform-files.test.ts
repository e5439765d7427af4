import { isKnownPlatform, machinePlatform } from '../../src/conda/platforms.js';
import { diffManifests, platformCommitMessage } from '../../src/manifest/diff.js';
import { formatLock } from '../../src/manifest/lock.js';
import { isManifestFile, platformFileNames, platformOfFileName, platformsOfTree } from '../../src/manifest/platform-files.js';
import { resolveSummary } from '../../src/manifest/summary.js';

const C = 'https://conda.example.org/c';

test('file names: one platform keeps env.manifest and env.lock; several get env.<platform>.*', () => {
  expect(platformFileNames('osx-arm64', false)).toEqual({ manifest: 'env.manifest', lock: 'env.lock' });
  expect(platformFileNames('osx-arm64', true)).toEqual({ manifest: 'env.osx-arm64.manifest', lock: 'env.osx-arm64.lock' });
  expect(platformOfFileName('env.linux-aarch64.lock')).toEqual({ platform: 'linux-aarch64', kind: 'lock' });
  // Only known platforms: anything else on a manifest branch is not gitenv's.
  expect(platformOfFileName('env.linux-arm64.lock')).toBeUndefined();
  expect(platformOfFileName('env.noarch.manifest')).toBeUndefined();
  expect(platformOfFileName('../env.linux-64.lock')).toBeUndefined();
  expect(['env.lock', 'env.manifest', 'env.win-64.manifest', 'env.spec', 'README.md'].map(isManifestFile)).toEqual([true, true, true, false, false]);
  expect(isKnownPlatform('linux-64') && !isKnownPlatform('noarch')).toBe(true);
});

test("the platforms of a tree: the single layout by its lock's # platform:, then the per-platform files", () => {
  const lock = formatLock([], { platform: 'linux-aarch64', env: 'e' });
  expect(platformsOfTree(['env.lock', 'env.manifest', 'env.spec'], lock, 'linux-64')).toEqual([{ platform: 'linux-aarch64', names: { manifest: 'env.manifest', lock: 'env.lock' } }]);
  expect(platformsOfTree(['env.manifest', 'env.spec'], undefined, 'linux-64').map((p) => p.platform)).toEqual(['linux-64']);
  expect(platformsOfTree(['env.spec', 'env.osx-arm64.lock', 'env.linux-64.manifest', 'env.linux-64.lock', 'env.osx-arm64.manifest'], undefined, 'x').map((p) => p.platform)).toEqual([
    'linux-64',
    'osx-arm64',
  ]);
  expect(platformsOfTree(['env.spec'], undefined, 'x')).toEqual([]);
});

test("machine platforms from Node's names", () => {
  expect(machinePlatform('linux', 'x64')).toBe('linux-64');
  expect(machinePlatform('linux', 'arm64')).toBe('linux-aarch64');
  expect(machinePlatform('darwin', 'arm64')).toBe('osx-arm64');
  expect(machinePlatform('win32', 'arm64')).toBe('win-arm64');
  expect(machinePlatform('freebsd', 'x64')).toBeUndefined();
  expect(machinePlatform('linux', 'mips')).toBeUndefined();
});

test('the commit message of several platforms names only the platforms that changed', () => {
  const unchanged = diffManifests(`${C}/linux-64\ta-1-0\n`, `${C}/linux-64\ta-1-0\n`);
  const changed = diffManifests(`${C}/osx-arm64\ta-1-0\n`, `${C}/osx-arm64\ta-2-0\n${C}/noarch\tb-1-0\n`);
  expect(
    platformCommitMessage('default', [
      { platform: 'linux-64', diff: unchanged },
      { platform: 'osx-arm64', diff: changed },
    ]),
  ).toBe('Manifest update for default\n\nosx-arm64:\n~ a 1 0 -> 2 0\n+ b 1 0\n');
  expect(platformCommitMessage('default', [{ platform: 'linux-64', diff: unchanged }], 'Updated env.spec')).toBe('Manifest update for default\n\nUpdated env.spec\n');
});

test('the resolve summary: a row per platform, and the diff grouped by platform', () => {
  const same = diffManifests(`${C}/linux-64\ta-1-0\n`, `${C}/linux-64\ta-1-0\n`);
  const changed = diffManifests(`${C}/osx-arm64\ta-1-0\n`, `${C}/osx-arm64\ta-2-0\n`);
  const summary = resolveSummary(
    [
      {
        env: 'default',
        status: 'changed',
        packages: 1,
        diff: changed,
        platforms: [
          { platform: 'linux-64', records: [{}], diff: same, changed: false },
          { platform: 'osx-arm64', records: [{}], diff: changed, changed: true },
        ],
      },
    ],
    { dryRun: false },
  );
  expect(summary).toContain('| `default` (`linux-64`) | 1 | 0 | 0 | 0 | unchanged |');
  expect(summary).toContain('| `default` (`osx-arm64`) | 1 | 0 | 0 | 1 | pushed |');
  expect(summary).toContain('```diff\n# osx-arm64\n~ a 1 0 -> 2 0\n```');
  expect(summary).not.toContain('# linux-64');
});
