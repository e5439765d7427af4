/**
 * A channel that demands basic auth: resolve works with api-user/api-key, and the key is in no
 * file of the repository, no commit message, no output line, no summary, no cache file.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { buildSeedChannel, serveChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { resolve } from '../../src/phases/resolve.js';
import type { ResolveSettings } from '../../src/phases/settings.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { resolveSettings } from './resolve-support.js';

const USER = 'ci-reader';
const KEY = 'k3y-Th4t-Must-N0t-Leak';
const BASIC = Buffer.from(`${USER}:${KEY}`).toString('base64');

/** Records every line as given: setSecret masks nothing, so a leak would show. */
class UnmaskedLogger extends MemoryLogger {
  override setSecret(): void {}
}

let fx: GitFixture;
let server: ChannelServer;

beforeAll(async () => {
  fx = await GitFixture.create();
  await buildSeedChannel(path.join(fx.root, 'private'));
  server = await serveChannel(path.join(fx.root, 'private'), { auth: { user: USER, password: KEY } });
});
afterAll(async () => {
  await server.close();
  await fx.cleanup();
});

function settings(extra: Partial<ResolveSettings> = {}): ResolveSettings {
  return resolveSettings(fx, extra);
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(full)));
    else if (e.isFile()) out.push(full);
  }
  return out;
}

test('resolves from a channel behind basic auth without leaking the key anywhere', async () => {
  await fx.commit('default', { 'env.spec': `channels:\n  - ${server.url}\nenv:\n  - python\n  - numpy\n` });

  // Without credentials the channel refuses, and the environment fails by name.
  const refused = await resolve(settings({}), { logger: new MemoryLogger() });
  expect(refused.failed.map((f) => f.env)).toEqual(['default']);
  expect(refused.failed[0].message).toMatch(/"default".*401/s);

  const logger = new UnmaskedLogger();
  const result = await resolve(settings({ apiUser: USER, apiKey: KEY }), { logger });
  expect(result.failed).toEqual([]);
  expect(result.changed).toEqual(['default']);
  expect(server.requests.filter((r) => r.status === 200).length).toBeGreaterThan(0);
  expect(server.requests.filter((r) => r.headers.authorization === `Basic ${BASIC}`).length).toBeGreaterThan(0);

  const manifest = await fx.show('manifest/default', 'env.manifest');
  expect(manifest).toContain(`${server.url}/linux-64\tpython-`);

  // Every object of the repository (blobs, trees, commits with their messages, tags).
  const objects = execFileSync('git', ['--git-dir', fx.origin, 'cat-file', '--batch-all-objects', '--batch'], { maxBuffer: 256 * 1024 * 1024 }).toString('latin1');
  expect(objects).toContain('Manifest update for default');
  const everything = [objects, logger.text(), result.summary, ...result.failed.map((f) => f.message)];
  for (const file of await filesUnder(path.join(fx.root, 'repodata cache'))) everything.push(await fs.readFile(file, 'latin1'));
  for (const text of everything) {
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(encodeURIComponent(KEY));
    expect(text).not.toContain(BASIC);
  }
});
