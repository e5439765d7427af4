/**
 * One environment's failure is reported with its name (env.spec problems also as annotations on
 * the file and line) while the others still resolve and are pushed.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { buildSeedChannel, serveChannel, type BuiltChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { resolve } from '../../src/phases/resolve.js';
import type { ResolveSettings } from '../../src/phases/settings.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { resolveSettings } from './resolve-support.js';

let fx: GitFixture;
let channel: BuiltChannel;
let server: ChannelServer;

beforeAll(async () => {
  fx = await GitFixture.create();
  channel = await buildSeedChannel(path.join(fx.root, 'channel'));
  server = await serveChannel(fx.root);
});
afterAll(async () => {
  await server.close();
  await fx.cleanup();
});

function settings(): ResolveSettings {
  return resolveSettings(fx);
}

test('each failure kind names its environment; the good one still resolves and is pushed', async () => {
  // A host that takes connections and drops them at once (a freed port could be taken by another
  // process before the test uses it; this one stays ours).
  const dead = net.createServer((socket) => socket.destroy());
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const deadUrl = `http://127.0.0.1:${(dead.address() as net.AddressInfo).port}`;

  const good = `channels:\n  - ${server.url}/channel\nenv:\n  - python 2.*\n`;
  await fx.commit('good', { 'env.spec': good });
  await fx.commit('badyaml', { 'env.spec': `channels:\n  - ${channel.url}\nenv: [python\n` });
  await fx.commit('unknownkey', { 'env.spec': `channels:\n  - ${channel.url}\nenv:\n  - python\npackages:\n  - numpy\n` });
  await fx.commit('unsolvable', { 'env.spec': `channels:\n  - ${channel.url}\nenv:\n  - python 4.*\n` });
  await fx.commit('missing', { 'env.spec': `channels:\n  - ${server.url}/no-such-channel\nenv:\n  - python\n` });
  await fx.commit('unreachable', { 'env.spec': `channels:\n  - ${deadUrl}/channel\nenv:\n  - python\n` });

  const logger = new MemoryLogger();
  const result = await resolve(settings(), { logger }).finally(() => dead.close());

  expect(result.changed).toEqual(['good']);
  expect(logger.lines('info')).toContain('Pushing changes to manifest/good');
  expect(Object.keys(await fx.refs()).filter((r) => r.startsWith('refs/heads/manifest/'))).toEqual(['refs/heads/manifest/good']);

  const failed = Object.fromEntries(result.failed.map((f) => [f.env, f.message]));
  expect(Object.keys(failed).sort()).toEqual(['badyaml', 'missing', 'unknownkey', 'unreachable', 'unsolvable']);
  for (const [env, msg] of Object.entries(failed)) expect(msg).toContain(`"${env}"`);
  expect(failed.badyaml).toMatch(/not valid YAML/);
  expect(failed.unknownkey).toMatch(/unknown key "packages"/);
  expect(failed.unsolvable).toMatch(/cannot be solved: .*python 4\.\*/s);
  expect(failed.missing).toContain(`channel ${server.url}/no-such-channel was not found`);
  expect(failed.unreachable).toContain(`channel ${deadUrl}/channel cannot be reached`);

  // env.spec problems are annotations on the file and line.
  const annotations = logger.records.filter((r) => r.level === 'error' && r.props?.file);
  expect(annotations.map((r) => [r.props?.file, r.props?.startLine])).toEqual([
    ['env.spec', 4],
    ['env.spec', 5],
  ]);
  for (const env of Object.keys(failed)) expect(logger.lines('error').some((l) => l.includes(`"${env}"`))).toBe(true);

  expect(result.summary).toMatch(/\| `good` \| 3 \| 3 \| 0 \| 0 \| pushed \|/);
  expect(result.summary).toContain('| `missing` |  |  |  |  | failed |');
  expect(result.summary).toContain('**Failed:**');
});
