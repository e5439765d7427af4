/**
 * Labels, names and paths (issue 15, items 11, 12, 13 and 15), as a careless user or a site's admin
 * would meet them: a directory standing where a label's symlink goes, a label name too long for the
 * file system, a label command with a name over 100 characters, an environment name so long that
 * its tag's ref cannot be written, a relative target, links the site made beside the labels, and a
 * target path holding `$(...)` or backticks. Each must fail only what it concerns, with a clear
 * message, and leave everything else deployed, linked, tagged and unexecuted.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { autotag } from '../../src/phases/autotag.js';
import { deploy } from '../../src/phases/deploy.js';
import { label } from '../../src/phases/label.js';
import type { DeploySettings } from '../../src/phases/settings.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { serveChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { buildAppChannel, type AppChannel } from './support/app-channel.js';
import { ensureCli, runCliOk } from './support/cli.js';
import { Counters, recordFigures } from './support/figures.js';
import { PlumbingRepo, recordsAt, specFor } from './support/repo.js';
import { checkDeployInvariants } from './support/tree.js';
import { formatLock } from '../../src/manifest/lock.js';
import { formatManifest } from '../../src/manifest/manifest.js';

const run = promisify(execFile);
const counters = new Counters();
let fx: GitFixture;
let app: AppChannel;
let server: ChannelServer;
let repo: PlumbingRepo;
let url: string;

const day = (n: number) => `2026-01-0${n}T10:00:00Z`;

beforeAll(async () => {
  fx = await GitFixture.create();
  app = await buildAppChannel(path.join(fx.root, 'channels', 'app'));
  server = await serveChannel(path.join(fx.root, 'channels'));
  url = `${server.url}/app`;
  repo = new PlumbingRepo(fx.origin);
}, 300_000);

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
  await recordFigures('layout', { figures: counters.figures, details: counters.details });
});

function settings(target: string, envs: string[], extra: Partial<DeploySettings> = {}): DeploySettings {
  return { repository: fx.origin, envs, dryRun: false, target, envLabels: ['*'], engine: 'builtin', prune: false, keep: 2, ...extra };
}

async function deployLogged(s: DeploySettings) {
  const logger = new MemoryLogger();
  return { result: await deploy(s, { logger }), logger };
}

describe('one label that cannot be linked fails only itself (item 11)', () => {
  test('a directory at a label path: that label fails, reported; the later labels and latest are linked', async () => {
    await repo.envAt('blocked', 'env-blocked-2026_01_01', url, app.v1, day(1), { current: 'env-blocked-2026_01_01', next: 'env-blocked-2026_01_01' });
    const target = path.join(fx.root, 'target-11a');
    await fs.mkdir(path.join(target, 'blocked', 'current'), { recursive: true });
    await fs.writeFile(path.join(target, 'blocked', 'current', 'site-file.txt'), 'the site put this here\n');
    const { result, logger } = await deployLogged(settings(target, ['blocked']));
    expect(result.failed.map((f) => f.env)).toEqual(['blocked']);
    expect(result.failed[0].message).toContain('label current');
    expect(logger.lines('error').join('\n')).toContain('blocked/current');
    expect(await fs.readlink(path.join(target, 'blocked', 'latest'))).toBe('2026_01_01');
    expect(await fs.readlink(path.join(target, 'blocked', 'next'))).toBe('2026_01_01');
    expect(await fs.readFile(path.join(target, 'blocked', 'current', 'site-file.txt'), 'utf8')).toBe('the site put this here\n');
    counters.add('cases tried');
    counters.add('labels that could not be linked, each reported alone');
    counters.note('a directory at blocked/current: that label failed and was reported; next and latest linked; the directory untouched');
  });

  test('a label name too long for the file system: that label fails, reported; latest is linked', async () => {
    const long = 'a'.repeat(250);
    await repo.envAt('longlabel', 'env-longlabel-2026_01_01', url, app.v1, day(1), { [long]: 'env-longlabel-2026_01_01', current: 'env-longlabel-2026_01_01' });
    const target = path.join(fx.root, 'target-11b');
    const { result } = await deployLogged(settings(target, ['longlabel']));
    expect(result.failed.map((f) => f.env)).toEqual(['longlabel']);
    expect(result.failed[0].message).toContain(`label ${long}`);
    const labels = await checkDeployInvariants(target);
    expect(labels.longlabel).toEqual({ current: '2026_01_01', latest: '2026_01_01' });
    counters.add('cases tried');
    counters.add('labels that could not be linked, each reported alone');
    counters.note('a 250-character label: that label failed (its temporary link name is too long) and was reported; current and latest linked');
  });

  test('gitenv label refuses a label name over 100 characters, pushing nothing', async () => {
    await repo.envAt('labelled', 'env-labelled-2026_01_01', url, app.v1, day(1));
    const before = await fx.refs();
    await expect(label({ repository: fx.origin, envs: [], dryRun: false, tag: 'env-labelled-2026_01_01', nextOnly: false, label: 'l'.repeat(101) }, { logger: new MemoryLogger() })).rejects.toThrow(
      'a label name is at most 100 characters long (this one has 101)',
    );
    expect(await fx.refs()).toEqual(before);
    const ok = await label({ repository: fx.origin, envs: [], dryRun: false, tag: 'env-labelled-2026_01_01', nextOnly: false, label: 'l'.repeat(100) }, { logger: new MemoryLogger() });
    expect(Object.keys(ok.labels)).toEqual(['l'.repeat(100)]);
    counters.add('cases tried');
    counters.add('names refused up front');
  });

  test('a 240-character environment name is skipped with a warning; the good environments are tagged', async () => {
    const long = 'e'.repeat(240);
    for (const env of [long, 'fine']) {
      const records = recordsAt(url, app.v1);
      const spec = specFor(url, ['tool']);
      await repo.commit(env, { 'env.spec': spec }, day(3));
      await repo.commit(
        `manifest/${env}`,
        { 'env.spec': spec, 'env.lock': formatLock(records, { platform: 'linux-64', env }), 'env.manifest': formatManifest(records) },
        day(3),
        `Manifest update for ${env}`,
      );
    }
    const logger = new MemoryLogger();
    const r = await autotag({ repository: fx.origin, envs: [], dryRun: false }, { logger });
    expect(r.failed).toEqual([]);
    const tags = await fx.tags();
    expect(tags).toContain('env-fine-2026_01_03');
    expect(tags.filter((t) => t.includes(long))).toEqual([]);
    expect(logger.lines('warning').join('\n')).toContain(`Skipping branch manifest/${long}: an environment name is at most 200 characters long`);
    counters.add('cases tried');
    counters.add('names refused up front');
    counters.note('a 240-character environment name: skipped with a warning; the other environment tagged in the same push');
  });
});

describe('a relative target is made absolute first (item 12)', () => {
  const toolScript = (target: string) => fs.readFile(path.join(target, 'rel', '2026_01_01', 'bin', 'tool'), 'utf8');

  beforeAll(async () => {
    await repo.envAt('rel', 'env-rel-2026_01_01', url, app.v1, day(1));
  });

  test('the CLI: prefixes hold the absolute path', async () => {
    await runCliOk(ensureCli(), ['deploy', fx.origin, 'rel-target', '--env-labels', 'rel/*'], { cwd: fx.root });
    const abs = path.join(fx.root, 'rel-target');
    expect(await toolScript(abs)).toContain(`exec "${abs}/rel/2026_01_01/lib/libbase.so"`);
    counters.add('cases tried');
    counters.add('relative targets deployed with absolute prefixes');
  });

  test('the phase (what the action calls): the same', async () => {
    const abs = path.join(fx.root, 'rel-target-phase');
    const { result } = await deployLogged(settings(path.relative(process.cwd(), abs), ['rel']));
    expect(result.failed).toEqual([]);
    expect(result.deployed.map((d) => d.prefix)).toEqual([path.join(abs, 'rel', '2026_01_01')]);
    expect(await toolScript(abs)).toContain(`exec "${abs}/rel/2026_01_01/lib/libbase.so"`);
    const record = JSON.parse(await fs.readFile(path.join(abs, 'rel', '2026_01_01', 'conda-meta', 'gitenv.json'), 'utf8')) as { env: string };
    expect(record.env).toBe('rel');
    counters.add('cases tried');
    counters.add('relative targets deployed with absolute prefixes');
    counters.note('relative targets (CLI and phase): every prefix-replaced file holds the absolute prefix');
  });
});

describe('links the site made (item 13)', () => {
  test('protect their prefixes from prune and are not removed as labels gone', async () => {
    await repo.envAt('site', 'env-site-2026_01_01', url, app.v1, day(1), { current: 'env-site-2026_01_01' });
    await repo.envAt('site', 'env-site-2026_01_02', url, app.v1, day(2), { current: 'env-site-2026_01_01', next: 'env-site-2026_01_02' });
    await repo.envAt('site', 'env-site-2026_01_03', url, app.v1, day(3), { current: 'env-site-2026_01_01', next: 'env-site-2026_01_02' });
    const target = path.join(fx.root, 'target-13');
    const dir = path.join(target, 'site');
    const first = await deployLogged(settings(target, ['site']));
    expect(first.result.failed).toEqual([]);
    expect((await fs.readdir(dir)).filter((n) => /^\d{4}_/.test(n)).sort()).toEqual(['2026_01_01', '2026_01_02', '2026_01_03']);
    // the site pins two prefixes its own way
    await fs.symlink('./2026_01_01', path.join(dir, 'pinned'));
    await fs.symlink(path.join(dir, '2026_01_02'), path.join(dir, 'frozen'));
    // the repository drops both labels; prune keeps no unlabelled prefix
    await repo.commit('site', { 'env.spec': specFor(url, ['libbase', 'tool', 'data']) }, day(4));
    const { result, logger } = await deployLogged(settings(target, ['site'], { prune: true, keep: 0 }));
    expect(result.failed).toEqual([]);
    expect(await fs.readlink(path.join(dir, 'pinned'))).toBe('./2026_01_01');
    expect(await fs.readlink(path.join(dir, 'frozen'))).toBe(path.join(dir, '2026_01_02'));
    expect(await fs.stat(path.join(dir, 'pinned', 'conda-meta', 'gitenv.json'))).toBeDefined();
    expect(await fs.stat(path.join(dir, 'frozen', 'conda-meta', 'gitenv.json'))).toBeDefined();
    await expect(fs.lstat(path.join(dir, 'current'))).rejects.toThrow();
    await expect(fs.lstat(path.join(dir, 'next'))).rejects.toThrow();
    expect(logger.text()).not.toMatch(/Removing site\/(pinned|frozen)|Pruned site\/2026_01_0[12]/);
    counters.add('cases tried');
    counters.add('site-made links kept, their prefixes not pruned', 2);
    counters.note('pinned -> ./2026_01_01 and an absolute link: both kept and both prefixes kept by prune --keep 0; the labels removed from the repository unlinked');
  });
});

describe('a target a shell would interpret (item 15)', () => {
  beforeAll(async () => {
    await repo.envAt('shell', 'env-shell-2026_01_01', url, app.v1, day(1));
  });

  test.each([
    ['$(...)', 't-$(touch pwned)-x'],
    ['backticks', 't-`touch pwned`-x'],
    ['a double quote', 't-"-x'],
  ])('a target holding %s is refused before anything is written; nothing runs', async (_what, name) => {
    const target = path.join(fx.root, name);
    await expect(deploy(settings(target, ['shell']), { logger: new MemoryLogger() })).rejects.toThrow('which a shell interprets inside double quotes');
    await expect(fs.lstat(target)).rejects.toThrow();
    // what would have run: the package's script, with the prefix baked in, from the fixture root
    const script = path.join(target, 'shell', '2026_01_01', 'bin', 'tool');
    if (await fs.lstat(script).catch(() => undefined)) await run('/bin/sh', [script], { cwd: fx.root }).catch(() => undefined);
    await expect(fs.lstat(path.join(fx.root, 'pwned'))).rejects.toThrow();
    counters.add('cases tried');
    counters.add('targets refused (shell-active characters)');
  });
});
