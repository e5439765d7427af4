/**
 * Downloads against the loopback channel server and its fault hooks: what should be retried is,
 * corrupt data is refused before it is ever renamed into place, failures name package and URL.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { DownloadProgress, digestFile, downloadVerified, type DownloadOptions } from '../../src/installer/download.js';
import { streamFetch } from '../../src/net/stream-fetch.js';
import { PackageError } from '../../src/util/errors.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { buildChannel, serveChannel, type BuiltPackage, type ChannelServer } from '../fixtures/channel/index.js';

let work: string;
let server: ChannelServer;
let pkg: BuiltPackage;
let logger: MemoryLogger;

const RETRY = { attempts: 4, baseDelayMs: 5, maxDelayMs: 1500 };

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-download-'));
  const channel = await buildChannel(path.join(work, 'srv', 'ch'), [
    { name: 'big', version: '1.0', files: { 'share/data.bin': Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251)) } },
  ]);
  pkg = channel.packages[0];
  server = await serveChannel(path.join(work, 'srv'), { stallMs: 5000, auth: { user: 'alice', password: 's3cret-pw' } });
});
afterAll(async () => {
  await server.close();
  await fs.rm(work, { recursive: true, force: true });
});

/** The fetch deploy injects: credentials in a header, never in the URL. */
const AUTH = `Basic ${Buffer.from('alice:s3cret-pw').toString('base64')}`;
const authFetch: DownloadOptions['fetch'] = (input, init) => fetch(input, { ...init, headers: { Authorization: AUTH } });

let dest: string;
beforeEach(async () => {
  server.setFault(null);
  server.clearRequests();
  logger = new MemoryLogger();
  dest = path.join(work, `dl-${Math.random().toString(16).slice(2)}`, pkg.fn);
  await fs.mkdir(path.dirname(dest));
});

const url = () => `${server.url}/ch/${pkg.subdir}/${pkg.fn}`;
const expected = () => ({ sha256: pkg.sha256, md5: pkg.md5, size: pkg.size });
const download = (u = url(), idleTimeoutMs = 10_000) => downloadVerified(u, dest, expected(), pkg.dist, { fetch: authFetch, logger, retry: RETRY, idleTimeoutMs });
const packageRequests = () => server.requests.filter((r) => r.path.endsWith(pkg.fn));

async function expectWhole(): Promise<void> {
  const data = await fs.readFile(dest);
  expect(data.length).toBe(pkg.size);
  expect(await fs.readdir(path.dirname(dest))).toEqual([pkg.fn]); // no partial file left behind
}

/**
 * What the downloader guarantees, through both ways it fetches: the injected fetch (a caller's own,
 * tests') and undici's `request` (net/stream-fetch.ts: every http(s) download of a deploy; its own
 * cases, redirects and encodings, are in installer-download-stream.test.ts).
 */
const TRANSPORTS: [string, Pick<DownloadOptions, 'fetch' | 'stream'>][] = [
  ['fetch', { fetch: authFetch }],
  [
    "undici's request",
    { fetch: () => Promise.reject(new Error('fetch was used instead of the stream')), stream: (u, init) => streamFetch(u, { ...init, headers: { ...init.headers, Authorization: AUTH } }) },
  ],
];

describe.each(TRANSPORTS)('through %s', (_name, transport) => {
  const download = (u = url(), idleTimeoutMs = 10_000) => downloadVerified(u, dest, expected(), pkg.dist, { ...transport, logger, retry: RETRY, idleTimeoutMs });

  test('a clean download is verified and returns both hashes', async () => {
    const digest = await download();
    expect(digest).toEqual({ sha256: pkg.sha256, md5: pkg.md5, size: pkg.size });
    await expectWhole();
  });

  test.each([
    ['500s', { type: 'status', status: 500 } as const, 2],
    ['a 503', { type: 'status', status: 503 } as const, 1],
    ['a 408', { type: 'status', status: 408 } as const, 1],
    ['a connection reset mid-body', { type: 'reset', afterBytes: 50_000 } as const, 1],
    ['a body cut short (length promised)', { type: 'truncate', bytes: 40_000 } as const, 1],
    ['a short body with an honest length', { type: 'truncate', bytes: 40_000, honestLength: true } as const, 1],
  ])('%s are retried, then the download completes', async (_what, fault, times) => {
    server.setFault({ match: pkg.fn, times, fault });
    await download();
    await expectWhole();
    expect(packageRequests()).toHaveLength(times + 1);
    expect(logger.lines('warning').filter((l) => l.includes('retry'))).toHaveLength(times);
  });

  test('429 with Retry-After waits as long as the server asks', async () => {
    server.setFault({ match: pkg.fn, times: 1, fault: { type: 'status', status: 429, headers: { 'Retry-After': '1' } } });
    await download();
    await expectWhole();
    const warnings = logger.lines('warning');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('HTTP 429');
    expect(warnings[0]).toContain('retry 1 in 1.0 s');
  });

  test('a server that stalls past the idle timeout is abandoned and asked again', async () => {
    server.setFault({ match: pkg.fn, times: 1, fault: { type: 'stall', afterBytes: 1000, ms: 5000 } });
    await download(url(), 300);
    await expectWhole();
    expect(logger.lines('warning')[0]).toContain('no data for 0.3 s');
  });

  test('wrong bytes (a hash mismatch) are refused at once, and nothing is left at the destination', async () => {
    server.setFault({ match: pkg.fn, fault: { type: 'corrupt' } });
    const err = await download().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PackageError);
    expect((err as Error).message).toContain(`${pkg.dist}: sha256`);
    expect((err as Error).message).toContain(`(downloaded from ${url()})`);
    expect(packageRequests()).toHaveLength(1);
    expect(await fs.readdir(path.dirname(dest))).toEqual([]);
  });

  test('after the retry budget the failure names the package and the URL', async () => {
    server.setFault({ match: pkg.fn, fault: { type: 'status', status: 502 } });
    const err = (await download().catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(PackageError);
    expect(err.message).toContain(pkg.dist);
    expect(err.message).toContain(url());
    expect(err.message).toContain('HTTP 502');
    expect(packageRequests()).toHaveLength(RETRY.attempts);
    expect(await fs.readdir(path.dirname(dest))).toEqual([]);
  });

  test('a 404 is not retried; a token in the URL path is masked in the error', async () => {
    const tokenUrl = `${server.url}/t/tk-SECRET-42/ch/${pkg.subdir}/missing-1.0-0.conda`;
    const err = (await download(tokenUrl).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('HTTP 404');
    expect(err.message).toContain('/t/***/ch/');
    expect(err.message).not.toContain('tk-SECRET-42');
    expect(server.requests).toHaveLength(1);
  });
});

test('credentials from the injected fetch reach the server and appear in no log line or error', async () => {
  await download();
  expect(packageRequests()[0].headers.authorization).toMatch(/^Basic /);
  server.setFault({ match: pkg.fn, times: 1, fault: { type: 'status', status: 500 } });
  await fs.rm(dest);
  await download();
  expect(logger.text()).not.toContain('s3cret-pw');
  expect(logger.text()).not.toContain(Buffer.from('alice:s3cret-pw').toString('base64'));
});

test('credentials in the URL (a mirror given as http://user:pass@host) become a basic auth header, shown nowhere', async () => {
  const withCreds = url().replace('http://', `http://alice:${encodeURIComponent('s3cret-pw')}@`);
  await downloadVerified(withCreds, dest, expected(), pkg.dist, { fetch, logger, retry: RETRY });
  await expectWhole();
  expect(packageRequests()[0].headers.authorization).toBe(`Basic ${Buffer.from('alice:s3cret-pw').toString('base64')}`);
  const missing = withCreds.replace(pkg.fn, 'missing-1.0-0.conda');
  const err = (await downloadVerified(missing, dest, expected(), pkg.dist, { fetch, logger, retry: RETRY }).catch((e: unknown) => e)) as Error;
  expect(err.message).toContain('HTTP 404');
  expect(err.message).not.toContain('s3cret');
  expect(logger.text()).not.toContain('s3cret');
});

test('file:// URLs and plain paths are read from disk, verified the same way', async () => {
  await downloadVerified(pathToFileURL(pkg.path).href, dest, expected(), pkg.dist, { fetch: authFetch, logger });
  await expectWhole();
  await fs.rm(dest);
  await downloadVerified(pkg.path, dest, expected(), pkg.dist, { fetch: authFetch, logger });
  await expectWhole();
  await fs.rm(dest);
  await expect(downloadVerified(pkg.path, dest, { ...expected(), sha256: '0'.repeat(64) }, pkg.dist, { fetch: authFetch, logger })).rejects.toThrow('sha256');
  expect(server.requests).toHaveLength(0);
});

test('md5 is checked when the lock has no sha256', async () => {
  await expect(downloadVerified(pkg.path, dest, { md5: '0'.repeat(32) }, pkg.dist, { fetch: authFetch, logger })).rejects.toThrow(`${pkg.dist}: md5`);
  await downloadVerified(pkg.path, dest, { md5: pkg.md5 }, pkg.dist, { fetch: authFetch, logger });
  await expectWhole();
});

test('the md5 recorded is computed from the bytes unless the lock gives it next to a verified sha256', async () => {
  const sha256Only = await downloadVerified(pkg.path, dest, { sha256: pkg.sha256 }, pkg.dist, { fetch: authFetch, logger });
  expect(sha256Only.md5).toBe(pkg.md5);
  await fs.rm(dest);
  const md5Only = await downloadVerified(pkg.path, dest, { md5: pkg.md5.toUpperCase() }, pkg.dist, { fetch: authFetch, logger });
  expect(md5Only.md5).toBe(pkg.md5);
  await fs.rm(dest);
  const both = await downloadVerified(pkg.path, dest, expected(), pkg.dist, { fetch: authFetch, logger });
  expect(both).toEqual({ sha256: pkg.sha256, md5: pkg.md5, size: pkg.size });
  expect(await digestFile(dest, { sha256: pkg.sha256 })).toEqual(both);
});

test('progress lines give bytes, rate and packages done', () => {
  const progress = new DownloadProgress(logger, 5, 3_600_000);
  progress.add(2_500_000);
  progress.packageDone();
  progress.report();
  progress.stop();
  expect(logger.lines('info')).toEqual([expect.stringMatching(/^Downloaded 2\.5 MB at [\d.]+ MB\/s; 1 of 5 packages ready$/)]);
});

test('while downloads run: each package named, then done/total MB, rate and time left at most every interval', async () => {
  const progress = new DownloadProgress(logger, 2, 40, 10_000_000);
  progress.fetching('numpy-1.26.4-py311_0');
  progress.add(5_000_000);
  await new Promise((r) => setTimeout(r, 100));
  progress.fetched();
  const before = logger.lines('info').length;
  await new Promise((r) => setTimeout(r, 100));
  progress.stop();
  const lines = logger.lines('info');
  expect(lines[0]).toBe('Fetching numpy-1.26.4-py311_0');
  expect(lines[1]).toMatch(/^Downloaded 5\.0 of 10\.0 MB at [\d.]+ MB\/s, about \d+ (s|min) left; 0 of 2 packages ready$/);
  // No download running: no more progress lines.
  expect(lines.length).toBe(before);
});

describe('a tap that hashes the bytes itself (the extraction threads)', () => {
  /** A HashingTap that takes every byte and answers `answer(bytes it took)` once ended. */
  function hashingTap(answer: (taken: Buffer) => { sha256: string; md5?: string; size: number } | undefined): Writable & { hashed: () => Promise<unknown>; endedBefore: () => boolean } {
    const taken: Buffer[] = [];
    let ended = false;
    let resolveHash!: (h: unknown) => void;
    const hashedP = new Promise((r) => (resolveHash = r));
    const tap = new Writable({
      write(chunk: Buffer, _enc, cb) {
        taken.push(Buffer.from(chunk));
        cb();
      },
      final(cb) {
        ended = true;
        resolveHash(answer(Buffer.concat(taken)));
        cb();
      },
    });
    tap.on('error', () => undefined); // a refused download destroys it with its error (the caller has that)
    return Object.assign(tap, { hashed: () => hashedP, endedBefore: () => ended });
  }
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const run = (tap: Writable) => downloadVerified(url(), dest, expected(), pkg.dist, { fetch: authFetch, logger, retry: RETRY, tap });

  test('its hash is the one verified: right, the download succeeds without hashing; wrong, it is refused', async () => {
    const good = hashingTap((b) => ({ sha256: sha(b), size: b.length }));
    expect(await run(good)).toEqual({ sha256: pkg.sha256, md5: pkg.md5, size: pkg.size });
    expect(good.endedBefore()).toBe(true);
    await expectWhole();

    // A tap claiming another hash for the same bytes: the download believes it, and refuses them.
    dest = path.join(path.dirname(dest), 'again', pkg.fn);
    await fs.mkdir(path.dirname(dest));
    const lying = hashingTap((b) => ({ sha256: '0'.repeat(64), size: b.length }));
    await expect(run(lying)).rejects.toThrow(/sha256 0{64} differs/);
    expect(await fs.readdir(path.dirname(dest))).toEqual([]);
  });

  test('no hash from it (a thread that stopped), or one of other bytes: the file is hashed instead', async () => {
    expect(await run(hashingTap(() => undefined))).toEqual({ sha256: pkg.sha256, md5: pkg.md5, size: pkg.size });
    await expectWhole();
    dest = path.join(path.dirname(dest), 'short', pkg.fn);
    await fs.mkdir(path.dirname(dest));
    // It hashed fewer bytes than were written: not trusted (its sha256 would otherwise fail the check).
    expect(await run(hashingTap((b) => ({ sha256: 'f'.repeat(64), size: b.length - 1 })))).toEqual({ sha256: pkg.sha256, md5: pkg.md5, size: pkg.size });
  });

  test('a lock without sha256: the md5 must come from the tap, or the file is hashed', async () => {
    const md5Only = { md5: pkg.md5, size: pkg.size };
    const noMd5 = hashingTap((b) => ({ sha256: sha(b), size: b.length }));
    const digest = await downloadVerified(url(), dest, md5Only, pkg.dist, { fetch: authFetch, logger, retry: RETRY, tap: noMd5 });
    expect(digest.md5).toBe(pkg.md5);
    dest = path.join(path.dirname(dest), 'md5', pkg.fn);
    await fs.mkdir(path.dirname(dest));
    const wrongMd5 = hashingTap((b) => ({ sha256: sha(b), md5: '0'.repeat(32), size: b.length }));
    await expect(downloadVerified(url(), dest, md5Only, pkg.dist, { fetch: authFetch, logger, retry: RETRY, tap: wrongMd5 })).rejects.toThrow(/md5 0{32} differs/);
  });
});
