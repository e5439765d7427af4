import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FetchWrapper } from '../../src/net/fetch-wrapper.js';
import { MemoryLogger } from '../../src/util/logger.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
interface Server {
  url: string;
  requests: http.IncomingMessage[];
  close: () => Promise<void>;
}

async function serve(handler: Handler): Promise<Server> {
  const requests: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const FAST = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };
const REPODATA = JSON.stringify({ info: { subdir: 'linux-64' }, packages: {}, 'packages.conda': {} });
let tmp: string;

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-fetch-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

test('file:// URLs and absolute paths are read from disk; missing files are 404', async () => {
  await fs.mkdir(path.join(tmp, 'my chan', 'noarch'), { recursive: true });
  const file = path.join(tmp, 'my chan', 'noarch', 'repodata.json');
  await fs.writeFile(file, REPODATA);
  const w = new FetchWrapper();
  const byUrl = await w.fetch(pathToFileURL(file).href);
  expect(byUrl.status).toBe(200);
  expect(await byUrl.text()).toBe(REPODATA);
  expect((await w.fetch(file)).status).toBe(200);
  expect((await w.fetch(path.join(tmp, 'nope.json'))).status).toBe(404);
  expect(w.stats.bytesFromDisk).toBe(2 * REPODATA.length);
  expect(w.stats.requests).toBe(0);
});

test('a local channel gets a synthetic http URL served from disk, mapped back by realUrl', async () => {
  const chan = path.join(tmp, 'local chan');
  await fs.mkdir(path.join(chan, 'linux-64'), { recursive: true });
  await fs.writeFile(path.join(chan, 'linux-64', 'repodata.json'), REPODATA);
  const channelUrl = pathToFileURL(chan).href;
  const w = new FetchWrapper();
  const synthetic = w.solverUrl(channelUrl);
  expect(synthetic).toMatch(/^http:\/\//);
  expect(w.solverUrl(channelUrl)).toBe(synthetic);
  const req = new Request(`${synthetic}/linux-64/repodata.json`);
  const r = await w.fetch(req);
  expect(r.status).toBe(200);
  expect(r.url).toBe(`${synthetic}/linux-64/repodata.json`);
  expect(await r.text()).toBe(REPODATA);
  for (const lacking of ['repodata_shards.msgpack.zst', 'repodata.json.zst', 'repodata.json.bz2']) {
    expect((await w.fetch(`${synthetic}/linux-64/${lacking}`)).status).toBe(404);
  }
  expect((await w.fetch(`${synthetic}/noarch/repodata.json`)).status).toBe(404);
  expect(w.failures).toEqual([{ url: `${channelUrl}/noarch/repodata.json`, status: 404, message: 'not found (404)' }]);
  expect(w.realUrl(`${synthetic}/linux-64/a-1-0.conda`)).toBe(`${channelUrl}/linux-64/a-1-0.conda`);
  expect(w.realUrl(`could not find subdir 'noarch' in channel '${synthetic}/'`)).toBe(`could not find subdir 'noarch' in channel '${channelUrl}/'`);
});

test('credentials go as basic auth to channel hosts only, never into the cache', async () => {
  const channel = await serve((req, res) => {
    res.writeHead(200, { etag: '"v1"' });
    res.end(REPODATA);
  });
  const other = await serve((_req, res) => res.end('ok'));
  try {
    const logger = new MemoryLogger();
    const w = new FetchWrapper({ apiUser: 'alice', apiKey: 'k3y-s3cret', channels: [`${channel.url}/chan`], cacheDir: path.join(tmp, 'cache'), logger });
    expect((await w.fetch(`${channel.url}/chan/linux-64/repodata.json`)).status).toBe(200);
    await (await w.fetch(`${other.url}/elsewhere`)).text();
    const expected = 'Basic ' + Buffer.from('alice:k3y-s3cret').toString('base64');
    expect(channel.requests[0].headers.authorization).toBe(expected);
    expect(other.requests[0].headers.authorization).toBeUndefined();
    for (const f of await fs.readdir(path.join(tmp, 'cache'))) {
      const text = await fs.readFile(path.join(tmp, 'cache', f), 'utf8');
      expect(text).not.toContain('k3y-s3cret');
      expect(text).not.toContain(Buffer.from('alice:k3y-s3cret').toString('base64'));
    }
    logger.info(`header was ${expected}`);
    expect(logger.text()).not.toContain('k3y-s3cret');
    expect(logger.text()).not.toContain(expected.slice(6));
  } finally {
    await channel.close();
    await other.close();
  }
});

test('an unchanged repodata costs a 304 and comes from the cache (ETag and Last-Modified)', async () => {
  let version = 'v1';
  const big = JSON.stringify({ info: { subdir: 'linux-64' }, packages: {}, 'packages.conda': {}, pad: 'x'.repeat(50_000) });
  const server = await serve((req, res) => {
    if (req.url?.endsWith('/lm/repodata.json')) {
      const lm = 'Wed, 21 Oct 2015 07:28:00 GMT';
      if (req.headers['if-modified-since'] === lm) return void res.writeHead(304).end();
      res.writeHead(200, { 'last-modified': lm });
      return void res.end(big);
    }
    if (req.headers['if-none-match'] === `"${version}"`) return void res.writeHead(304).end();
    res.writeHead(200, { etag: `"${version}"` });
    res.end(big + version);
  });
  try {
    const cacheDir = path.join(tmp, 'cache');
    const first = new FetchWrapper({ cacheDir });
    expect(await (await first.fetch(`${server.url}/c/linux-64/repodata.json`)).text()).toBe(big + 'v1');
    expect(await (await first.fetch(`${server.url}/lm/repodata.json`)).text()).toBe(big);
    expect(first.stats.bytesFetched).toBe(2 * big.length + 2);

    const second = new FetchWrapper({ cacheDir });
    const r = await second.fetch(`${server.url}/c/linux-64/repodata.json`);
    expect(r.status).toBe(200);
    expect(r.url).toBe(`${server.url}/c/linux-64/repodata.json`);
    expect(await r.text()).toBe(big + 'v1');
    expect(await (await second.fetch(`${server.url}/lm/repodata.json`)).text()).toBe(big);
    expect(second.stats.notModified).toBe(2);
    expect(second.stats.bytesFetched).toBe(0);

    version = 'v2';
    const third = new FetchWrapper({ cacheDir });
    expect(await (await third.fetch(`${server.url}/c/linux-64/repodata.json`)).text()).toBe(big + 'v2');
    expect(third.stats.notModified).toBe(0);
  } finally {
    await server.close();
  }
});

test('network errors, 5xx, 408 and 429 are retried; a lasting 500 is returned and recorded', async () => {
  let n = 0;
  const server = await serve((req, res) => {
    n++;
    if (req.url === '/flaky' && n === 1) return void req.socket.destroy();
    if (req.url === '/flaky' && n === 2) return void res.writeHead(503).end();
    if (req.url === '/flaky' && n === 3) return void res.writeHead(429, { 'retry-after': '0' }).end();
    if (req.url === '/flaky' && n === 4) return void res.writeHead(408).end();
    if (req.url === '/broken') return void res.writeHead(500).end('boom');
    if (req.url === '/missing') return void res.writeHead(404).end();
    res.end('fine');
  });
  try {
    const w = new FetchWrapper({ retry: { ...FAST, attempts: 5 } });
    const ok = await w.fetch(`${server.url}/flaky`);
    expect(await ok.text()).toBe('fine');
    expect(w.stats.requests).toBe(5);
    const broken = await w.fetch(`${server.url}/broken`);
    expect(broken.status).toBe(500);
    expect(w.failures).toEqual([{ url: `${server.url}/broken`, status: 500, message: 'HTTP 500' }]);
    const missing = await w.fetch(`${server.url}/missing`);
    expect(missing.status).toBe(404);
    expect(w.stats.requests).toBe(5 + 5 + 1);
  } finally {
    await server.close();
  }
});

test('otherRetry: downloads are tried once when the caller retries them itself; repodata keeps its retries', async () => {
  let n = 0;
  const server = await serve((req, res) => {
    n++;
    res.writeHead(503).end();
  });
  try {
    const w = new FetchWrapper({ retry: { ...FAST, attempts: 3 }, otherRetry: { ...FAST, attempts: 1 } });
    expect((await w.fetch(`${server.url}/c/linux-64/pkg-1-0.conda`)).status).toBe(503);
    expect(n).toBe(1);
    expect((await w.fetch(`${server.url}/c/linux-64/repodata.json`)).status).toBe(503);
    expect(n).toBe(1 + 3);
  } finally {
    await server.close();
  }
});

test('an unreachable host throws after its retries and is recorded', async () => {
  const server = await serve((_req, res) => res.end());
  const url = server.url;
  await server.close();
  const w = new FetchWrapper({ retry: FAST });
  await expect(w.fetch(`${url}/c/noarch/repodata.json`)).rejects.toThrow();
  expect(w.stats.requests).toBe(3);
  expect(w.failures[0].url).toBe(`${url}/c/noarch/repodata.json`);
  expect(w.failures[0].message).toMatch(/ECONNREFUSED|connect/);
});

test('asGlobal swaps the global fetch for the duration only', async () => {
  const before = globalThis.fetch;
  const w = new FetchWrapper();
  await w.asGlobal(async () => {
    expect(globalThis.fetch).toBe(w.fetch);
  });
  expect(globalThis.fetch).toBe(before);
});

test('one wrapper asks for each repodata URL once: bodies and 404s are reused by later solves', async () => {
  const server = await serve((req, res) => {
    if (req.url?.endsWith('/repodata.json')) return void res.writeHead(200, { etag: '"e"' }).end(REPODATA);
    res.writeHead(404).end('nope');
  });
  try {
    const w = new FetchWrapper({ cacheDir: path.join(tmp, 'cache') });
    const seen: string[] = [];
    const stop = w.onRepodata((url) => seen.push(url));
    for (let i = 0; i < 3; i++) {
      expect((await w.fetch(`${server.url}/c/noarch/repodata.json.zst`)).status).toBe(404);
      expect(await (await w.fetch(`${server.url}/c/noarch/repodata.json`)).text()).toBe(REPODATA);
    }
    stop();
    expect(server.requests).toHaveLength(2);
    expect(w.stats.reused).toBe(4);
    // Every solve's record index hears about the body, reused or not.
    expect(seen).toEqual(Array(3).fill(`${server.url}/c/noarch/repodata.json`));
  } finally {
    await server.close();
  }
});

test('releaseRepodata: the bytes are let go once cached; a later request reads them again from the cache, or from the server when the cache changed', async () => {
  let version = 1;
  const body = (): string => JSON.stringify({ info: { subdir: 'linux-64' }, packages: {}, 'packages.conda': {}, version });
  const server = await serve((req, res) => {
    if (req.url?.endsWith('/repodata.json')) return void res.writeHead(200, { etag: `"v${version}"` }).end(body());
    res.writeHead(404).end('nope');
  });
  try {
    const url = `${server.url}/c/linux-64/repodata.json`;
    const cacheDir = path.join(tmp, 'cache');
    const w = new FetchWrapper({ cacheDir });
    const seen: Uint8Array[] = [];
    w.onRepodata((_url, b) => seen.push(b));
    expect(await (await w.fetch(url)).text()).toBe(body());
    // Not an answer of this run (a 404, an unknown URL): nothing to let go.
    expect(await w.fetch(`${server.url}/c/linux-64/repodata.json.zst`).then((r) => r.status)).toBe(404);
    expect(await w.releaseRepodata(`${server.url}/c/linux-64/repodata.json.zst`)).toBe(false);
    expect(await w.releaseRepodata(`${server.url}/c/osx-64/repodata.json`)).toBe(false);
    expect(await w.releaseRepodata(url)).toBe(true);
    // Read again: the same bytes, from the cache, no request (the run's answer does not change).
    version = 2;
    expect(await (await w.fetch(url)).text()).toBe(JSON.stringify({ info: { subdir: 'linux-64' }, packages: {}, 'packages.conda': {}, version: 1 }));
    expect(server.requests.filter((r) => r.url?.endsWith('/repodata.json'))).toHaveLength(1);
    expect(seen.map((b) => Buffer.from(b).toString())).toEqual(Array(2).fill(JSON.stringify({ info: { subdir: 'linux-64' }, packages: {}, 'packages.conda': {}, version: 1 })));
    // Still let go; the cached body damaged meanwhile (another run, a disk): the server is asked again.
    expect(await w.releaseRepodata(url)).toBe(true);
    for (const f of await fs.readdir(cacheDir)) if (f.endsWith('.body')) await fs.writeFile(path.join(cacheDir, f), body().replace('2', '3'));
    expect(await (await w.fetch(url)).text()).toBe(body());
    expect(server.requests.filter((r) => r.url?.endsWith('/repodata.json'))).toHaveLength(2);
    // Without a cache the bytes are kept.
    const bare = new FetchWrapper();
    expect(await (await bare.fetch(url)).text()).toBe(body());
    expect(await bare.releaseRepodata(url)).toBe(false);
    expect(await (await bare.fetch(url)).text()).toBe(body());
    expect(server.requests.filter((r) => r.url?.endsWith('/repodata.json'))).toHaveLength(3);
  } finally {
    await server.close();
  }
});

test('a cache directory that cannot be written costs nothing but the caching', async () => {
  const server = await serve((_req, res) => res.writeHead(200, { etag: '"x"' }).end(REPODATA));
  try {
    const blocker = path.join(tmp, 'a file');
    await fs.writeFile(blocker, 'not a directory');
    const w = new FetchWrapper({ cacheDir: path.join(blocker, 'cache') });
    expect(await (await w.fetch(`${server.url}/c/noarch/repodata.json`)).text()).toBe(REPODATA);
  } finally {
    await server.close();
  }
});

test('a repodata body comes through whole, read into one buffer when its length is announced, in chunks when not or when it is longer', async () => {
  const big = Buffer.from(JSON.stringify({ info: { subdir: 'linux-64' }, packages: {}, 'packages.conda': {}, pad: 'x'.repeat(300_000) }));
  const chunked = (announce?: number): typeof fetch =>
    (async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            for (let i = 0; i < big.length; i += 65_536) c.enqueue(big.subarray(i, i + 65_536));
            c.close();
          },
        }),
        { status: 200, headers: announce === undefined ? {} : { 'content-length': String(announce) } },
      )) as typeof fetch;
  for (const announce of [big.length, undefined, 1000]) {
    const seen: Uint8Array[] = [];
    const fetcher = new FetchWrapper({ retry: FAST, baseFetch: chunked(announce), cacheDir: path.join(tmp, `cache-${announce}`) });
    fetcher.onRepodata((_url, body) => seen.push(body));
    const response = await fetcher.fetch('http://example.invalid/chan/linux-64/repodata.json');
    expect(Buffer.from(await response.arrayBuffer()).equals(big)).toBe(true);
    expect(seen.length).toBe(1);
    expect(Buffer.from(seen[0]).equals(big)).toBe(true);
  }
});

/** A server of `count` shards, each named by the sha256 of its body (`body(i)`); 404 for any other path. */
async function shardServer(count: number, body: (i: number) => string) {
  const { createHash } = await import('node:crypto');
  const bodies = Array.from({ length: count }, (_, i) => Buffer.from(body(i)));
  const names = bodies.map((b) => createHash('sha256').update(b).digest('hex'));
  const server = await serve((req, res) => {
    const i = names.findIndex((n) => req.url?.endsWith(`/${n}.msgpack.zst`));
    if (i < 0) return void res.writeHead(404).end();
    res.end(bodies[i]);
  });
  return { bodies, names, server };
}

test('shards: verified against their names, written to the cache in the background, read back by the next run; a torn file is a miss', async () => {
  const { bodies, names, server } = await shardServer(40, (i) => `shard ${i} `.repeat(100));
  try {
    const cacheDir = path.join(tmp, 'cache');
    const url = (i: number): string => `${server.url}/c/linux-64/shards/${names[i]}.msgpack.zst`;
    const first = new FetchWrapper({ cacheDir });
    const got = await Promise.all(bodies.map(async (_, i) => Buffer.from(await (await first.fetch(url(i))).arrayBuffer())));
    expect(got.every((g, i) => g.equals(bodies[i]))).toBe(true);
    await first.settled();
    expect((await fs.readdir(path.join(cacheDir, 'shards'))).filter((f) => !f.endsWith('.tmp'))).toHaveLength(40);

    // One shard torn on disk (a run killed while writing it): fetched again, the rest from the cache.
    const files = await fs.readdir(path.join(cacheDir, 'shards'));
    await fs.writeFile(path.join(cacheDir, 'shards', files[0]), 'torn');
    const asked = server.requests.length;
    const second = new FetchWrapper({ cacheDir });
    const again = await Promise.all(bodies.map(async (_, i) => Buffer.from(await (await second.fetch(url(i))).arrayBuffer())));
    expect(again.every((g, i) => g.equals(bodies[i]))).toBe(true);
    expect(second.stats.shardsFromCache).toBe(39);
    expect(server.requests.length - asked).toBe(1);
    await second.settled();
  } finally {
    await server.close();
  }
});

test('fetchShard: the bytes of a shard as fetch serves them (verified, cached, the credentials of its host), other answers as their Response', async () => {
  const { createHash } = await import('node:crypto');
  const body = Buffer.from('shard body '.repeat(50));
  const name = createHash('sha256').update(body).digest('hex');
  const wrong = 'e'.repeat(64);
  const auths: (string | undefined)[] = [];
  const server = await serve((req, res) => {
    auths.push(req.headers.authorization);
    if (req.url?.endsWith(`/${name}.msgpack.zst`)) return void res.end(body);
    if (req.url?.endsWith(`/${wrong}.msgpack.zst`)) return void res.end('not the shard');
    res.writeHead(404).end();
  });
  try {
    const cacheDir = path.join(tmp, 'cache-fetch-shard');
    const fetcher = new FetchWrapper({ cacheDir, apiUser: 'u', apiKey: 'k', channels: [`${server.url}/c`] });
    const got = await fetcher.fetchShard(`${server.url}/c/linux-64/shards/${name}.msgpack.zst`);
    expect(got instanceof Uint8Array && Buffer.from(got).equals(body)).toBe(true);
    expect(auths[0]).toBe('Basic ' + Buffer.from('u:k').toString('base64'));
    // The same shard again: this run's answer, no request; through fetch(): the same bytes.
    const again = await fetcher.fetchShard(`${server.url}/c/linux-64/shards/${name}.msgpack.zst`);
    expect(again).toBe(got);
    expect(Buffer.from(await (await fetcher.fetch(`${server.url}/c/linux-64/shards/${name}.msgpack.zst`)).arrayBuffer()).equals(body)).toBe(true);
    expect(server.requests.length).toBe(1);
    const missing = await fetcher.fetchShard(`${server.url}/c/linux-64/shards/${'0'.repeat(64)}.msgpack.zst`);
    expect(missing instanceof Response && missing.status).toBe(404);
    const mismatched = await fetcher.fetchShard(`${server.url}/c/linux-64/shards/${wrong}.msgpack.zst`);
    expect(mismatched instanceof Response && mismatched.status).toBe(502);
    // A URL that is not a shard's name: through fetch, as any other.
    const other = await fetcher.fetchShard(`${server.url}/c/linux-64/shards/not-a-hash.msgpack.zst`);
    expect(other instanceof Response && other.status).toBe(404);
    await fetcher.settled();
    const second = new FetchWrapper({ cacheDir });
    const cached = await second.fetchShard(`${server.url}/c/linux-64/shards/${name}.msgpack.zst`);
    expect(cached instanceof Uint8Array && Buffer.from(cached).equals(body)).toBe(true);
    expect(second.stats.shardsFromCache).toBe(1);
  } finally {
    await server.close();
  }
});

test('shard writes held: none is written until every hold is released, then all are (settled waits for them)', async () => {
  const { names, server } = await shardServer(12, (i) => `held shard ${i} `.repeat(20));
  try {
    const cacheDir = path.join(tmp, 'cache-held');
    const fetcher = new FetchWrapper({ cacheDir });
    const first = fetcher.holdShardWrites();
    const second = fetcher.holdShardWrites();
    for (let i = 0; i < 12; i++) expect(await fetcher.fetchShard(`${server.url}/c/linux-64/shards/${names[i]}.msgpack.zst`)).toBeInstanceOf(Uint8Array);
    await new Promise((r) => setTimeout(r, 100));
    const written = async (): Promise<number> => (await fs.readdir(path.join(cacheDir, 'shards')).catch(() => [])).length;
    expect(await written()).toBe(0);
    first();
    first(); // a second call of the same release changes nothing
    await new Promise((r) => setTimeout(r, 100));
    expect(await written()).toBe(0);
    second();
    await fetcher.settled();
    expect(await written()).toBe(12);
    // The next run reads them all from the cache.
    const next = new FetchWrapper({ cacheDir });
    for (let i = 0; i < 12; i++) await next.fetchShard(`${server.url}/c/linux-64/shards/${names[i]}.msgpack.zst`);
    expect(next.stats.shardsFromCache).toBe(12);
    // Without a cache directory a hold is a no-op.
    new FetchWrapper({}).holdShardWrites()();
  } finally {
    await server.close();
  }
});
