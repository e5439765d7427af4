import { recordProblem } from '../../src/conda/record-check.js';
import type { PackageRecord } from '../../src/conda/types.js';

const CHANNEL = 'https://conda.anaconda.org/conda-forge';

function record(name: string, version: string, build: string, subdir = 'linux-64', over: Partial<PackageRecord> = {}): PackageRecord {
  const fn = `${name}-${version}-${build}.conda`;
  return { name, version, build, buildNumber: 0, subdir, channel: CHANNEL, fn, url: `${CHANNEL}/${subdir}/${fn}`, depends: [], constrains: [], ...over };
}

test.each([
  ['_libgcc_mutex', '0.1', 'conda_forge'],
  ['python', '3.12.1', 'hab00c5b_0_cpython'],
  ['python_abi', '3.12', '4_cp312'],
  ['font-ttf-dejavu-sans-mono', '2.37', 'hab24e00_0'],
  ['tzdata', '2024a', 'h0c530f3_0'],
  ['pytorch', '2.1.0', 'py3.10_cuda11.8_cudnn8.7.0_0'],
  ['foo', '1!2.0.post1+local.1', 'pyhd8ed1ab_0'],
  ['numpy', '2.0.0rc1', 'py312h1234567_0'],
])('a real-world record is accepted: %s %s %s', (name, version, build) => {
  expect(recordProblem(record(name, version, build), [CHANNEL])).toBeUndefined();
  expect(recordProblem(record(name, version, build, 'noarch'), [CHANNEL])).toBeUndefined();
});

test.each([
  ['a newline in the build', record('tool', '1.0', '0\nforged'), 'build "0\\nforged" of tool is not a conda build string'],
  ['a dash in the version', record('tool', '1.0-1', '0'), 'is not a conda version'],
  ['a slash in the name', record('a/b', '1.0', '0'), 'is not a conda package name'],
  ['a traversing subdir', record('tool', '1.0', '0', 'linux-64', { subdir: '../../etc' }), 'subdir "../../etc" of tool'],
  ['a file name of another package', record('tool', '1.0', '0', 'linux-64', { fn: 'other-1.0-0.conda' }), 'is not tool-1.0-0.conda'],
  ['a URL not ending in subdir/fn', record('tool', '1.0', '0', 'linux-64', { url: `${CHANNEL}/flat/tool-1.0-0.conda` }), 'is not <channel>/linux-64/tool-1.0-0.conda'],
  ['a URL on another host', record('tool', '1.0', '0', 'linux-64', { url: 'https://elsewhere.example/x/linux-64/tool-1.0-0.conda' }), 'would be downloaded from https://elsewhere.example'],
])('refused: %s', (_what, r, message) => {
  expect(recordProblem(r, [CHANNEL])).toContain(message);
});

test('a URL on the channel host under another path (a same-host base_url) is accepted', () => {
  const r = record('tool', '1.0', '0', 'linux-64', { url: 'https://conda.anaconda.org/mirror/linux-64/tool-1.0-0.conda' });
  expect(recordProblem(r, [CHANNEL])).toBeUndefined();
});
