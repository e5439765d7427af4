/**
 * Several platforms per environment (issue 13), deploy side: resolve → autotag → deploy on this
 * machine (linux-64) with the builtin installer and real archives of a three-platform channel.
 * Deploy installs this machine's lock, refuses an environment locked for other platforms only
 * (naming what it has) while the others deploy, and with an explicit platform override deploys
 * another platform's lock without running its post-link script, saying so in the log and summary.
 */
import { existsSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { machinePlatform } from '../../src/conda/platforms.js';
import { readMarker } from '../../src/deploy/layout.js';
import { formatLock } from '../../src/manifest/lock.js';
import { formatManifest } from '../../src/manifest/manifest.js';
import { autotag } from '../../src/phases/autotag.js';
import { deploy, platformPlan } from '../../src/phases/deploy.js';
import { resolve } from '../../src/phases/resolve.js';
import type { DeploySettings } from '../../src/phases/settings.js';
import { ConfigurationError } from '../../src/util/errors.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { buildPlatformsChannel, recordsAt, type BuiltChannel } from '../fixtures/channel/index.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { resolveSettings } from './resolve-support.js';

let fx: GitFixture;
let channel: BuiltChannel;
let target: string;

beforeEach(async () => {
  fx = await GitFixture.create();
  channel = await buildPlatformsChannel(path.join(fx.root, 'multi channel'));
  target = path.join(fx.root, 'deployed envs');
});
afterEach(async () => {
  await fx.cleanup();
});

const specOf = (platforms: string[] | undefined, packages: string[]): string =>
  `channels:\n  - ${channel.url}\n${platforms ? `platforms:\n${platforms.map((p) => `  - ${p}\n`).join('')}` : ''}env:\n${packages.map((p) => `  - ${p}\n`).join('')}`;

/** Commits the environments, resolves and tags them; returns env → tag. */
async function resolveAndTag(envs: Record<string, string>): Promise<Record<string, string>> {
  for (const [env, spec] of Object.entries(envs)) await fx.commit(env, { 'env.spec': spec });
  const logger = new MemoryLogger();
  const resolved = await resolve(resolveSettings(fx), { logger, env: {} });
  expect(resolved.failed).toEqual([]);
  const tagged = await autotag({ repository: fx.origin, envs: [], dryRun: false, workDir: fx.root }, { logger });
  return Object.fromEntries(tagged.tags.map((t) => [/^env-(.+)-\d{4}_\d\d_\d\d/.exec(t)?.[1] as string, t]));
}

function settings(over: Partial<DeploySettings> = {}): DeploySettings {
  return { repository: fx.origin, envs: [], dryRun: false, target, envLabels: ['*'], engine: 'builtin', prune: false, keep: 2, workDir: path.join(fx.root, 'work'), ...over };
}

async function runDeploy(over: Partial<DeploySettings> = {}) {
  const logger = new MemoryLogger();
  const result = await deploy(settings(over), { logger });
  return { result, logger };
}

const prefixOf = (tag: string, env: string, root = target) => path.join(root, env, tag.replace(`env-${env}-`, ''));
const platformTxt = (prefix: string) => fs.readFile(path.join(prefix, 'share', 'hello', 'platform.txt'), 'utf8');

test('this machine is linux-64; the override is checked', () => {
  expect(machinePlatform()).toBe('linux-64');
  expect(machinePlatform('linux', 'arm64')).toBe('linux-aarch64');
  expect(machinePlatform('darwin', 'arm64')).toBe('osx-arm64');
  expect(machinePlatform('darwin', 'x64')).toBe('osx-64');
  expect(machinePlatform('win32', 'x64')).toBe('win-64');
  expect(machinePlatform('linux', 'ppc64')).toBe('linux-ppc64le');
  expect(machinePlatform('aix', 'ppc64')).toBeUndefined();
  expect(platformPlan(undefined)).toEqual({ platform: 'linux-64', machine: 'linux-64', foreignPlatform: false });
  expect(platformPlan('linux-64')).toEqual({ platform: 'linux-64', machine: 'linux-64', foreignPlatform: false });
  expect(platformPlan('osx-arm64')).toEqual({ platform: 'osx-arm64', machine: 'linux-64', foreignPlatform: true });
  expect(platformPlan(undefined, () => 'linux-aarch64')).toEqual({ platform: 'linux-aarch64', machine: 'linux-aarch64', foreignPlatform: false });
  expect(() => platformPlan('osx-arm')).toThrow(ConfigurationError);
  expect(() => platformPlan('osx-arm')).toThrow(/Input platform: "osx-arm" is not a conda platform/);
  expect(() => platformPlan(undefined, () => undefined)).toThrow(/has no conda platform: give the platform input/);
});

test('deploy picks linux-64 here; an environment locked for osx-arm64 only is refused, naming what it has, and the others deploy', async () => {
  const tags = await resolveAndTag({
    default: specOf(['linux-64', 'linux-aarch64'], ['fastmath', 'tool']),
    mac: specOf(['osx-arm64'], ['tool']),
    plain: specOf(undefined, ['tool']),
  });
  const { result, logger } = await runDeploy();
  expect(result.failed).toEqual([{ env: 'mac', message: expect.stringContaining('mac has no lock for linux-64; it has osx-arm64') }]);
  expect(result.deployed.map((d) => d.env).sort()).toEqual(['default', 'plain']);
  // The two-platform environment: its linux-64 lock, and the package's post-link script ran.
  const prefix = prefixOf(tags.default, 'default');
  expect(await platformTxt(prefix)).toBe('linux-64\n');
  expect(await fs.readFile(path.join(prefix, 'lib', 'fastmath.txt'), 'utf8')).toBe('fastmath for linux-64\n');
  expect(existsSync(path.join(prefix, 'post-link-ran'))).toBe(true);
  expect(logger.lines('info')).toContain(`${tags.default}: installing env.linux-64.lock for linux-64`);
  expect(await platformTxt(prefixOf(tags.plain, 'plain'))).toBe('linux-64\n');
  // Nothing of mac was installed, and nothing is left behind.
  expect(existsSync(prefixOf(tags.mac, 'mac'))).toBe(false);
  expect(logger.lines('error').join('\n')).toContain('mac has no lock for linux-64; it has osx-arm64');
  expect(result.summary).toContain('failed: mac has no lock for linux-64; it has osx-arm64');
  expect(result.summary).not.toContain('explicit platform override');
});

test('with the platform override, osx-arm64 deploys without its post-link script; the log and summary say so; an env without that lock is refused', async () => {
  const tags = await resolveAndTag({
    mac: specOf(['osx-arm64'], ['tool']),
    default: specOf(['linux-64', 'linux-aarch64'], ['fastmath', 'tool']),
  });
  const shared = path.join(fx.root, 'shared with the macs');
  const { result, logger } = await runDeploy({ target: shared, platform: 'osx-arm64' });
  expect(result.failed).toEqual([{ env: 'default', message: expect.stringContaining('default has no lock for osx-arm64; it has linux-64, linux-aarch64') }]);
  const prefix = prefixOf(tags.mac, 'mac', shared);
  expect(result.deployed).toEqual([{ env: 'mac', tag: tags.mac, prefix }]);
  expect(await platformTxt(prefix)).toBe('osx-arm64\n');
  expect(existsSync(path.join(prefix, 'post-link-ran'))).toBe(false);
  expect(await readMarker(prefix)).toMatchObject({ tag: tags.mac, packages: 2 });
  const note = 'Deploying the osx-arm64 locks on a linux-64 machine (explicit platform override): post-link scripts and smoke tests are not run.';
  expect(logger.lines('warning')).toContain(note);
  expect(logger.lines('info')).toContain('Built for osx-arm64: post-link scripts not run, noarch python modules not byte-compiled');
  expect(result.summary).toContain(note);
});

test("the issue's message: an override to linux-aarch64 of an environment of linux-64 and osx-arm64", async () => {
  const tag = (await resolveAndTag({ default: specOf(['linux-64', 'osx-arm64'], ['tool']) })).default;
  const { result } = await runDeploy({ platform: 'linux-aarch64' });
  expect(result.failed).toHaveLength(1);
  expect(result.failed[0].message).toBe(`${tag}: default has no lock for linux-aarch64; it has linux-64, osx-arm64`);
  expect(result.deployed).toEqual([]);
});

test('a single-platform lock whose "# platform:" is not this machine\'s is refused; the override installs it', async () => {
  // As resolve with --platform linux-aarch64 makes it: today's three files, for linux-aarch64.
  await fx.commit('arm', { 'env.spec': specOf(undefined, ['tool']) });
  expect((await resolve(resolveSettings(fx, { platform: 'linux-aarch64' }), { logger: new MemoryLogger(), env: {} })).failed).toEqual([]);
  expect((await fx.show('manifest/arm', 'env.lock'))?.split('\n')[0]).toBe('# platform: linux-aarch64');
  await autotag({ repository: fx.origin, envs: [], dryRun: false, workDir: fx.root }, { logger: new MemoryLogger() });
  const { result } = await runDeploy();
  expect(result.failed).toEqual([{ env: 'arm', message: expect.stringMatching(/^env-arm-[0-9_]+: arm has no lock for linux-64; it has linux-aarch64$/) }]);
  expect(result.deployed).toEqual([]);
  expect((await runDeploy({ platform: 'linux-aarch64' })).result.failed).toEqual([]);
});

test('an old-tool tag (env.manifest only) or a lock without "# platform:" is judged by its packages\' subdirs', async () => {
  const osx = channel.packages.filter((p) => (p.record.name === 'hello' && p.subdir === 'osx-arm64') || p.record.name === 'tool');
  const linux = channel.packages.filter((p) => (p.record.name === 'hello' && p.subdir === 'linux-64') || p.record.name === 'tool');
  const spec = specOf(undefined, ['tool']);
  for (const env of ['oldmac', 'nohead', 'oldlinux']) await fx.commit(env, { 'env.spec': spec });
  await fx.commit('manifest/oldmac', { 'env.spec': spec, 'env.manifest': formatManifest(recordsAt(channel.url, osx)) });
  await fx.tag('env-oldmac-2026_01_01', 'manifest/oldmac');
  const headless = formatLock(recordsAt(channel.url, osx), { platform: 'osx-arm64', env: 'nohead' }).replace(/^# platform: .*\n/, '');
  await fx.commit('manifest/nohead', { 'env.spec': spec, 'env.lock': headless, 'env.manifest': formatManifest(recordsAt(channel.url, osx)) });
  await fx.tag('env-nohead-2026_01_01', 'manifest/nohead');
  await fx.commit('manifest/oldlinux', { 'env.spec': spec, 'env.manifest': formatManifest(recordsAt(channel.url, linux)) });
  await fx.tag('env-oldlinux-2026_01_01', 'manifest/oldlinux');

  const { result } = await runDeploy();
  expect(result.failed.sort((a, b) => a.env.localeCompare(b.env))).toEqual([
    { env: 'nohead', message: 'env-nohead-2026_01_01: nohead has no lock for linux-64; it has osx-arm64' },
    { env: 'oldmac', message: 'env-oldmac-2026_01_01: oldmac has no lock for linux-64; it has osx-arm64' },
  ]);
  expect(result.deployed.map((d) => d.env)).toEqual(['oldlinux']);
  expect(await platformTxt(path.join(target, 'oldlinux', '2026_01_01'))).toBe('linux-64\n');
});

test('a prefix built for another platform is never taken as up to date, nor replaced, by a deploy of this platform into the same target', async () => {
  const tag = (await resolveAndTag({ both: specOf(['linux-64', 'osx-arm64'], ['tool']) })).both;
  const shared = path.join(fx.root, 'one target for all');
  expect((await runDeploy({ target: shared, platform: 'osx-arm64' })).result.failed).toEqual([]);
  const prefix = prefixOf(tag, 'both', shared);
  expect(await readMarker(prefix)).toMatchObject({ tag, platform: 'osx-arm64' });

  const { result } = await runDeploy({ target: shared });
  expect(result.failed).toEqual([{ env: 'both', message: `${tag}: ${prefix} holds ${tag} for osx-arm64, not linux-64: deploy each platform into a target of its own` }]);
  expect(result.deployed).toEqual([]);
  expect(await platformTxt(prefix)).toBe('osx-arm64\n');
  // Its own target is fine, and records the platform.
  expect((await runDeploy()).result.failed).toEqual([]);
  expect(await readMarker(prefixOf(tag, 'both'))).toMatchObject({ tag, platform: 'linux-64' });
});

test("another platform's prefix runs no smoke tests (nor activation scripts): recorded as skipped, labels move", async () => {
  const tags = await resolveAndTag({ mac: `${specOf(['osx-arm64'], ['tool'])}tests:\n  - exit 1\n` });
  const shared = path.join(fx.root, 'shared with the macs');
  const { result, logger } = await runDeploy({ target: shared, platform: 'osx-arm64' });
  expect(result.failed).toEqual([]);
  const prefix = prefixOf(tags.mac, 'mac', shared);
  expect(await readMarker(prefix)).toMatchObject({ tests: { status: 'skipped', commands: ['exit 1'] }, activation: { set: {}, prepend: {}, append: {} } });
  expect(logger.lines('info').join('\n')).toContain("1 smoke test not run (the prefix is not for this machine's platform)");
  expect(await fs.readlink(path.join(shared, 'mac', 'latest'))).toBe(path.basename(prefix));
});
