/**
 * Package downloads through undici's `request` (net/stream-fetch.ts), the path every http(s) download
 * of a deploy takes: what `request` leaves to its caller and fetch does itself (redirects, credentials
 * dropped across origins, a compressed body), FetchWrapper's channel credentials and byte counts, the
 * site's proxy. The guarantees both paths share (retries, refusals, errors naming package and URL)
 * are tested through each in installer-download.test.ts.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { downloadVerified, type DownloadOptions } from '../../src/installer/download.js';
import { FetchWrapper } from '../../src/net/fetch-wrapper.js';
import { configureSiteNetwork } from '../../src/net/site-network.js';
import { streamFetch, type StreamFetch } from '../../src/net/stream-fetch.js';
import { PackageError } from '../../src/util/errors.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { buildChannel, serveChannel, type BuiltPackage, type ChannelServer } from '../fixtures/channel/index.js';
import { getGlobalDispatcher, setGlobalDispatcher } from 'undici';

let work: string;
let server: ChannelServer;
let pkg: BuiltPackage;
let logger: MemoryLogger;
let archive: Buffer;
/** A second origin: redirects to the channel server, serves the archive compressed, records headers. */
let other: http.Server;
let otherUrl: string;
const otherRequests: http.IncomingHttpHeaders[] = [];

const RETRY = { attempts: 4, baseDelayMs: 5, maxDelayMs: 1500 };
const AUTH = `Basic ${Buffer.from('alice:s3cret-pw').toString('base64')}`;

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-download-stream-'));
  const channel = await buildChannel(path.join(work, 'srv', 'ch'), [
    { name: 'big', version: '1.0', files: { 'share/data.bin': Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251)) } },
  ]);
  pkg = channel.packages[0];
  archive = await fs.readFile(pkg.path);
  server = await serveChannel(path.join(work, 'srv'), { stallMs: 5000, auth: { user: 'alice', password: 's3cret-pw' } });
  other = http.createServer((req, res) => {
    otherRequests.push(req.headers);
    const route = req.url ?? '';
    if (route === '/to-channel') {
      res.writeHead(302, { Location: `${server.url}/ch/${pkg.subdir}/${pkg.fn}` }).end();
    } else if (route === '/here') {
      res.writeHead(301, { Location: '/gzip' }).end();
    } else if (route === '/gzip') {
      const body = zlib.gzipSync(archive);
      res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Length': body.length }).end(body);
    } else if (route === '/gzip-corrupt') {
      const body = zlib.gzipSync(archive);
      body.fill(7, 20, 60); // inside the deflate stream: the decoder fails partway
      res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Length': body.length }).end(body);
    } else if (route === '/compress') {
      res.writeHead(200, { 'Content-Encoding': 'compress' }).end(archive);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  otherUrl = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
});
afterAll(async () => {
  await server.close();
  await new Promise((resolve) => other.close(resolve));
  await fs.rm(work, { recursive: true, force: true });
});

/** What deploy gives: credentials in a header (FetchWrapper.stream), never in the URL. */
const authStream: StreamFetch = (url, init) => streamFetch(url, { ...init, headers: { ...init.headers, Authorization: AUTH } });
/** The fetch path must not be taken: every http(s) download goes through `stream`. */
const noFetch: DownloadOptions['fetch'] = () => Promise.reject(new Error('fetch was used instead of the stream'));

let dest: string;
beforeEach(async () => {
  server.setFault(null);
  server.clearRequests();
  otherRequests.length = 0;
  logger = new MemoryLogger();
  dest = path.join(work, `dl-${Math.random().toString(16).slice(2)}`, pkg.fn);
  await fs.mkdir(path.dirname(dest));
});

const url = () => `${server.url}/ch/${pkg.subdir}/${pkg.fn}`;
const expected = () => ({ sha256: pkg.sha256, md5: pkg.md5, size: pkg.size });
const download = (u = url(), idleTimeoutMs = 10_000, stream: StreamFetch = authStream) =>
  downloadVerified(u, dest, expected(), pkg.dist, { fetch: noFetch, stream, logger, retry: RETRY, idleTimeoutMs });
const packageRequests = () => server.requests.filter((r) => r.path.endsWith(pkg.fn));

async function expectWhole(): Promise<void> {
  const data = await fs.readFile(dest);
  expect(data.equals(archive)).toBe(true);
  expect(await fs.readdir(path.dirname(dest))).toEqual([pkg.fn]); // no partial file left behind
}

test('a 401 (no credentials) is not retried', async () => {
  const err = (await download(url(), 10_000, streamFetch).catch((e: unknown) => e)) as Error;
  expect(err.message).toContain('HTTP 401');
  expect(packageRequests()).toHaveLength(1);
});

test('credentials in the URL become a basic auth header, shown nowhere', async () => {
  const withCreds = url().replace('http://', `http://alice:${encodeURIComponent('s3cret-pw')}@`);
  server.setFault({ match: pkg.fn, times: 1, fault: { type: 'status', status: 500 } });
  await download(withCreds, 10_000, streamFetch);
  await expectWhole();
  expect(packageRequests().map((r) => r.headers.authorization)).toEqual([AUTH, AUTH]);
  expect(logger.text()).not.toContain('s3cret-pw');
  expect(logger.text()).not.toContain(AUTH.slice(6));
});

test('a redirect to another origin is followed, and the credentials are not sent there', async () => {
  // From the other origin to the channel server: the Authorization given for the first origin is dropped.
  const err = (await download(`${otherUrl}/to-channel`).catch((e: unknown) => e)) as Error;
  expect(otherRequests[0].authorization).toBe(AUTH);
  expect(packageRequests()).toHaveLength(1);
  expect(packageRequests()[0].headers.authorization).toBeUndefined();
  expect(err.message).toContain('HTTP 401');
});

test('a redirect on the same origin is followed; a gzip body is decoded before it is verified', async () => {
  await download(`${otherUrl}/here`);
  await expectWhole();
  expect(otherRequests.map((h) => h.authorization)).toEqual([AUTH, AUTH]);
  expect(otherRequests[0]['accept-encoding']).toBeUndefined();
});

test('a compressed body that does not decode fails the download, and nothing is left at the destination', async () => {
  const err = (await download(`${otherUrl}/gzip-corrupt`).catch((e: unknown) => e)) as Error;
  expect(err).toBeInstanceOf(PackageError);
  expect(err.message).toContain(`download of ${otherUrl}/gzip-corrupt failed`);
  expect(await fs.readdir(path.dirname(dest))).toEqual([]);
});

test('an encoding nobody can decode is a clear error, not a hash mismatch', async () => {
  const err = (await download(`${otherUrl}/compress`).catch((e: unknown) => e)) as Error;
  expect(err).toBeInstanceOf(PackageError);
  expect(err.message).toContain('Content-Encoding compress, which gitenv cannot decode');
  expect(await fs.readdir(path.dirname(dest))).toEqual([]);
});

test("FetchWrapper.stream: the channel's credentials to the channel's host only, the bytes counted", async () => {
  const wrapper = new FetchWrapper({ apiUser: 'alice', apiKey: 's3cret-pw', channels: [`${server.url}/ch`], logger });
  await downloadVerified(url(), dest, expected(), pkg.dist, { fetch: noFetch, stream: wrapper.stream, logger, retry: RETRY });
  await expectWhole();
  expect(packageRequests()[0].headers.authorization).toBe(AUTH);
  expect(wrapper.stats).toMatchObject({ requests: 1, bytesFetched: pkg.size });
  // Another host gets no credentials.
  await fs.rm(dest);
  await downloadVerified(`${otherUrl}/gzip`, dest, expected(), pkg.dist, { fetch: noFetch, stream: wrapper.stream, logger, retry: RETRY });
  expect(otherRequests[0].authorization).toBeUndefined();
  // A failure is noted for the report, with no credentials in it.
  const err = await downloadVerified(`${otherUrl}/nothing`, path.join(path.dirname(dest), 'x.conda'), expected(), pkg.dist, { fetch: noFetch, stream: wrapper.stream, logger, retry: RETRY }).catch(
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PackageError);
  expect(wrapper.failures).toEqual([{ url: `${otherUrl}/nothing`, status: 404, message: 'HTTP 404' }]);
  expect(logger.text()).not.toContain('s3cret-pw');
});

test("through the site's proxy (HTTP_PROXY), as every other request: the download is tunnelled by it", async () => {
  // A CONNECT proxy that says where it was asked to go.
  const tunnels: string[] = [];
  const proxy = net.createServer((client) => {
    client.once('data', (head) => {
      const target = /^CONNECT (\S+) HTTP/.exec(head.toString('latin1'))?.[1];
      if (!target) return client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      tunnels.push(target);
      const [host, port] = target.split(':');
      const upstream = net.connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        client.pipe(upstream).pipe(client);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const before = getGlobalDispatcher();
  const dispatcher = configureSiteNetwork({ env: { HTTP_PROXY: `http://127.0.0.1:${(proxy.address() as { port: number }).port}` }, logger });
  try {
    await download();
    await expectWhole();
    expect(tunnels).toEqual([new URL(server.url).host]);
  } finally {
    setGlobalDispatcher(before);
    configureSiteNetwork({ env: {}, logger });
    await dispatcher?.destroy();
    await new Promise((resolve) => proxy.close(resolve));
  }
});
