/**
 * Network faults from the loopback channel server (basic auth demanded), against the deploy phase:
 * what should be retried is (5xx, 408, 429 with Retry-After, resets mid-body, truncated bodies), and
 * the deploy then equals a clean one; corrupt data is refused without a retry; after the retry budget
 * the failure is clean, names the package and the URL and carries no credentials; a file that failed
 * verification is never linked nor kept in the package cache; the other environment deploys anyway.
 * A stall past the idle timeout is exercised on the installer itself (the phase's timeout is 60 s).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { LockedPackage } from '../../src/conda/types.js';
import { readMarker } from '../../src/deploy/layout.js';
import { BuiltinInstaller } from '../../src/installer/builtin-installer.js';
import { FetchWrapper } from '../../src/net/fetch-wrapper.js';
import { deploy } from '../../src/phases/deploy.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { serveChannel, type BuiltPackage, type ChannelServer, type Fault } from '../fixtures/channel/index.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { buildAppChannel, type AppChannel } from './support/app-channel.js';
import { Counters, recordFigures } from './support/figures.js';
import { tagLock } from './support/repo.js';
import { checkDeployInvariants } from './support/tree.js';

const USER = 'reliability-user';
const KEY = 'k3y/with+special=chars&more';
const secretForms = [KEY, encodeURIComponent(KEY), Buffer.from(`${USER}:${KEY}`).toString('base64'), Buffer.from(KEY).toString('base64')];

const counters = new Counters();
let fx: GitFixture;
let app: AppChannel;
let server: ChannelServer;
let url: string;
let victim: BuiltPackage;
let n = 0;

beforeAll(async () => {
  fx = await GitFixture.create();
  app = await buildAppChannel(path.join(fx.root, 'channels', 'app'));
  server = await serveChannel(path.join(fx.root, 'channels'), { auth: { user: USER, password: KEY }, stallMs: 60_000 });
  url = `${server.url}/app`;
  victim = app.v1.find((p) => p.record.name === 'tool') as BuiltPackage;
  await tagLock(fx, 'victim', 'env-victim-2026_01_01', url, app.v1, '2026-01-01T10:00:00Z');
  const others = app.v2.filter((p) => ['docs', 'extra-a'].includes(p.record.name));
  await tagLock(fx, 'bystander', 'env-bystander-2026_01_01', url, others, '2026-01-01T10:00:00Z');
}, 120_000);

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
  await recordFigures('network', { figures: counters.figures, details: counters.details });
});

interface Run {
  target: string;
  logger: MemoryLogger;
  result: Awaited<ReturnType<typeof deploy>>;
  victimRequests: number;
}

async function deployWith(rule: { fault: Fault; times?: number }): Promise<Run> {
  const target = path.join(fx.root, `target-${++n}`);
  const logger = new MemoryLogger();
  server.clearRequests();
  server.setFault({ match: victim.fn, ...rule });
  try {
    const result = await deploy({ repository: fx.origin, envs: [], dryRun: false, target, envLabels: ['*'], engine: 'builtin', prune: false, keep: 2, apiUser: USER, apiKey: KEY }, { logger });
    return { target, logger, result, victimRequests: server.requests.filter((r) => r.path.endsWith(victim.fn)).length };
  } finally {
    server.setFault(null);
  }
}

/** The secrets appear nowhere in what the run said. */
function expectNoSecrets(run: Run): void {
  const said = [run.logger.text(), JSON.stringify(run.result)].join('\n');
  for (const s of secretForms) expect(said).not.toContain(s);
}

const RETRIED: [string, Fault, number][] = [
  ['HTTP 500 twice', { type: 'status', status: 500 }, 2],
  ['HTTP 503 once', { type: 'status', status: 503 }, 1],
  ['HTTP 408 once', { type: 'status', status: 408 }, 1],
  ['HTTP 429 with Retry-After: 1, twice', { type: 'status', status: 429, headers: { 'Retry-After': '1' } }, 2],
  ['connection reset after 100 bytes', { type: 'reset', afterBytes: 100 }, 1],
  ['connection reset at half the body, twice', { type: 'reset' }, 2],
  ['body cut short (socket closed early)', { type: 'truncate' }, 1],
];

test.each(RETRIED)('retried: %s, then the deploy completes', async (what, fault, times) => {
  const run = await deployWith({ fault, times });
  expect(run.result.failed).toEqual([]);
  expect(run.victimRequests).toBe(times + 1);
  expect(run.logger.lines().filter((l) => l.includes(victim.fn) && /retry \d/.test(l))).toHaveLength(times);
  if (fault.type === 'status' && fault.status === 429) {
    expect(run.logger.text()).toMatch(/retry 1 in (1000 ms|1\.0 s)/); // Retry-After honoured
  }
  const labels = await checkDeployInvariants(run.target);
  expect(labels).toEqual({ bystander: { latest: '2026_01_01' }, victim: { latest: '2026_01_01' } });
  expectNoSecrets(run);
  counters.add('faults injected', times);
  counters.add('faults retried to success', times);
  counters.note(`retried: ${what}`);
});

const REFUSED: [string, Fault, number, RegExp][] = [
  ['wrong bytes (one flipped): refused at once, never retried', { type: 'corrupt' }, 1, /sha256 [0-9a-f]{64} differs from the expected/],
  ['HTTP 500 every time: the retry budget runs out', { type: 'status', status: 500 }, 4, /HTTP 500/],
  ['HTTP 404: not retried', { type: 'status', status: 404 }, 1, /404/],
  ['connection reset every time', { type: 'reset', afterBytes: 10 }, 4, /download of/],
  // env.lock carries no sizes: a short but well-formed response cannot be told from wrong bytes
  ['a short body with an honest Content-Length: refused as corrupt', { type: 'truncate', honestLength: true }, 1, /sha256 [0-9a-f]{64} differs/],
];

test.each(REFUSED)('clean failure: %s', async (what, fault, requests, reason) => {
  const run = await deployWith({ fault });
  expect(run.result.failed.map((f) => f.env)).toEqual(['victim']);
  const message = run.result.failed[0].message;
  expect(message).toContain(victim.dist);
  expect(message).toMatch(reason);
  expect(message).toContain(`${url}/linux-64/${victim.fn}`); // which URL gave the bad data
  // A status is retried by the fetch wrapper and again by the downloader: the budgets multiply.
  if (fault.type === 'status' && fault.status >= 500) expect(run.victimRequests).toBeGreaterThanOrEqual(requests);
  else expect(run.victimRequests).toBe(requests);
  // never linked, never kept: no prefix, no staging, nothing of the package in the cache
  expect(await fs.readdir(path.join(run.target, 'victim')).catch(() => [])).toEqual(expect.not.arrayContaining([expect.stringMatching(/^(2026|\.staging)/)]));
  expect(await readMarker(path.join(run.target, 'victim', '2026_01_01'))).toBeUndefined();
  const cache = await fs.readdir(path.join(run.target, '.pkg_cache'));
  expect(cache.filter((n) => n.startsWith(victim.dist) && !n.endsWith('.lock'))).toEqual([]);
  // the other environment deployed
  expect(run.result.deployed.map((d) => d.env)).toEqual(['bystander']);
  await checkDeployInvariants(run.target);
  expectNoSecrets(run);
  counters.add('faults injected', run.victimRequests);
  counters.add('failures reported cleanly (package and URL named, no credentials)');
  counters.note(`refused after ${run.victimRequests} request(s): ${what} — "${message.split('\n')[0].replace(server.url, 'http://127.0.0.1:<port>').slice(0, 200)}"`);
});

function lockedOf(p: BuiltPackage): LockedPackage {
  return { url: `${url}/${p.subdir}/${p.fn}`, channel: url, subdir: p.subdir, fn: p.fn, dist: p.dist, sha256: p.sha256, md5: p.md5, size: p.size };
}

async function installWithStall(times: number | undefined): Promise<{ error?: Error; logger: MemoryLogger; stagingDir: string }> {
  const logger = new MemoryLogger();
  const root = path.join(fx.root, `stall-${++n}`);
  const stagingDir = path.join(root, 'prefix');
  const wrapper = new FetchWrapper({ apiUser: USER, apiKey: KEY, channels: [url], logger });
  const installer = new BuiltinInstaller({ idleTimeoutMs: 500, retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 } });
  server.setFault({ match: victim.fn, times, fault: { type: 'stall', afterBytes: 64, ms: 30_000 } });
  try {
    await installer.install({ packages: app.v1.map(lockedOf), prefix: stagingDir, stagingDir, pkgCache: path.join(root, 'cache'), fetch: wrapper.fetch, logger });
    return { logger, stagingDir };
  } catch (err) {
    return { error: err as Error, logger, stagingDir };
  } finally {
    server.setFault(null);
  }
}

test('a body that stalls past the idle timeout is abandoned and fetched again', async () => {
  const { error, logger, stagingDir } = await installWithStall(1);
  expect(error).toBeUndefined();
  expect(logger.text()).toMatch(/no data for 0\.5 s/);
  await expect(fs.stat(path.join(stagingDir, 'bin', 'tool'))).resolves.toBeDefined();
  counters.add('faults injected');
  counters.add('faults retried to success');
  counters.note('retried: a body stalled past the idle timeout');
});

test('a server that always stalls ends in a clean failure naming the package and URL', async () => {
  const { error, logger, stagingDir } = await installWithStall(undefined);
  expect(error?.message).toContain(victim.dist);
  expect(error?.message).toContain(`${url}/linux-64/${victim.fn}`);
  expect(error?.message).toMatch(/no data for 0\.5 s/);
  for (const s of secretForms) expect(`${error?.message}\n${logger.text()}`).not.toContain(s);
  await expect(fs.stat(path.join(stagingDir, 'bin', 'tool'))).rejects.toThrow();
  counters.add('faults injected', 3);
  counters.add('failures reported cleanly (package and URL named, no credentials)');
  counters.note(`refused: a server that always stalls — "${(error?.message ?? '').replace(server.url, 'http://127.0.0.1:<port>').slice(0, 200)}"`);
});
