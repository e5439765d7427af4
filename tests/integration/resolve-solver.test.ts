/**
 * The builtin solver on its own, over loopback HTTP: compressed repodata (pruned and re-framed for
 * the WASM solver), full records taken from the repodata, credentials-free URLs.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSeedChannel, serveChannel, SEED_VERSIONS, zstdCompress, type BuiltChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { FetchWrapper } from '../../src/net/fetch-wrapper.js';
import { RattlerSolver } from '../../src/solver/rattler-solver.js';
import { virtualPackages } from '../../src/conda/virtual-packages.js';
import { MemoryLogger } from '../../src/util/logger.js';

let tmp: string;
let channel: BuiltChannel;
let server: ChannelServer;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-solver-'));
  channel = await buildSeedChannel(path.join(tmp, 'chan'));
  // Only the .zst variant is true; a plain repodata.json that lies proves which one was used.
  for (const subdir of ['linux-64', 'noarch']) {
    const json = await fs.readFile(path.join(channel.dir, subdir, 'repodata.json'));
    await fs.writeFile(path.join(channel.dir, subdir, 'repodata.json.zst'), zstdCompress(json));
    await fs.writeFile(path.join(channel.dir, subdir, 'repodata.json'), JSON.stringify({ info: { subdir }, packages: {}, 'packages.conda': {} }));
  }
  server = await serveChannel(channel.dir);
});
afterAll(async () => {
  await server.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

test('solves from repodata.json.zst, with full records and no virtual packages', async () => {
  const fetcher = new FetchWrapper({ cacheDir: path.join(tmp, 'cache') });
  const solver = new RattlerSolver(fetcher);
  const request = {
    specs: ['numpy', 'python 3.*'],
    channels: [server.url],
    platform: 'linux-64',
    virtualPackages: virtualPackages('linux-64', {}),
    env: 'default',
    logger: new MemoryLogger(),
  };
  const records = await solver.solve(request);
  expect(records.map((r) => `${r.name}-${r.version}-${r.build}`).sort()).toEqual([
    `numpy-${SEED_VERSIONS.numpy3}-py311_0`,
    `openssl-${SEED_VERSIONS.openssl}-0`,
    `python-${SEED_VERSIONS.python3}-0`,
    `zlib-${SEED_VERSIONS.zlib}-0`,
  ]);
  const python = records.find((r) => r.name === 'python');
  const built = channel.packages.find((p) => p.record.name === 'python' && p.record.version === SEED_VERSIONS.python3);
  expect(python).toMatchObject({
    channel: server.url,
    subdir: 'linux-64',
    fn: built?.fn,
    url: `${server.url}/linux-64/${built?.fn}`,
    sha256: built?.sha256,
    md5: built?.md5,
    size: built?.size,
    license: 'Python-2.0',
    timestamp: built?.record.timestamp,
    depends: built?.record.depends,
    constrains: [],
  });
  expect(server.requests.some((r) => r.path === '/linux-64/repodata.json.zst' && r.status === 200)).toBe(true);
  expect(server.requests.some((r) => r.path === '/linux-64/repodata.json')).toBe(false);

  // A second environment in the same run asks the server for nothing.
  const asked = server.requests.length;
  const again = await solver.solve({ ...request, specs: ['python 2.*'], env: 'legacy' });
  expect(again.find((r) => r.name === 'python')?.version).toBe(SEED_VERSIONS.python2);
  expect(server.requests.length).toBe(asked);
});
