/**
 * The action bundles as GitHub runs them: a job summary from every phase, also when the whole phase
 * fails (why, under the same heading) and from setup; `log-level: debug`; `repository: owner/name`
 * taken as a repository of GITHUB_SERVER_URL (here git's smart HTTP on loopback).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ensureBundles } from '../fixtures/bundles.js';
import { runAction, untaggedDefault } from '../fixtures/git-frontends.js';
import { GitHttpServer } from '../fixtures/git-http-server.js';
import { git, type GitFixture } from '../fixtures/git-repo.js';

let fx: GitFixture;

beforeAll(async () => {
  await ensureBundles(['autotag', 'deploy', 'setup']);
}, 300_000);
beforeEach(async () => {
  fx = await untaggedDefault();
});
afterEach(async () => {
  await fx.cleanup();
});

test('a phase that fails as a whole writes its reason under the usual heading', async () => {
  const bad = await runAction('dist/autotag/index.js', { repository: fx.origin, 'dry-run': 'maybe' }, path.join(fx.root, 'r1'));
  expect(bad.code).toBe(1);
  expect(bad.summary).toBe('### gitenv autotag\n\n**failed**: Input dry-run must be true or false, got "maybe"\n\n');

  const missing = await runAction('dist/deploy/index.js', { repository: `file://${fx.root}/nothing.git`, target: path.join(fx.root, 't') }, path.join(fx.root, 'r2'));
  expect(missing.code).toBe(1);
  // git's reason, all of it, wrapped in the one line of markdown.
  expect(missing.summary).toMatch(/^### gitenv deploy\n\n\*\*failed\*\*: git clone .*<br>.*does not appear to be a git repository/s);
});

test('log-level: debug shows debug lines in the log; a mistyped level is refused', async () => {
  const debug = await runAction('dist/autotag/index.js', { repository: fx.origin, 'log-level': 'debug' }, path.join(fx.root, 'r1'));
  expect(debug.code).toBe(0);
  expect(debug.stdout).toMatch(/^debug: git /m);
  const quiet = await runAction('dist/autotag/index.js', { repository: fx.origin, 'dry-run': 'true' }, path.join(fx.root, 'r2'));
  expect(quiet.stdout).not.toMatch(/^debug: /m);
  const wrong = await runAction('dist/autotag/index.js', { repository: fx.origin, 'log-level': 'loud' }, path.join(fx.root, 'r3'));
  expect(wrong.code).toBe(1);
  expect(wrong.stdout).toContain('::error::gitenv autotag: Input log-level must be info or debug, got "loud"');
});

test('repository: owner/name is a repository of GITHUB_SERVER_URL; a value of no accepted form is refused with the forms', async () => {
  await fs.mkdir(path.join(fx.root, 'acme'));
  await git(['clone', '--bare', '--quiet', fx.origin, path.join(fx.root, 'acme', 'envs.git')], fx.root);
  const server = await GitHttpServer.start(fx.root, 'tok-7');
  try {
    const serverUrl = server.url('').replace(/\/$/, '');
    const ran = await runAction('dist/autotag/index.js', { repository: 'acme/envs', token: 'tok-7' }, path.join(fx.root, 'r1'), { GITHUB_SERVER_URL: serverUrl });
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain('Pushing tag env-default-2015_11_12');
    expect(server.requests.some((r) => r.url.startsWith('/acme/envs.git/'))).toBe(true);
  } finally {
    await server.close();
  }
  const bad = await runAction('dist/autotag/index.js', { repository: 'not a repository' }, path.join(fx.root, 'r2'));
  expect(bad.code).toBe(1);
  expect(bad.summary).toContain('Input repository "not a repository" is neither a URL, a path that exists nor owner/name');
});

test('setup writes a job summary, on success and on failure', async () => {
  const exe = Buffer.from('#!/bin/sh\necho 2.3.3\n');
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/mirror/2.3.3-0/micromamba-')) res.writeHead(200, { 'content-length': exe.length }).end(exe);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const inputs = {
      'micromamba-version': '2.3.3-0',
      'micromamba-url': `${base}/mirror/{version}/micromamba-{platform}`,
      'micromamba-sha256': createHash('sha256').update(exe).digest('hex'),
    };
    const env = { RUNNER_TOOL_CACHE: path.join(fx.root, 'tool cache') };
    const ok = await runAction('dist/setup/index.js', inputs, path.join(fx.root, 's1'), env);
    expect(ok.code).toBe(0);
    expect(ok.summary).toMatch(/^### gitenv setup\n\n\| Micromamba \| Path \|\n\| --- \| --- \|\n\| 2\.3\.3-0 \| `.+tool cache\/micromamba\/2\.3\.3-0\/.+` \|\n\n$/);
    const bad = await runAction('dist/setup/index.js', { ...inputs, 'micromamba-sha256': 'f00' }, path.join(fx.root, 's2'), env);
    expect(bad.code).toBe(1);
    expect(bad.summary).toBe('### gitenv setup\n\n**failed**: Input micromamba-sha256 must be 64 hex digits, got "f00"\n\n');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
