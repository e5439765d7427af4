import { mirroredChannel } from '../../src/conda/mirror.js';
import { lockFromManifest } from '../../src/manifest/old-manifest.js';
import { parseManifest } from '../../src/manifest/manifest.js';

const CH = 'https://conda.example.org/scitools';
const OTHER = 'https://conda.example.org/conda-forge';

const repodata: Record<string, unknown> = {
  [`${CH}/linux-64/repodata.json`]: {
    packages: {
      'python-3.6.0-0.tar.bz2': { name: 'python', depends: ['openssl 1.0.*', 'zlib'], sha256: 'a'.repeat(64), size: 10 },
      'zlib-1.2.8-3.tar.bz2': { name: 'zlib', depends: [], md5: 'b'.repeat(32) },
    },
    'packages.conda': {
      'zlib-1.2.8-3.conda': { name: 'zlib', depends: [], sha256: 'f'.repeat(64) },
      'iris-2.0-py36_0.conda': { name: 'iris', depends: ['python 3.6.*'], sha256: 'c'.repeat(64) },
    },
  },
  [`${OTHER}/linux-64/repodata.json`]: {
    packages: { 'openssl-1.0.2k-0.tar.bz2': { name: 'openssl', depends: [], sha256: 'd'.repeat(64) } },
  },
};

function channelFetch(requested: string[], prefix = '') {
  return async (input: string | URL | Request): Promise<Response> => {
    const url = String(input);
    requested.push(url);
    const body = repodata[url.replace(prefix, '')];
    return body ? new Response(JSON.stringify(body)) : new Response('missing', { status: 404 });
  };
}

// The old tool's manifest: runs of spaces, trailing slashes, sorted by name (not dependency order).
const manifest = parseManifest([`${CH}/linux-64/   iris-2.0-py36_0`, `${OTHER}/linux-64/    openssl-1.0.2k-0`, `${CH}/linux-64/   python-3.6.0-0`, `${CH}/linux-64/   zlib-1.2.8-3`].join('\n') + '\n');

test('an old manifest becomes locked packages with hashes, dependencies first, each repodata read once', async () => {
  const requested: string[] = [];
  const pkgs = await lockFromManifest(manifest, { fetch: channelFetch(requested) });
  expect(pkgs.map((p) => p.fn)).toEqual(['openssl-1.0.2k-0.tar.bz2', 'zlib-1.2.8-3.tar.bz2', 'python-3.6.0-0.tar.bz2', 'iris-2.0-py36_0.conda']);
  expect(pkgs[2]).toEqual({
    url: `${CH}/linux-64/python-3.6.0-0.tar.bz2`,
    channel: CH,
    subdir: 'linux-64',
    fn: 'python-3.6.0-0.tar.bz2',
    dist: 'python-3.6.0-0',
    sha256: 'a'.repeat(64),
    size: 10,
    // The channel's record, for conda-meta's depends and constrains.
    record: { depends: ['openssl 1.0.*', 'zlib'], constrains: [] },
  });
  expect(pkgs[1].md5).toBe('b'.repeat(32));
  expect(requested.sort()).toEqual([`${OTHER}/linux-64/repodata.json`, `${CH}/linux-64/repodata.json`]);
});

test('a dist gone from its channel is looked up in the env.spec channels, else fails naming it', async () => {
  const moved = parseManifest(`https://gone.example.org/old/linux-64 openssl-1.0.2k-0\n`);
  const pkgs = await lockFromManifest(moved, { fetch: channelFetch([]), specChannels: [CH, OTHER] });
  expect(pkgs[0].url).toBe(`${OTHER}/linux-64/openssl-1.0.2k-0.tar.bz2`);
  await expect(lockFromManifest(moved, { fetch: channelFetch([]) })).rejects.toThrow(/^openssl: openssl-1.0.2k-0 is no longer available in https:\/\/gone.example.org\/old\/linux-64/);
});

test("with a mirror the repodata is read from the mirror, the URLs stay the channel's", async () => {
  const requested: string[] = [];
  const mirror = 'http://mirror.local/conda';
  const fetch = async (input: string | URL | Request): Promise<Response> => {
    const url = String(input);
    requested.push(url);
    const original = url.replace(`${mirror}/scitools`, CH).replace(`${mirror}/conda-forge`, OTHER);
    const body = repodata[original];
    return body ? new Response(JSON.stringify(body)) : new Response('missing', { status: 404 });
  };
  const pkgs = await lockFromManifest(manifest, { fetch, mirror });
  expect(requested.every((u) => u.startsWith(mirror))).toBe(true);
  expect(pkgs.every((p) => p.url.startsWith('https://conda.example.org/'))).toBe(true);
  expect(mirroredChannel('https://conda.anaconda.org/conda-forge/', 'http://m/')).toBe('http://m/conda-forge');
});

test('a server error is an HttpError with the URL', async () => {
  const fetch = async (): Promise<Response> => new Response('boom', { status: 503 });
  await expect(lockFromManifest(manifest, { fetch })).rejects.toThrow(/repodata.json: HTTP 503/);
});
