/**
 * The loopback channel server: auth, revalidation, ranges, the request log, every fault it can inject,
 * its bounds, and rattler solving against the seed channel it serves.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { simpleSolve } from '@conda-org/rattler';
import { buildSeedChannel, serveChannel, type BuiltChannel, type BuiltPackage, type ChannelServer } from '../fixtures/channel/index.js';

let tmp: string;
let channel: BuiltChannel;
let server: ChannelServer;
const auth = { user: 'alice', password: 's3cret-key' };
const authHeader = { Authorization: 'Basic ' + Buffer.from(`${auth.user}:${auth.password}`).toString('base64') };

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'channel-server-'));
  channel = await buildSeedChannel(path.join(tmp, 'seed'));
  server = await serveChannel(tmp, { auth, stallMs: 20_000 });
});
afterAll(async () => {
  await server.close();
  await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  server.setFault(null);
  server.clearRequests();
});

const pkg = (name: string): BuiltPackage => channel.packages.find((p) => p.record.name === name)!;
const urlOf = (p: BuiltPackage) => `${server.url}/seed/${p.subdir}/${p.fn}`;
const get = (url: string, headers: Record<string, string> = {}, signal?: AbortSignal) => fetch(url, { headers: { ...authHeader, ...headers }, signal });
const sha256 = (data: ArrayBuffer) => createHash('sha256').update(Buffer.from(data)).digest('hex');

describe('serving', () => {
  test('listens on 127.0.0.1 and serves the archives byte for byte', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const python = pkg('python');
    const res = await get(urlOf(python));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(python.size));
    expect(sha256(await res.arrayBuffer())).toBe(python.sha256);
  });

  test('without credentials: 401 with a Basic challenge; wrong ones too', async () => {
    const none = await fetch(`${server.url}/seed/linux-64/repodata.json`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic /);
    const wrong = await fetch(`${server.url}/seed/linux-64/repodata.json`, { headers: { Authorization: 'Basic ' + Buffer.from('alice:nope').toString('base64') } });
    expect(wrong.status).toBe(401);
  });

  test('the request log records method, path, headers, status and bytes', async () => {
    await (await get(`${server.url}/seed/noarch/repodata.json`, { 'User-Agent': 'fixture-test' })).arrayBuffer();
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({ method: 'GET', path: '/seed/noarch/repodata.json', status: 200 });
    expect(server.requests[0].headers).toMatchObject({ authorization: authHeader.Authorization, 'user-agent': 'fixture-test' });
    expect(server.requests[0].bytes).toBeGreaterThan(0);
  });

  test('ETag and Last-Modified revalidate to 304; a changed file gets a new ETag', async () => {
    const url = `${server.url}/seed/linux-64/repodata.json`;
    const first = await get(url);
    const etag = first.headers.get('etag')!;
    const lastModified = first.headers.get('last-modified')!;
    await first.arrayBuffer();
    expect((await get(url, { 'If-None-Match': etag })).status).toBe(304);
    expect((await get(url, { 'If-Modified-Since': lastModified })).status).toBe(304);
    expect(server.requests.slice(1).map((r) => r.bytes)).toEqual([0, 0]);

    const dir = path.join(tmp, 'growing');
    await buildSeedChannel(dir);
    const growing = `${server.url}/growing/linux-64/repodata.json`;
    const before = await get(growing);
    const oldTag = before.headers.get('etag')!;
    await before.arrayBuffer();
    await buildSeedChannel(dir, { newerPython: true });
    const after = await get(growing, { 'If-None-Match': oldTag });
    expect(after.status).toBe(200);
    expect(after.headers.get('etag')).not.toBe(oldTag);
    expect(Object.keys(((await after.json()) as { 'packages.conda': object })['packages.conda'])).toContain('python-3.11.5-0.conda');
  });

  test('a byte range gets a 206 with the rest of the file', async () => {
    const python = pkg('python');
    const res = await get(urlOf(python), { Range: 'bytes=100-' });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 100-${python.size - 1}/${python.size}`);
    expect((await res.arrayBuffer()).byteLength).toBe(python.size - 100);
  });

  test('a missing file is a 404 and a path that climbs out of the directory finds nothing', async () => {
    expect((await get(`${server.url}/seed/linux-64/nope-1-0.conda`)).status).toBe(404);
    expect((await get(`${server.url}/seed/%2e%2e/%2e%2e/%2e%2e/etc/passwd`)).status).toBe(404);
  });
});

describe('faults', () => {
  test('status faults: 500 twice, then the file; 429 carries Retry-After', async () => {
    const numpy = pkg('numpy');
    server.setFault({ match: numpy.fn, times: 2, fault: { type: 'status', status: 500 } });
    expect((await get(urlOf(numpy))).status).toBe(500);
    expect((await get(urlOf(numpy))).status).toBe(500);
    const ok = await get(urlOf(numpy));
    expect(ok.status).toBe(200);
    expect(sha256(await ok.arrayBuffer())).toBe(numpy.sha256);
    server.setFault({ fault: { type: 'status', status: 429, headers: { 'Retry-After': '2' } } });
    const limited = await get(urlOf(numpy));
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '2']);
    expect(server.requests.map((r) => [r.status, r.fault])).toEqual([
      [500, 'status'],
      [500, 'status'],
      [200, undefined],
      [429, 'status'],
    ]);
  });

  test('only matching requests get a fault: substring, RegExp, predicate', async () => {
    server.setFault({ match: /\.tar\.bz2$/, fault: { type: 'status', status: 503 } });
    server.addFault({ match: (r) => r.path.endsWith('repodata.json') && r.path.includes('noarch'), fault: { type: 'status', status: 502 } });
    expect((await get(`${server.url}/seed/linux-64/zlib-1.2.13-0.tar.bz2`)).status).toBe(503);
    expect((await get(`${server.url}/seed/noarch/repodata.json`)).status).toBe(502);
    expect((await get(`${server.url}/seed/linux-64/repodata.json`)).status).toBe(200);
  });

  test('reset mid-body: the client sees the connection fail after part of the body', async () => {
    const python = pkg('python');
    server.setFault({ type: 'reset', afterBytes: 1000 });
    const res = await get(urlOf(python));
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
    expect(server.requests[0]).toMatchObject({ fault: 'reset', bytes: 1000 });
  });

  test('truncated body: promised whole then cut, or honestly short', async () => {
    const python = pkg('python');
    server.setFault({ type: 'truncate', bytes: 500 });
    await expect((await get(urlOf(python))).arrayBuffer()).rejects.toThrow();
    server.setFault({ type: 'truncate', bytes: 500, honestLength: true });
    const short = await get(urlOf(python));
    expect((await short.arrayBuffer()).byteLength).toBe(500);
  });

  test('wrong bytes: same length, another hash', async () => {
    const python = pkg('python');
    server.setFault({ type: 'corrupt' });
    const body = await (await get(urlOf(python))).arrayBuffer();
    expect(body.byteLength).toBe(python.size);
    expect(sha256(body)).not.toBe(python.sha256);
  });

  test('a stall outlasts the client timeout and close() still ends at once', async () => {
    server.setFault({ type: 'stall', afterBytes: 10 });
    const res = await get(urlOf(pkg('python')), {}, AbortSignal.timeout(300));
    await expect(res.arrayBuffer()).rejects.toThrow();
    expect(server.requests[0]).toMatchObject({ fault: 'stall', bytes: 10 });
  });
});

describe('bounds', () => {
  test('after maxRequests everything is a 503', async () => {
    const small = await serveChannel(tmp, { maxRequests: 2 });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await fetch(`${small.url}/seed/noarch/repodata.json`)).status);
      expect(statuses).toEqual([200, 200, 503, 503]);
    } finally {
      await small.close();
    }
  });

  test('the server stops by itself at the end of its lifetime', async () => {
    const brief = await serveChannel(tmp, { lifetimeMs: 50 });
    await brief.closed;
    await expect(fetch(`${brief.url}/seed/noarch/repodata.json`)).rejects.toThrow();
  });
});

test('rattler solves the walk-through specs against the served seed channel', async () => {
  const open = await serveChannel(path.join(tmp, 'seed'));
  try {
    const glibc = { packageName: '__glibc', version: '2.28', build: '0', buildNumber: 0n, subdir: 'linux-64', url: 'virtual://__glibc', filename: '__glibc', repoName: 'virtual' };
    const solved = await simpleSolve(['python 2.*', 'numpy', 'pyhello'], [open.url], ['linux-64', 'noarch'], [glibc]);
    const names = solved
      .filter((p) => p.repoName !== 'virtual')
      .map((p) => `${p.packageName}-${p.version}-${p.build}`)
      .sort();
    for (const p of solved) p.free();
    expect(names).toEqual(['numpy-1.16.6-py27_0', 'openssl-1.1.1w-0', 'pyhello-1.0.0-py_0', 'python-2.7.18-0', 'zlib-1.2.13-0']);
  } finally {
    await open.close();
  }
});
