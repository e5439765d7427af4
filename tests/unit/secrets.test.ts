/**
 * One table of URLs that carry credentials (user info, an anaconda.org `/t/<token>/` segment, a
 * query string), and every output path that shows a URL goes through it: messages, the git wrapper's
 * log lines and errors, conda-meta records and history (the prefix), the package cache's records,
 * download errors, the micromamba download URL check. None of them may show a secret.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import type { LockedPackage } from '../../src/conda/types.js';
import { toRecord } from '../../src/engines/micromamba-json.js';
import { GitCommandManager } from '../../src/git/git-command-manager.js';
import { historyEntry, prefixRecord } from '../../src/installer/conda-meta.js';
import { downloadVerified } from '../../src/installer/download.js';
import type { LinkedPackage } from '../../src/installer/link.js';
import { repodataRecord } from '../../src/installer/package-cache.js';
import { expandUrlTemplate } from '../../src/setup/micromamba-platform.js';
import { errorMessage } from '../../src/util/errors.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { basicCredentials, redactUrls, splitCredentials } from '../../src/util/secrets.js';

interface Row {
  what: string;
  /** A URL with `{host}` for the host (a loopback server in the tests that fetch). */
  url: string;
  /** What must never be shown. */
  secrets: string[];
  /** What `redactUrls` makes of it (with `{host}`). */
  shown: string;
}

const TABLE: Row[] = [
  { what: 'user and password', url: 'http://user:s3cret@{host}/ch/linux-64/a-1-0.conda', secrets: ['s3cret'], shown: 'http://{host}/ch/linux-64/a-1-0.conda' },
  { what: 'encoded password', url: 'http://u%40x:p%2Fw0rd@{host}/ch/noarch/a-1-0.conda', secrets: ['p%2Fw0rd', 'p/w0rd'], shown: 'http://{host}/ch/noarch/a-1-0.conda' },
  { what: 'a lone token as user', url: 'https://ghp_tok3n@{host}/ch/linux-64/a-1-0.conda', secrets: ['ghp_tok3n'], shown: 'https://{host}/ch/linux-64/a-1-0.conda' },
  { what: 'an @ inside the password', url: 'http://u:p@ss@{host}/ch/linux-64/a-1-0.conda', secrets: ['p@ss'], shown: 'http://{host}/ch/linux-64/a-1-0.conda' },
  { what: 'an anaconda.org token segment', url: 'http://{host}/t/tk-12345/ch/linux-64/a-1-0.conda', secrets: ['tk-12345'], shown: 'http://{host}/t/***/ch/linux-64/a-1-0.conda' },
  { what: 'a token in the query', url: 'http://{host}/ch/linux-64/a-1-0.conda?token=qs-s3cret', secrets: ['qs-s3cret'], shown: 'http://{host}/ch/linux-64/a-1-0.conda' },
  {
    what: 'all at once',
    url: 'https://u:all-s3cret@{host}/t/all-tk/ch/linux-64/a-1-0.conda?k=all-q',
    secrets: ['all-s3cret', 'all-tk', 'all-q'],
    shown: 'https://{host}/t/***/ch/linux-64/a-1-0.conda',
  },
];

const HOST = 'conda.example:8080';
const fill = (s: string, host = HOST): string => s.split('{host}').join(host);

function expectNoSecret(row: Row, text: string): void {
  for (const secret of row.secrets) expect(text).not.toContain(secret);
}

describe.each(TABLE)('$what', (row) => {
  const url = fill(row.url);

  test('redactUrls: alone, and quoted inside a message', () => {
    expect(redactUrls(url)).toBe(fill(row.shown));
    expect(redactUrls(`GET ${url} failed: (${url}) "${url}"`)).toBe(`GET ${fill(row.shown)} failed: (${fill(row.shown)}) "${fill(row.shown)}"`);
  });

  test('conda-meta record and history (the prefix)', () => {
    const pkg = lockedAt(url);
    expectNoSecret(row, JSON.stringify(prefixRecord({ pkg, linked: linkedFor(pkg), digest })));
    expectNoSecret(row, historyEntry([pkg], ['a'], new Date(0), 'gitenv deploy'));
  });

  test("micromamba's link record (env.lock, env.manifest)", () => {
    const subdir = url.includes('/noarch/') ? 'noarch' : 'linux-64';
    const record = toRecord({ name: 'a', version: '1', build_string: '0', url, subdir, fn: 'a-1-0.conda' }, []);
    expect(record.url).toMatch(/^https?:\/\/conda\.example:8080\/ch\/(linux-64|noarch)\/a-1-0\.conda$/);
    expectNoSecret(row, JSON.stringify(record));
  });

  test('package cache record', () => {
    const pkg = lockedAt(url);
    expectNoSecret(row, JSON.stringify(repodataRecord({ name: 'a', version: '1', build: '0', build_number: 0, depends: [] }, pkg, digest)));
  });

  test('git wrapper: log lines and the error of a failed fetch', async () => {
    const logger = new MemoryLogger();
    const git = await GitCommandManager.create(path.join(tmp, 'repo.git'), { logger, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
    await git.init();
    const refused = fill(row.url, `127.0.0.1:${closedPort}`).replace(/^https:/, 'http:');
    const err = await git.fetch(refused, ['+refs/heads/*:refs/remotes/x/*']).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expectNoSecret(row, errorMessage(err));
    expect(logger.records.some((r) => r.message.startsWith('git fetch'))).toBe(true);
    expectNoSecret(row, logger.records.map((r) => r.message).join('\n'));
  });

  test('download: the retry warnings and the final error', async () => {
    const logger = new MemoryLogger();
    const served = fill(row.url, `127.0.0.1:${server.port}`).replace(/^https:/, 'http:');
    const err = await downloadVerified(served, path.join(tmp, 'dl'), {}, 'a-1-0', {
      fetch,
      logger,
      retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(errorMessage(err)).toContain('HTTP 404');
    expect(logger.records.some((r) => r.level === 'warning' && r.message.includes('HTTP 503'))).toBe(true);
    expectNoSecret(row, errorMessage(err));
    expectNoSecret(row, logger.records.map((r) => r.message).join('\n'));
  });

  test('micromamba download URL check', () => {
    expect(() => expandUrlTemplate(url.replace(/^https?:/, 'ftp:'), '1', 'linux-64')).toThrow();
    try {
      expandUrlTemplate(url.replace(/^https?:/, 'ftp:'), '1', 'linux-64');
    } catch (e) {
      expectNoSecret(row, errorMessage(e));
    }
  });
});

test('redactUrls leaves what is no credential alone', () => {
  expect(redactUrls('file:///srv/t/x/ch?y')).toBe('file:///srv/t/x/ch?y');
  expect(redactUrls('/local/path@2 and git@host:org/r.git')).toBe('/local/path@2 and git@host:org/r.git');
  expect(redactUrls('http.https://github.com/.extraheader')).toBe('http.https://github.com/.extraheader');
});

test('splitCredentials: user info becomes a basic header, for http(s) only', () => {
  expect(splitCredentials('https://u%40x:p%2Fw@h/ch/x.conda')).toEqual({
    url: 'https://h/ch/x.conda',
    user: 'u@x',
    password: 'p/w',
    authorization: `Basic ${basicCredentials('u@x', 'p/w')}`,
  });
  expect(basicCredentials('u@x', 'p/w')).toBe(Buffer.from('u@x:p/w').toString('base64'));
  expect(splitCredentials('https://h/ch/x.conda')).toEqual({ url: 'https://h/ch/x.conda' });
  expect(splitCredentials('ssh://git@host/r.git')).toEqual({ url: 'ssh://git@host/r.git' });
  expect(splitCredentials('not a url')).toEqual({ url: 'not a url' });
});

const digest = { sha256: 'a'.repeat(64), md5: 'b'.repeat(32), size: 1 };

function lockedAt(url: string): LockedPackage {
  const channel = url.slice(0, url.indexOf('/linux-64/') >= 0 ? url.indexOf('/linux-64/') : url.indexOf('/noarch/'));
  return { url, channel, subdir: 'linux-64', fn: 'a-1-0.conda', dist: 'a-1-0' };
}

function linkedFor(pkg: LockedPackage): LinkedPackage {
  return {
    unit: { dist: pkg.dist, dir: '/cache/a-1-0', info: { index: { name: 'a', version: '1', build: '0', build_number: 0, depends: [] }, paths: [], noarchPython: false, entryPoints: [] } },
    paths: [],
    linkType: 'hardlink',
  } as unknown as LinkedPackage;
}

let tmp: string;
let closedPort: number;
let server: { port: number; close: () => Promise<void> };

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-secrets-'));
  // A port nothing listens on: git's fetch is refused at once.
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  // Answers 503 to the first request for a path and 404 to the next: one retry warning, then an error.
  const count = new Map<string, number>();
  const srv = http.createServer((req, res) => {
    const key = `${req.url ?? ''} ${req.headers.authorization ?? ''}`;
    const n = (count.get(key) ?? 0) + 1;
    count.set(key, n);
    res.writeHead(n === 1 ? 503 : 404).end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  server = { port: (srv.address() as AddressInfo).port, close: () => new Promise((r) => srv.close(() => r())) };
});

afterAll(async () => {
  await server?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});
