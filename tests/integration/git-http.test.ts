import { promises as fs } from 'node:fs';
import path from 'node:path';
import { autotag } from '../../src/phases/autotag.js';
import { EnvRepository } from '../../src/repo/env-repository.js';
import { label } from '../../src/phases/label.js';
import { errorMessage } from '../../src/util/errors.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { GitFixture, SAMPLE_SPEC } from '../fixtures/git-repo.js';
import { GitHttpServer } from '../fixtures/git-http-server.js';

const TOKEN = 'ghs_loopbackT0ken_42';
const BASIC = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
// No user or system git configuration: no credential helper may answer for us. Not "on GitHub"
// either, so the fallback identity is gitenv's own even when this suite runs in Actions.
const { GITHUB_ACTIONS: _onGitHub, ...base } = process.env;
const env = { ...base, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };

let fx: GitFixture;
let server: GitHttpServer;
let url: string;

beforeEach(async () => {
  fx = await GitFixture.create();
  await fx.commit('default', { 'env.spec': SAMPLE_SPEC });
  await fx.commit('manifest/default', { 'env.manifest': 'a\n' }, { date: '2015-11-12T10:00:00Z' });
  server = await GitHttpServer.start(fx.root, TOKEN);
  url = server.url(path.basename(fx.origin));
});
afterEach(async () => {
  await server.close();
  await fx.cleanup();
});

function expectNoToken(text: string): void {
  expect(text).not.toContain(TOKEN);
  expect(text).not.toContain(BASIC);
}

test('autotag and label over smart HTTP with a token sent as a header', async () => {
  const logger = new MemoryLogger();
  const common = { repository: url, token: TOKEN, envs: [], dryRun: false, workDir: fx.root };
  const tagged = await autotag(common, { logger, env });
  expect(tagged.tags).toEqual(['env-default-2015_11_12']);
  expect(await fx.tags()).toEqual(['env-default-2015_11_12']);
  const labelled = await label({ ...common, tag: 'env-default-2015_11_12', nextOnly: false }, { logger, env });
  expect(labelled.labels).toEqual({ next: 'env-default-2015_11_12' });
  expect(await fx.show('default', 'labels/next.txt')).toBe('env-default-2015_11_12');
  // no git identity configured anywhere (see env): gitenv's own is used
  expect(await fx.originGit(['log', '-1', '--format=%an <%ae>', 'default'])).toBe('gitenv <gitenv@localhost>');

  // every request carried the header, none carried the token in its URL
  expect(server.requests.length).toBeGreaterThan(3);
  for (const r of server.requests) {
    expect(r.authorization).toBe(`basic ${BASIC}`);
    expect(r.url).not.toContain(TOKEN);
  }
  expect(server.requests.some((r) => r.url.includes('git-receive-pack') && r.method === 'POST')).toBe(true);
  expectNoToken(logger.text() + tagged.summary + labelled.summary);
});

test('without a token the run fails with a clear message', async () => {
  const logger = new MemoryLogger();
  const attempt = autotag({ repository: url, envs: [], dryRun: false, workDir: fx.root }, { logger, env });
  await expect(attempt).rejects.toThrow(/refused the credentials or asked for some\. Give a token/);
  expect(await fx.tags()).toEqual([]);
  expect(server.requests.every((r) => r.status === 401)).toBe(true);
});

test('a wrong token fails clearly and is never printed', async () => {
  const logger = new MemoryLogger();
  const wrong = 'ghs_wrongT0ken_99';
  let message = '';
  try {
    await autotag({ repository: url, token: wrong, envs: [], dryRun: false, workDir: fx.root }, { logger, env });
  } catch (err) {
    message = errorMessage(err);
  }
  expect(message).toMatch(/Give a token/);
  expect(message + logger.text()).not.toContain(wrong);
  expect(message + logger.text()).not.toContain(Buffer.from(`x-access-token:${wrong}`).toString('base64'));
});

test('credentials pasted into the URL are moved into the header and redacted from messages', async () => {
  const logger = new MemoryLogger();
  const withCreds = url.replace('http://', `http://x-access-token:${TOKEN}@`);
  const tagged = await autotag({ repository: withCreds, envs: [], dryRun: true, workDir: fx.root }, { logger, env });
  expect(tagged.tags).toEqual(['env-default-2015_11_12']);
  let message = '';
  try {
    await autotag({ repository: withCreds + '-missing', envs: [], dryRun: true, workDir: fx.root }, { logger, env });
  } catch (err) {
    message = errorMessage(err);
  }
  expect(message).toContain('git clone from http://127.0.0.1');
  expectNoToken(message + logger.text());
});

test('a flaky server: clone and push are retried and succeed', async () => {
  const logger = new MemoryLogger();
  server.failNext('git-upload-pack', 1, 503);
  server.failNext('git-receive-pack', 1, 502);
  const tagged = await autotag({ repository: url, token: TOKEN, envs: [], dryRun: false, workDir: fx.root }, { logger, env });
  expect(tagged.tags).toEqual(['env-default-2015_11_12']);
  expect(await fx.tags()).toEqual(['env-default-2015_11_12']);
  const retries = logger.lines('info').filter((l) => l.includes('retrying'));
  expect(retries).toEqual([expect.stringMatching(/^git clone failed .*503.*; retrying/), expect.stringMatching(/^git push failed .*; retrying/)]);
  expectNoToken(logger.text());
});

test('network failures are retried (default policy: 4 attempts), then reported', async () => {
  const logger = new MemoryLogger();
  await server.close();
  const attempt = autotag({ repository: url, token: TOKEN, envs: [], dryRun: true, workDir: fx.root }, { logger, env });
  await expect(attempt).rejects.toThrow(/git clone from http:\/\/127\.0\.0\.1:\d+\/.* failed/);
  expect(logger.lines('info').filter((l) => l.includes('retrying')).length).toBe(3);
  expectNoToken(logger.text());
  server = await GitHttpServer.start(fx.root, TOKEN); // for afterEach
});

test('the clone a phase works in holds no credentials, whether given as a token or in the URL', async () => {
  const logger = new MemoryLogger();
  const workDir = path.join(fx.root, 'work');
  const withCreds = url.replace('http://', `http://x-access-token:${TOKEN}@`);
  for (const given of [{ repository: withCreds }, { repository: url, token: TOKEN }]) {
    const repo = await EnvRepository.open({ ...given, workDir, logger, env });
    try {
      expect((await repo.snapshot()).envs.map((e) => e.name)).toEqual(['default']);
      const files = (await fs.readdir(workDir, { recursive: true, withFileTypes: true })).filter((d) => d.isFile());
      expect(files.map((d) => d.name)).toEqual(expect.arrayContaining(['config', 'packed-refs']));
      for (const d of files) expectNoToken(await fs.readFile(path.join(d.parentPath, d.name), 'latin1'));
    } finally {
      await repo.close();
    }
  }
  expectNoToken(logger.text());
});
