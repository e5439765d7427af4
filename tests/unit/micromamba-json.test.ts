import { readFileSync } from 'node:fs';
import type { PackageRecord } from '../../src/conda/types.js';
import { linkRecords, parseDryRunOutput, requestedChannel, solverProblems, toRecord } from '../../src/engines/micromamba-json.js';
import { withoutCredentials } from '../../src/util/secrets.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/micromamba/${name}`, import.meta.url), 'utf8');
const CHANNELS = ['https://conda.anaconda.org/conda-forge', 'https://repo.example.com/private/'];

describe('micromamba dry-run JSON', () => {
  test('LINK entries become the expected records, sorted by name', () => {
    const answer = parseDryRunOutput(fixture('dry-run-linux-64.json'));
    expect(answer?.success).toBe(true);
    const expected = JSON.parse(fixture('expected-records.json')) as PackageRecord[];
    expect(linkRecords(answer!, CHANNELS)).toEqual(expected);
  });

  test('credentials micromamba put into a url never reach a record', () => {
    const records = linkRecords(parseDryRunOutput(fixture('dry-run-linux-64.json'))!, CHANNELS);
    const text = JSON.stringify(records);
    expect(text).not.toContain('s3cr3t');
    expect(text).not.toContain('gitenv-user');
    const site = records.find((r) => r.name === 'site-config')!;
    expect(site.channel).toBe('https://repo.example.com/private');
    expect(site.url).toBe('https://repo.example.com/private/noarch/site-config-1.0-pyh_0.conda');
    expect(site.noarch).toBe('python');
  });

  test('log lines before the JSON object are tolerated; no JSON gives undefined', () => {
    const answer = parseDryRunOutput(`warning  libmamba something\n${fixture('dry-run-unsolvable.json')}`);
    expect(answer?.success).toBe(false);
    expect(solverProblems(answer!)).toEqual(['nothing provides requested nonexistent-package']);
    expect(parseDryRunOutput('critical libmamba Could not solve')).toBeUndefined();
  });

  test('virtual packages in LINK are left out', () => {
    const answer = {
      actions: {
        LINK: [{ name: '__glibc', version: '2.28', build_string: '0', subdir: 'linux-64', url: '@/linux-64/__glibc' }],
      },
    };
    expect(linkRecords(answer, CHANNELS)).toEqual([]);
  });

  test('an entry without url (pre-2.x shape) is refused naming the package', () => {
    expect(() => toRecord({ name: 'zlib', version: '1.3.1', subdir: 'linux-64' }, CHANNELS)).toThrow(/zlib: .*micromamba 2\.x/);
  });
});

describe('channel URLs', () => {
  test('user:password and conda tokens are stripped', () => {
    expect(withoutCredentials('https://u:p@host.example/ch/linux-64/a.conda')).toBe('https://host.example/ch/linux-64/a.conda');
    expect(withoutCredentials('https://host.example/t/tk-123/ch/noarch/a.conda')).toBe('https://host.example/ch/noarch/a.conda');
    expect(withoutCredentials('file:///data/my chan/linux-64/a.conda')).toBe('file:///data/my chan/linux-64/a.conda');
  });

  test('the requested spelling wins, without trailing slash; encoded paths match', () => {
    expect(requestedChannel('https://repo.example.com/private', CHANNELS)).toBe('https://repo.example.com/private');
    expect(requestedChannel('file:///data/my%20chan', ['file:///data/my chan'])).toBe('file:///data/my chan');
    expect(requestedChannel('https://other.example/x', CHANNELS)).toBe('https://other.example/x');
  });
});
