/**
 * Several platforms per environment (issue 13), resolve side: env.spec `platforms:` on a channel of
 * linux-64, linux-aarch64, osx-arm64 and noarch served over loopback HTTP; per-platform manifest
 * files; each lock installable by py-rattler for its platform and what py-rattler's own solve picks;
 * a repository resolved before this issue (by the gitenv bundle of that commit) stays byte-identical.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { buildChannel, buildPlatformsChannel, buildSeedChannel, serveChannel, type BuiltChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { GitHubApiServer } from '../fixtures/github-api-server.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { OctokitGitHubClient } from '../../src/github/client.js';
import { hasPyRattler, rattlerInstall } from '../conformance/prefix-snapshot.js';
import { parseLockFile } from '../../src/manifest/lock.js';
import { resolve, type ResolveResult } from '../../src/phases/resolve.js';
import type { ResolveSettings } from '../../src/phases/settings.js';
import { virtualPackages } from '../../src/conda/virtual-packages.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { resolveSettings } from './resolve-support.js';

const runFile = promisify(execFile);

const rattlerPresent = await hasPyRattler();
if (!rattlerPresent) {
  const message = '\n!!! py-rattler is not installed: its part of resolve-platforms is SKIPPED (bash .ci/setup-extra installs it).\n';
  if (process.env.CI) throw new Error(`py-rattler missing in CI: .ci/setup-extra should have installed it.${message}`);
  process.stderr.write(message);
}
const withRattler = rattlerPresent ? test : test.skip;

let fx: GitFixture;
let channel: BuiltChannel;
let server: ChannelServer;
let channelUrl: string;

beforeEach(async () => {
  fx = await GitFixture.create();
  channel = await buildPlatformsChannel(path.join(fx.root, 'channels', 'multi'));
  server = await serveChannel(path.join(fx.root, 'channels'));
  channelUrl = `${server.url}/multi`;
});
afterEach(async () => {
  await server?.close();
  await fx.cleanup();
});

const specOf = (platforms: string[] | undefined, packages: string[]): string =>
  `channels:\n  - ${channelUrl}\n${platforms ? `platforms:\n${platforms.map((p) => `  - ${p}\n`).join('')}` : ''}env:\n${packages.map((p) => `  - ${p}\n`).join('')}`;

async function run(extra: Partial<ResolveSettings> = {}, services: Partial<Parameters<typeof resolve>[1]> = {}): Promise<{ result: ResolveResult; logger: MemoryLogger }> {
  const logger = new MemoryLogger();
  const result = await resolve(resolveSettings(fx, extra), { logger, env: {}, ...services });
  return { result, logger };
}

/** A file of origin byte for byte, or undefined. */
const show = (rev: string, file: string): string | undefined => {
  try {
    return execFileSync('git', ['--git-dir', fx.origin, 'cat-file', 'blob', `${rev}:${file}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
};
const filesOf = async (rev: string): Promise<string[]> => (await fx.originGit(['ls-tree', '--name-only', rev])).split('\n').filter(Boolean).sort();
const message = (rev: string): Promise<string> => fx.originGit(['log', '-1', '--format=%B', rev]);
const dists = (lock: string): string[] =>
  parseLockFile(lock)
    .packages.map((p) => `${p.subdir}/${p.dist}`)
    .sort();

test('three platforms, one of which lacks a package: the environment fails as a whole, naming that platform', async () => {
  await fx.commit('default', { 'env.spec': specOf(['linux-64', 'linux-aarch64', 'osx-arm64'], ['fastmath', 'tool']) });
  const { result, logger } = await run();
  expect(result.changed).toEqual([]);
  expect(result.failed).toHaveLength(1);
  expect(result.failed[0].env).toBe('default');
  expect(result.failed[0].message).toMatch(/^environment "default" cannot be resolved for platform osx-arm64: /);
  expect(result.failed[0].message).toMatch(/fastmath/);
  expect(result.failed[0].message).not.toMatch(/platform linux-/);
  expect(logger.lines('error').join('\n')).toMatch(/osx-arm64/);
  expect((await fx.refs())['refs/heads/manifest/default']).toBeUndefined();
});

test('two platforms: env.spec and a manifest and a lock per platform; noarch repodata fetched once', async () => {
  const specText = specOf(['linux-64', 'linux-aarch64'], ['fastmath', 'tool']);
  await fx.commit('default', { 'env.spec': specText });
  const { result, logger } = await run();
  expect(result).toMatchObject({ changed: ['default'], failed: [] });
  const branch = 'refs/heads/manifest/default';
  expect(await filesOf(branch)).toEqual(['env.linux-64.lock', 'env.linux-64.manifest', 'env.linux-aarch64.lock', 'env.linux-aarch64.manifest', 'env.spec']);
  expect(show(branch, 'env.spec')).toBe(specText);
  for (const platform of ['linux-64', 'linux-aarch64']) {
    const lock = show(branch, `env.${platform}.lock`) as string;
    expect(lock.split('\n').slice(0, 2)).toEqual([`# platform: ${platform}`, '# env: default']);
    expect(dists(lock)).toEqual([`${platform}/fastmath-2.0-0`, `${platform}/hello-1.0-0`, 'noarch/tool-1.0-0']);
    expect(show(branch, `env.${platform}.manifest`)).toBe(
      [`${channelUrl}/${platform}\tfastmath-2.0-0`, `${channelUrl}/${platform}\thello-1.0-0`, `${channelUrl}/noarch\ttool-1.0-0`].join('\n') + '\n',
    );
  }
  expect(await message(branch)).toBe('Manifest update for default\n\nlinux-64:\n+ fastmath 2.0 0\n+ hello 1.0 0\n+ tool 1.0 0\nlinux-aarch64:\n+ fastmath 2.0 0\n+ hello 1.0 0\n+ tool 1.0 0');
  // The platforms share the noarch repodata: one request for it in the whole run.
  const noarch = server.requests.filter((r) => r.path.startsWith('/multi/noarch/repodata') && r.status === 200);
  expect(noarch).toHaveLength(1);
  expect(result.summary).toMatch(/`default` \(`linux-64`\) \| 3 \| 3 \| 0 \| 0 \| pushed/);
  expect(result.summary).toMatch(/`default` \(`linux-aarch64`\) \| 3 \| 3 \| 0 \| 0 \| pushed/);
  expect(logger.lines('info')).toContain('default: packages linux-64 3, linux-aarch64 3; 6 added, 0 removed, 0 changed');

  // Nothing changed: no commit.
  const head = (await fx.refs())[branch];
  expect((await run()).result.changed).toEqual([]);
  expect((await fx.refs())[branch]).toBe(head);
});

withRattler("each platform's lock is what py-rattler solves for that platform, and py-rattler installs it for that platform", async () => {
  await fx.commit('default', { 'env.spec': specOf(['linux-64', 'linux-aarch64'], ['fastmath', 'tool']) });
  expect((await run()).result.failed).toEqual([]);
  for (const platform of ['linux-64', 'linux-aarch64']) {
    const lock = parseLockFile(show('refs/heads/manifest/default', `env.${platform}.lock`) as string);
    expect(lock.platform).toBe(platform);
    const theirs = await rattlerSolve(channel.url, platform, ['fastmath', 'tool']);
    expect(lock.packages.map((p) => `${p.subdir}/${p.dist}`).sort()).toEqual(theirs);
    const prefix = path.join(fx.root, `rattler ${platform}`);
    await rattlerInstall(
      lock.packages.map((p) => ({ channel: channel.url, subdir: p.subdir, fn: p.fn })),
      prefix,
      path.join(fx.root, 'rattler cache'),
      fx.root,
      true,
      platform,
    );
    expect(await fs.readFile(path.join(prefix, 'share', 'hello', 'platform.txt'), 'utf8')).toBe(`${platform}\n`);
    expect(await fs.readFile(path.join(prefix, 'lib', 'fastmath.txt'), 'utf8')).toBe(`fastmath for ${platform}\n`);
    const meta = (await fs.readdir(path.join(prefix, 'conda-meta'))).filter((n) => n.endsWith('.json')).sort();
    expect(meta).toEqual(['fastmath-2.0-0.json', 'hello-1.0-0.json', 'tool-1.0-0.json']);
  }
});

test('a change that touches one platform: the commit message, the summary and the check diff name only that platform', async () => {
  await fx.commit('default', { 'env.spec': specOf(['linux-64', 'linux-aarch64'], ['fastmath', 'tool']) });
  expect((await run()).result.failed).toEqual([]);
  // fastmath 2.1 appears for linux-aarch64 only.
  await buildChannel(channel.dir, [...channel.packages, { name: 'fastmath', version: '2.1', subdir: 'linux-aarch64', depends: ['hello'] }], {
    subdirs: ['linux-64', 'linux-aarch64', 'osx-arm64'],
  });

  const head = await fx.originGit(['rev-parse', 'refs/heads/default']);
  const check = await run({ mode: 'check', cacheDir: path.join(fx.root, 'cache 2') }, { pullRequest: { number: 7, baseRef: 'default', headSha: head } });
  expect(check.result).toMatchObject({ changed: ['default'], failed: [] });
  const comment = check.result.summary.slice(check.result.summary.indexOf('gitenv-check:default'));
  expect(comment).toContain('### linux-aarch64');
  expect(comment).toContain('fastmath');
  expect(comment).not.toContain('linux-64');

  const { result } = await run({ cacheDir: path.join(fx.root, 'cache 3') });
  expect(result.changed).toEqual(['default']);
  expect(await message('refs/heads/manifest/default')).toBe('Manifest update for default\n\nlinux-aarch64:\n~ fastmath 2.0 0 -> 2.1 0');
  const details = result.summary.slice(result.summary.indexOf('<details>'));
  expect(details).toContain('# linux-aarch64\n~ fastmath 2.0 0 -> 2.1 0');
  expect(details).not.toContain('linux-64');
  expect(show('refs/heads/manifest/default', 'env.linux-aarch64.manifest')).toContain('fastmath-2.1-0');
  expect(show('refs/heads/manifest/default', 'env.linux-64.manifest')).toContain('fastmath-2.0-0');
});

test('an unknown platform in env.spec is a user error naming the file and line; the other environments resolve', async () => {
  await fx.commit('default', { 'env.spec': specOf(['linux-64', 'linux-arm64'], ['tool']) });
  await fx.commit('other', { 'env.spec': specOf(undefined, ['tool']) });
  const { result, logger } = await run();
  expect(result.changed).toEqual(['other']);
  expect(result.failed).toEqual([{ env: 'default', message: expect.stringMatching(/^env\.spec line 5 of environment "default": "linux-arm64" is not a conda platform/) }]);
  expect(logger.records.some((r) => r.level === 'error' && r.props?.file === 'env.spec' && r.props.startLine === 5)).toBe(true);
});

test("one platform in env.spec gives today's three files; going to two platforms replaces them, and back again", async () => {
  await fx.commit('default', { 'env.spec': specOf(['osx-arm64'], ['tool']) });
  expect((await run()).result.failed).toEqual([]);
  const branch = 'refs/heads/manifest/default';
  expect(await filesOf(branch)).toEqual(['env.lock', 'env.manifest', 'env.spec']);
  expect(show(branch, 'env.lock')?.split('\n')[0]).toBe('# platform: osx-arm64');
  expect(dists(show(branch, 'env.lock') as string)).toEqual(['noarch/tool-1.0-0', 'osx-arm64/hello-1.0-0']);

  await fx.commit('default', { 'env.spec': specOf(['osx-arm64', 'linux-64'], ['tool']) });
  expect((await run()).result.changed).toEqual(['default']);
  expect(await filesOf(branch)).toEqual(['env.linux-64.lock', 'env.linux-64.manifest', 'env.osx-arm64.lock', 'env.osx-arm64.manifest', 'env.spec']);
  // osx-arm64 was there before: only linux-64 is new.
  expect(await message(branch)).toBe('Manifest update for default\n\nlinux-64:\n+ hello 1.0 0\n+ tool 1.0 0');

  await fx.commit('default', { 'env.spec': specOf(undefined, ['tool']) });
  expect((await run()).result.changed).toEqual(['default']);
  expect(await filesOf(branch)).toEqual(['env.lock', 'env.manifest', 'env.spec']);
  expect(show(branch, 'env.lock')?.split('\n')[0]).toBe('# platform: linux-64');
});

test('CONDA_OVERRIDE_GLIBC applies to every Linux platform: below what hello needs, both fail, and the first is named', async () => {
  await fx.commit('default', { 'env.spec': specOf(['linux-aarch64', 'linux-64'], ['hello']) });
  const { result } = await run({}, { env: { CONDA_OVERRIDE_GLIBC: '2.12' } });
  expect(result.failed[0].message).toMatch(/^environment "default" cannot be resolved for platform linux-aarch64: .*__glibc/s);
});

/** The gitenv CLI bundle of the last commit before issue 13 (a repository "made before this issue"). */
const BEFORE_ISSUE_13 = 'f0b46cafee3b9051a4ef84af6545208365337960';

test('a single-platform repository resolved before this issue resolves to byte-identical files', async () => {
  const seed = await buildSeedChannel(path.join(fx.root, 'seed channel'));
  const specText = `channels:\n  - ${seed.url}\nenv:\n  - python 3.*\n  - pyhello\n`;
  await fx.commit('default', { 'env.spec': specText });
  const old = path.join(fx.root, 'old gitenv');
  await fs.mkdir(old);
  const bundle = execFileSync('git', ['show', `${BEFORE_ISSUE_13}:dist/cli/index.js`], { maxBuffer: 64 << 20 });
  await fs.writeFile(path.join(old, 'index.js'), bundle);
  await fs.writeFile(path.join(old, 'package.json'), '{"type":"module"}\n');
  await runFile(process.execPath, [path.join(old, 'index.js'), 'resolve', fx.origin], { env: { ...process.env, RUNNER_TEMP: fx.root, XDG_CACHE_HOME: path.join(fx.root, 'xdg') } });

  const branch = 'refs/heads/manifest/default';
  const before = (await fx.refs())[branch];
  const files = ['env.lock', 'env.manifest', 'env.spec'];
  const oldFiles = files.map((f) => show(branch, f));
  const oldMessage = await message(branch);
  expect(oldFiles[0]).toMatch(/^# platform: linux-64\n/);

  expect((await run()).result).toMatchObject({ changed: [], failed: [] });
  expect((await fx.refs())[branch]).toBe(before);

  // From scratch, this gitenv writes the same bytes and the same message.
  await fx.originGit(['update-ref', '-d', branch]);
  expect((await run()).result).toMatchObject({ changed: ['default'], failed: [] });
  expect(await filesOf(branch)).toEqual(files);
  expect(files.map((f) => show(branch, f))).toEqual(oldFiles);
  expect(await message(branch)).toBe(oldMessage);
});

const RATTLER_SOLVE = `
import asyncio, json, os, sys
import rattler
from rattler import Channel, GenericVirtualPackage, PackageName, Platform, Version
from rattler.package.build_string import BuildString

async def main(url, platform, virtual, specs):
    vps = [GenericVirtualPackage(PackageName(v["name"]), Version(v["version"]), BuildString(v["build"])) for v in json.loads(virtual)]
    records = await rattler.solve(sources=[Channel(url)], specs=specs, platforms=[Platform(platform), Platform("noarch")], virtual_packages=vps)
    print(json.dumps(sorted(f"{r.subdir}/{r.name.normalized}-{r.version}-{r.build}" for r in records)))

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]))
# py-rattler's threads can crash the interpreter while it finalizes; what was asked is done by now
sys.stdout.flush()
os._exit(0)
`;

/** py-rattler's own solve for `platform`, with gitenv's default virtual packages of that platform. */
async function rattlerSolve(url: string, platform: string, specs: string[]): Promise<string[]> {
  const virtual = JSON.stringify(virtualPackages(platform, {}));
  const { stdout } = await runFile('python3', ['-c', RATTLER_SOLVE, url, platform, virtual, ...specs]);
  return JSON.parse(stdout.trim().split('\n').pop() as string) as string[];
}

test('pull-request mode: going from one platform to two proposes a commit that replaces env.manifest and env.lock, its body a section per platform', async () => {
  const TOKEN = 'ghs_loopbackToken456';
  const api = await GitHubApiServer.start({ token: TOKEN, repository: 'octo/envs' });
  try {
    await fx.commit('default', { 'env.spec': specOf(['linux-64'], ['tool']) });
    expect((await run()).result.failed).toEqual([]);
    const base = (await fx.refs())['refs/heads/manifest/default'];
    await fx.commit('default', { 'env.spec': specOf(['linux-64', 'osx-arm64'], ['tool']) });
    const github = new OctokitGitHubClient({ token: TOKEN, repository: 'octo/envs', baseUrl: api.url });
    const { result } = await run({ mode: 'pull-request' }, { github });
    expect(result.pullRequests).toMatchObject([{ env: 'default', action: 'opened', number: 1 }]);
    expect((await fx.refs())['refs/heads/manifest/default']).toBe(base);
    const proposed = 'refs/heads/gitenv/update/default';
    expect(await filesOf(proposed)).toEqual(['env.linux-64.lock', 'env.linux-64.manifest', 'env.osx-arm64.lock', 'env.osx-arm64.manifest', 'env.spec']);
    // linux-64 was env.manifest before: the same packages, so only osx-arm64 is named.
    expect(await message(proposed)).toBe('Manifest update for default\n\nosx-arm64:\n+ hello 1.0 0\n+ tool 1.0 0');
    const body = (api.requests.find((r) => r.method === 'POST')?.body as Record<string, string>).body;
    expect(body).toContain('### osx-arm64');
    expect(body).not.toContain('### linux-64');
    expect(body).toContain('#### env.spec');
    expect(body.match(/#### env\.spec/g)).toHaveLength(1);
  } finally {
    await api.close();
  }
});
