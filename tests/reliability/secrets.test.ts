/**
 * Secrets: a channel server that demands basic auth (api-user/api-key) and a git smart-HTTP server
 * that demands a token; resolve, autotag, label and deploy through the CLI bundle with both, a deploy
 * with a wrong key, a resolve with the token inside the repository URL, and the deploy and resolve
 * phases in-process for their summaries and results. Then every file under the targets and package
 * caches, every object and file of the repository, every temporary file the runs left, every output
 * line, summary and result is searched for the secrets: plain, URL-encoded and base64 (alone and in
 * the `user:secret` pairs that auth headers carry). None may be found.
 * A second environment, `probe`, holds package code that writes the environment it is given into its
 * prefix (a post-link script, and the python that byte-compiles a noarch package): the runner's
 * secrets (INPUT_*, GITHUB_TOKEN) and gitenv's must not be in it.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { deploy } from '../../src/phases/deploy.js';
import { resolve } from '../../src/phases/resolve.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { buildChannel, serveChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { systemPython } from '../conformance/fixture-env.js';
import { GitHttpServer } from '../fixtures/git-http-server.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { buildAppChannel } from './support/app-channel.js';
import { ensureCli, runCli, type RunResult } from './support/cli.js';
import { Counters, recordFigures } from './support/figures.js';
import { specFor } from './support/repo.js';

const USER = 'reliability-api-user';
const KEY = 'Sup3r/Secret+Key=42&x';
const TOKEN = 'ghp_reliabilityT0KEN1234567890abcdef';
/** A password inside a --mirror URL: never to be shown, whatever happens to the download. */
const MIRROR_SECRET = 'mirr0r-Secret/77';
/** The runner's own token (GITHUB_TOKEN), there whether or not gitenv uses it. */
const RUNNER_TOKEN = 'ghs_runnerOwnT0kenNotForPackages99';

/** Every form a secret could leak in. */
const FORMS: [string, string][] = [
  ['api key', KEY],
  ['api key, URL-encoded', encodeURIComponent(KEY)],
  ['api key, base64', Buffer.from(KEY).toString('base64')],
  ['user:key, base64 (basic auth)', Buffer.from(`${USER}:${KEY}`).toString('base64')],
  ['token', TOKEN],
  ['token, base64', Buffer.from(TOKEN).toString('base64')],
  ['x-access-token:token, base64 (git header)', Buffer.from(`x-access-token:${TOKEN}`).toString('base64')],
  ['token, URL-encoded in a URL', encodeURIComponent(TOKEN)],
  ['mirror password', MIRROR_SECRET],
  ['mirror password, URL-encoded', encodeURIComponent(MIRROR_SECRET)],
  ["runner's GITHUB_TOKEN", RUNNER_TOKEN],
];

const counters = new Counters();
let bundle: string;
let fx: GitFixture;
let channels: ChannelServer;
let gitServer: GitHttpServer;
let repoUrl: string;
let tmp: string;
const outputs: { what: string; text: string }[] = [];

beforeAll(async () => {
  bundle = ensureCli();
  fx = await GitFixture.create();
  await buildAppChannel(path.join(fx.root, 'channels', 'app'));
  channels = await serveChannel(path.join(fx.root, 'channels'), { auth: { user: USER, password: KEY } });
  gitServer = await GitHttpServer.start(fx.root, TOKEN);
  repoUrl = gitServer.url('origin repo.git');
  tmp = path.join(fx.root, 'tmp');
  await fs.mkdir(tmp);
  await fx.commit('default', { 'env.spec': specFor(`${channels.url}/app`, ['tool', 'data']) });
  await buildProbeChannel(path.join(fx.root, 'channels', 'probe'));
  await fx.commit('probe', { 'env.spec': specFor(`${channels.url}/probe`, ['python', 'pyprobe', 'shprobe']) });
}, 300_000);

/**
 * Package code that writes down the environment it runs in, inside its prefix (which the last test
 * searches): a post-link script (`env`), and a python whose wrapper does the same each time it runs
 * (deploy runs it to byte-compile the noarch package).
 */
async function buildProbeChannel(dir: string): Promise<void> {
  const py = systemPython();
  if (!py) throw new Error('python3 is needed (.ci/run installs it)');
  const wrapper =
    '#!/bin/sh\n' +
    'prefix="$(cd "$(dirname "$0")/.." && pwd -P)"\n' +
    'env >> "$prefix/share/probe/python-env.txt"\n' +
    `PYTHONPATH="$prefix/lib/python${py.short}/site-packages" exec "${py.executable}" "$@"\n`;
  await buildChannel(dir, [
    {
      name: 'python',
      version: py.version,
      build: 'h0_probe',
      files: { 'bin/python': { content: wrapper, mode: 0o755 }, 'share/probe/README': 'probe\n' },
      softlinks: { [`bin/python${py.short}`]: 'python' },
    },
    { name: 'pyprobe', version: '1.0', noarch: 'python', depends: ['python'], files: { 'site-packages/pyprobe/__init__.py': 'X = 1\n' } },
    { name: 'shprobe', version: '1.0', files: { 'share/probe/shprobe.txt': 'x\n' }, postLink: 'env > "$PREFIX/share/probe/post-link-env.txt"\n' },
  ]);
}

afterAll(async () => {
  await gitServer?.close();
  await channels?.close();
  await fx?.cleanup();
  await recordFigures('secrets', { figures: counters.figures, details: counters.details });
});

/** The CLI with the credentials in its environment (as a workflow would pass them) and TMPDIR ours. */
async function cli(what: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const r = await runCli(bundle, args, {
    env: {
      GITENV_TOKEN: TOKEN,
      GITENV_API_USER: USER,
      GITENV_API_KEY: KEY,
      // What a runner's environment holds besides: the action's inputs and its own token.
      INPUT_TOKEN: TOKEN,
      'INPUT_API-KEY': KEY,
      GITHUB_TOKEN: RUNNER_TOKEN,
      TMPDIR: tmp,
      // The repodata cache and the solver's kept answers (solve-memo.ts) are searched too.
      XDG_CACHE_HOME: path.join(fx.root, 'cache'),
      ...env,
    },
  });
  outputs.push({ what, text: r.out });
  return r;
}

function expectOk(r: RunResult): void {
  expect({ code: r.code, out: r.code === 0 ? '' : r.out }).toEqual({ code: 0, out: '' });
}

/** Every regular file under `dir` (symlinks not followed). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string): Promise<void> => {
    const st = await fs.lstat(p).catch(() => undefined);
    if (!st) return;
    if (st.isDirectory()) for (const n of await fs.readdir(p)) await walk(path.join(p, n));
    else if (st.isFile()) out.push(p);
  };
  await walk(dir);
  return out;
}

/** Where each secret form occurs in `text` (labelled by `where`). */
function leaks(where: string, text: Buffer | string): string[] {
  const s = typeof text === 'string' ? text : text.toString('latin1');
  return FORMS.filter(([, secret]) => s.includes(secret)).map(([form]) => `${form} in ${where}`);
}

test('the whole pipeline runs with a channel key and a git token', async () => {
  const resolved = await cli('resolve', ['resolve', repoUrl]);
  expectOk(resolved);
  expect(resolved.out).toContain('Pushing changes to manifest/default');
  const tagged = await cli('autotag', ['autotag', repoUrl]);
  expectOk(tagged);
  const tag = /Pushing tag (env-default-\S+)/.exec(tagged.out)?.[1] as string;
  expect(tag).toBeDefined();
  expectOk(await cli('label', ['label', repoUrl, tag]));
  const target = path.join(fx.root, 'target');
  const deployed = await cli('deploy', ['deploy', repoUrl, target]);
  expectOk(deployed);
  expect(deployed.out).toContain(`Linking default/next to ${tag}`);
  expectOk(await cli('deploy again', ['deploy', repoUrl, target]));
  // The probe's package code ran (so the search below has its environments to look into).
  const probe = path.join(target, 'probe', 'latest', 'share', 'probe');
  expect(await fs.readFile(path.join(probe, 'post-link-env.txt'), 'utf8')).toMatch(/^PKG_NAME=shprobe$/m);
  expect(await fs.readFile(path.join(probe, 'python-env.txt'), 'utf8')).toMatch(/^PATH=/m);
  // the token given inside the repository URL instead of GITENV_TOKEN
  const inUrl = repoUrl.replace('http://', `http://x-access-token:${encodeURIComponent(TOKEN)}@`);
  expectOk(await cli('resolve with the token in the URL', ['resolve', inUrl], { GITENV_TOKEN: undefined }));
  counters.add('runs with credentials', 6);
});

test('failures caused by wrong credentials are clean and carry none', async () => {
  const wrongKey = await cli('deploy with a wrong key', ['deploy', repoUrl, path.join(fx.root, 'target-wrong-key')], { GITENV_API_KEY: 'not-the-key' });
  expect(wrongKey.code).toBe(1);
  expect(wrongKey.out).toMatch(/401/);
  expect(wrongKey.out).toContain(`${channels.url}/app/`);
  const noToken = await cli('resolve without the token', ['resolve', repoUrl], { GITENV_TOKEN: undefined });
  expect(noToken.code).toBe(1);
  const wrongUrlToken = repoUrl.replace('http://', `http://x-access-token:${encodeURIComponent(TOKEN)}x@`);
  const wrong = await cli('resolve with a wrong token in the URL', ['resolve', wrongUrlToken], { GITENV_TOKEN: undefined });
  expect(wrong.code).toBe(1);
  // a mirror given with credentials in its URL (fetch refuses such URLs; the message must not show them)
  const mirror = `http://mirror-user:${encodeURIComponent(MIRROR_SECRET)}@${new URL(channels.url).host}`;
  await cli('deploy through a mirror URL with credentials', ['deploy', repoUrl, path.join(fx.root, 'target-mirror'), '--mirror', mirror]);
  counters.add('runs with credentials', 4);
});

test('the phases in-process: results and job summaries', async () => {
  const logger = new MemoryLogger();
  const r = await resolve(
    {
      repository: repoUrl,
      token: TOKEN,
      apiUser: USER,
      apiKey: KEY,
      envs: [],
      dryRun: true,
      platform: 'linux-64',
      channelAlias: channels.url,
      engine: 'builtin',
      mode: 'push',
      cacheDir: path.join(fx.root, 'cache', 'gitenv', 'repodata'),
    },
    { logger },
  );
  const d = await deploy(
    {
      repository: repoUrl,
      token: TOKEN,
      apiUser: USER,
      apiKey: KEY,
      envs: [],
      dryRun: false,
      target: path.join(fx.root, 'target-in-process'),
      envLabels: ['*'],
      engine: 'builtin',
      prune: false,
      keep: 2,
    },
    { logger },
  );
  expect(d.failed).toEqual([]);
  expect(d.deployed.length).toBeGreaterThan(0);
  outputs.push({ what: 'resolve result and summary', text: JSON.stringify(r) }, { what: 'deploy result and summary', text: JSON.stringify(d) });
  outputs.push({ what: 'in-process log', text: logger.text() });
  counters.add('runs with credentials', 2);
});

test('no secret anywhere: files, repository objects, temporary files, outputs, summaries', async () => {
  const found: string[] = [];
  let files = 0;
  for (const dir of ['target', 'target-wrong-key', 'target-mirror', 'target-in-process', 'tmp', 'cache', 'origin repo.git']) {
    for (const f of await filesUnder(path.join(fx.root, dir))) {
      files++;
      found.push(...leaks(path.relative(fx.root, f), await fs.readFile(f)));
    }
  }
  // The search covered the solver's kept answers.
  expect((await filesUnder(path.join(fx.root, 'cache'))).some((f) => /[/\\]solves[/\\][0-9a-f]{64}\.json$/.test(f))).toBe(true);
  const objects = execFileSync('git', ['cat-file', '--batch-all-objects', '--batch'], { cwd: fx.origin, maxBuffer: 256 * 1024 * 1024 });
  const objectCount = Number(execFileSync('git', ['cat-file', '--batch-all-objects', '--batch-check'], { cwd: fx.origin, encoding: 'utf8' }).trim().split('\n').length);
  found.push(...leaks('the repository objects', objects));
  for (const o of outputs) found.push(...leaks(`output of ${o.what}`, o.text));
  // the searches can find what they look for: the channel server saw the key, the git server the token
  expect(leaks('channel requests', JSON.stringify(channels.requests.map((q) => q.headers.authorization)))).not.toEqual([]);
  expect(leaks('git requests', JSON.stringify(gitServer.requests.map((q) => q.authorization)))).not.toEqual([]);

  expect(found).toEqual([]);
  counters.add('files searched', files);
  counters.add('repository objects searched', objectCount);
  counters.add('outputs, results and summaries searched', outputs.length);
  counters.add('secrets found', found.length);
  counters.add('secrets seen by package code (post-link script, byte-compiling python)', found.filter((f) => f.includes('/share/probe/')).length);
  counters.note(`${FORMS.length} forms searched (${FORMS.map(([f]) => f).join('; ')})`);
});
