/**
 * Trust: where the channel credentials go and what a channel's repodata may put into a manifest.
 * A channel server demanding basic auth serves the environments' channels; a second server on
 * another host (another port of the loopback) serves the same archives to whoever asks and records
 * every request. Someone who can push a manifest branch points env.lock (or an old-tool
 * env.manifest) at that other host; a channel's repodata moves its packages there with
 * `info.base_url`; another channel's repodata carries a newline in a build string or `../../etc` as
 * a subdir. Credentials must reach only the hosts of the channels in env.spec (issue 15, items 8
 * and 9), and resolve must refuse records that break conda's grammar, writing env.manifest from
 * exactly the packages of env.lock (item 14).
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { deploy } from '../../src/phases/deploy.js';
import { resolve } from '../../src/phases/resolve.js';
import { formatLock, parseLock } from '../../src/manifest/lock.js';
import { parseManifest } from '../../src/manifest/manifest.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { buildChannel, serveChannel, type BuiltPackage, type ChannelServer, type Repodata } from '../fixtures/channel/index.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { buildAppChannel, type AppChannel } from './support/app-channel.js';
import { Counters, recordFigures } from './support/figures.js';
import { PlumbingRepo, recordsAt, specFor } from './support/repo.js';

const USER = 'trust-user';
const KEY = 'tru5t-K3y/secret';
const DATE = '2026-01-01T10:00:00Z';

const counters = new Counters();
let fx: GitFixture;
let app: AppChannel;
let server: ChannelServer;
let other: ChannelServer;
let repo: PlumbingRepo;

beforeAll(async () => {
  fx = await GitFixture.create();
  app = await buildAppChannel(path.join(fx.root, 'channels', 'app'));
  // the other host serves the very same archives (the lock's hashes hold), without asking for auth
  await fs.mkdir(path.join(fx.root, 'elsewhere'));
  execFileSync('cp', ['-a', path.join(fx.root, 'channels', 'app'), path.join(fx.root, 'elsewhere', 'app')]);
  server = await serveChannel(path.join(fx.root, 'channels'), { auth: { user: USER, password: KEY } });
  other = await serveChannel(path.join(fx.root, 'elsewhere'));
  repo = new PlumbingRepo(fx.origin);
}, 300_000);

afterAll(async () => {
  await server?.close();
  await other?.close();
  await fx?.cleanup();
  await recordFigures('trust', { figures: counters.figures, details: counters.details });
});

/** A message for the figures page: loopback ports change from run to run. */
const ports = (message: string) => message.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>').slice(0, 260);

/** Requests the other host received carrying an Authorization header. */
const authorizedElsewhere = () => other.requests.filter((r) => r.headers.authorization !== undefined);

/** env.spec on `env` names the authenticated channel; its manifest branch says what `files` say. */
async function envWithManifest(env: string, files: Record<string, string>): Promise<void> {
  const spec = specFor(`${server.url}/app`, ['tool']);
  await repo.commit(env, { 'env.spec': spec }, DATE);
  const m = await repo.commit(`manifest/${env}`, { 'env.spec': spec, ...files }, DATE, `Manifest update for ${env}`);
  await repo.tag(`env-${env}-2026_01_01`, m, DATE);
}

function deployOne(env: string, target: string, logger = new MemoryLogger()) {
  return deploy({ repository: fx.origin, apiUser: USER, apiKey: KEY, envs: [env], dryRun: false, target, envLabels: ['*'], engine: 'builtin', prune: false, keep: 2 }, { logger });
}

describe('credentials go only to the hosts of the channels in env.spec (item 8)', () => {
  test('an env.lock naming another host: the packages come from there, without the credentials', async () => {
    const records = recordsAt(`${other.url}/app`, app.v1);
    await envWithManifest('lock-elsewhere', { 'env.lock': formatLock(records, { platform: 'linux-64', env: 'lock-elsewhere' }) });
    other.clearRequests();
    const logger = new MemoryLogger();
    const r = await deployOne('lock-elsewhere', path.join(fx.root, 'target-8a'), logger);
    expect(other.requests.filter((q) => q.path.endsWith('.conda') || q.path.endsWith('.tar.bz2')).length).toBe(app.v1.length);
    expect(authorizedElsewhere()).toEqual([]);
    expect(r.failed).toEqual([]);
    expect(logger.text()).toContain(`no channel credentials sent to ${new URL(other.url).host}`);
    counters.add('hostile manifests tried (env.lock or env.manifest naming another host)');
    counters.add('requests to other hosts', other.requests.length);
    counters.note(`an env.lock naming the other host: ${other.requests.length} requests there, none with credentials`);
  });

  test('an old-tool env.manifest naming another host: its repodata and packages fetched without the credentials', async () => {
    const manifest = app.v1.map((p) => `${other.url}/app/linux-64\t${p.dist}`).join('\n') + '\n';
    await envWithManifest('manifest-elsewhere', { 'env.manifest': manifest });
    other.clearRequests();
    const r = await deployOne('manifest-elsewhere', path.join(fx.root, 'target-8b'));
    expect(other.requests.some((q) => q.path.endsWith('repodata.json'))).toBe(true);
    expect(authorizedElsewhere()).toEqual([]);
    expect(r.failed).toEqual([]);
    counters.add('hostile manifests tried (env.lock or env.manifest naming another host)');
    counters.add('requests to other hosts', other.requests.length);
    counters.note(`an old-tool env.manifest naming the other host: ${other.requests.length} requests there (repodata and archives), none with credentials`);
  });

  test('the channels of env.spec still get them (their server demands them)', async () => {
    await envWithManifest('lock-here', { 'env.lock': formatLock(recordsAt(`${server.url}/app`, app.v1), { platform: 'linux-64', env: 'lock-here' }) });
    const r = await deployOne('lock-here', path.join(fx.root, 'target-8c'));
    expect(r.failed).toEqual([]);
    expect(r.deployed.map((d) => d.tag)).toEqual(['env-lock-here-2026_01_01']);
    counters.add('credentials seen by other hosts', authorizedElsewhere().length);
  });
});

/** A channel `name` on the authenticated server holding tool (and libbase), its repodata rewritten by `patch`. */
async function patchedChannel(name: string, patch: (subdir: string, r: Repodata) => Repodata): Promise<BuiltPackage[]> {
  const pkgs = app.v1.filter((p) => p.record.name !== 'data');
  await buildChannel(path.join(fx.root, 'channels', name), pkgs, { patchRepodata: (subdir, r) => patch(subdir, structuredClone(r)) });
  for (const p of pkgs) await fs.copyFile(p.path, path.join(fx.root, 'channels', name, 'linux-64', p.fn));
  return pkgs;
}

function resolveAll(logger: MemoryLogger) {
  return resolve(
    { repository: fx.origin, apiUser: USER, apiKey: KEY, envs: ['repodata-*'], dryRun: false, platform: 'linux-64', channelAlias: server.url, engine: 'builtin', mode: 'push' },
    { logger },
  );
}

describe('what a channel repodata may put into a manifest (items 9 and 14)', () => {
  let failed: Map<string, string>;
  let logger: MemoryLogger;
  const tool = (r: Repodata) => Object.values(r['packages.conda']).find((x) => x.name === 'tool') as unknown as Record<string, unknown>;

  beforeAll(async () => {
    await patchedChannel('based', (subdir, r) => (subdir === 'linux-64' ? { ...r, info: { ...r.info, base_url: `${other.url}/app/linux-64` } as Repodata['info'] } : r));
    await patchedChannel('newline', (subdir, r) => {
      if (subdir === 'linux-64') tool(r).build = `0\n${other.url}/app/linux-64\tforged-6.6.6-0`;
      return r;
    });
    await patchedChannel('traversal', (subdir, r) => {
      if (subdir === 'linux-64') tool(r).subdir = '../../etc';
      return r;
    });
    await patchedChannel('clean', (_s, r) => r);
    for (const c of ['based', 'newline', 'traversal', 'clean']) await repo.commit(`repodata-${c}`, { 'env.spec': specFor(`${server.url}/${c}`, ['tool']) }, DATE);
    logger = new MemoryLogger();
    other.clearRequests();
    const result = await resolveAll(logger);
    failed = new Map(result.failed.map((f) => [f.env, f.message]));
  }, 300_000);

  const manifestBranch = async (env: string) => (await fx.refs())[`refs/heads/manifest/${env}`];

  test('info.base_url on another host is refused at resolve, naming the host', async () => {
    const message = failed.get('repodata-based') ?? '';
    expect(message).toContain(`would be downloaded from ${other.url}`);
    expect(message).toContain('info.base_url');
    expect(await manifestBranch('repodata-based')).toBeUndefined();
    expect(authorizedElsewhere()).toEqual([]);
    counters.add('repodata records tried that break the rules');
    counters.add('refused at resolve');
    counters.note(`info.base_url on the other host: refused — "${ports(message)}"`);
  });

  test('a newline in a build string is refused: no forged manifest line, commit message or log line', async () => {
    const message = failed.get('repodata-newline') ?? '';
    expect(message).toContain('is not a conda build string');
    expect(message).not.toContain('\n');
    expect(await manifestBranch('repodata-newline')).toBeUndefined();
    expect(
      logger
        .text()
        .split('\n')
        .filter((l) => l.startsWith(`${other.url}/app/linux-64\tforged`)),
    ).toEqual([]);
    const messages = await fx.originGit(['log', '--all', '--format=%B']);
    expect(messages).not.toContain('forged-6.6.6-0');
    counters.add('repodata records tried that break the rules');
    counters.add('refused at resolve');
    counters.note(`a newline in a build: refused — "${ports(message)}"`);
  });

  test('a subdir of ../../etc is refused', async () => {
    const message = failed.get('repodata-traversal') ?? '';
    expect(message).toContain('subdir "../../etc"');
    expect(await manifestBranch('repodata-traversal')).toBeUndefined();
    counters.add('repodata records tried that break the rules');
    counters.add('refused at resolve');
    counters.note(`subdir ../../etc: refused — "${ports(message)}"`);
  });

  test('the clean channel resolves, and env.manifest lists exactly the packages of env.lock', async () => {
    expect(failed.has('repodata-clean')).toBe(false);
    const lock = parseLock((await fx.show('manifest/repodata-clean', 'env.lock')) as string);
    const manifest = parseManifest((await fx.show('manifest/repodata-clean', 'env.manifest')) as string);
    expect(manifest.map((e) => `${e.channel}/${e.subdir}/${e.dist}`).sort()).toEqual(lock.map((p) => `${p.channel}/${p.subdir}/${p.dist}`).sort());
    expect(lock.length).toBe(2);
  });
});
