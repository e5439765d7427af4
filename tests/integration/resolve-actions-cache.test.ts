/**
 * The repodata cache on GitHub-hosted runners: the resolve action bundle restores and saves
 * ~/.cache/gitenv/repodata through @actions/cache. The runner's cache service is stood in on
 * loopback (its v1 REST protocol: look up by keys and version, reserve, upload chunks, commit,
 * download), and each run starts with an empty HOME, as a fresh runner would: the second run, channel
 * unchanged, fetches under 1 % of the first run's bytes.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ensureBundles } from '../fixtures/bundles.js';
import { buildSeedChannel, serveChannel } from '../fixtures/channel/index.js';
import { runAction } from '../fixtures/git-frontends.js';
import { GitFixture } from '../fixtures/git-repo.js';

interface Entry {
  key: string;
  version: string;
  chunks: Buffer[];
  committed: boolean;
}

/** The cache service's v1 protocol, in memory; records what it was asked. */
async function cacheService(): Promise<{ url: string; entries: Entry[]; calls: string[]; close: () => Promise<void> }> {
  const entries: Entry[] = [];
  const calls: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const body = Buffer.concat(chunks);
      calls.push(`${req.method} ${url.pathname}`);
      const json = (status: number, value?: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(value === undefined ? '' : JSON.stringify(value));
      };
      if (req.method === 'GET' && url.pathname === '/_apis/artifactcache/cache') {
        // The toolkit encodes the keys once more than the query needs.
        const keys = decodeURIComponent(url.searchParams.get('keys') ?? '').split(',');
        const version = url.searchParams.get('version');
        const done = entries.filter((e) => e.committed && e.version === version);
        // Exact key first, then the newest entry whose key starts with a restore key.
        const hit =
          done.find((e) => e.key === keys[0]) ??
          keys
            .slice(1)
            .map((k) => done.filter((e) => e.key.startsWith(k)).pop())
            .find(Boolean);
        if (!hit) return json(204);
        return json(200, { cacheKey: hit.key, scope: 'refs/heads/main', archiveLocation: `http://127.0.0.1:${port}/archive/${entries.indexOf(hit) + 1}` });
      }
      if (req.method === 'POST' && url.pathname === '/_apis/artifactcache/caches') {
        const { key, version } = JSON.parse(body.toString()) as { key: string; version: string };
        if (entries.some((e) => e.key === key && e.version === version)) return json(409, { message: 'already exists' });
        // Ids start at 1: the toolkit takes 0 for no id.
        return json(201, { cacheId: entries.push({ key, version, chunks: [], committed: false }) });
      }
      const m = /^\/_apis\/artifactcache\/caches\/(\d+)$/.exec(url.pathname);
      if (m && req.method === 'PATCH') {
        const start = Number(/bytes (\d+)-/.exec(req.headers['content-range'] ?? '')?.[1]);
        entries[Number(m[1]) - 1].chunks[start] = body;
        return json(204);
      }
      if (m && req.method === 'POST') {
        entries[Number(m[1]) - 1].committed = true;
        return json(204);
      }
      const a = /^\/archive\/(\d+)$/.exec(url.pathname);
      if (a && req.method === 'GET') {
        const data = Buffer.concat(entries[Number(a[1]) - 1].chunks.filter(Boolean));
        res.writeHead(200, { 'content-length': data.length, 'content-type': 'application/octet-stream' });
        return res.end(data);
      }
      json(404);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/`, entries, calls, close: () => new Promise((r) => server.close(() => r())) };
}

test("a second run on a fresh runner restores the repodata cache: under 1 % of the first run's bytes", async () => {
  await ensureBundles(['resolve']);
  const fx = await GitFixture.create();
  const channelDir = path.join(fx.root, 'channels');
  await buildSeedChannel(path.join(channelDir, 'seed'));
  // A repodata of a real channel's order of size (2 MB, padded with JSON whitespace), not the seed's few kB.
  const repodata = path.join(channelDir, 'seed', 'linux-64', 'repodata.json');
  const text = await fs.readFile(repodata, 'utf8');
  await fs.writeFile(repodata, text.replace(/\}\s*$/, ' '.repeat(2_000_000) + '}'));
  const channel = await serveChannel(channelDir);
  const service = await cacheService();
  // The toolkit's tar command line breaks on a RUNNER_TEMP with spaces (a runner's has none).
  const runnerTemp = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-runner-temp-'));
  try {
    await fx.commit('default', { 'env.spec': `channels:\n  - ${channel.url}/seed\nenv:\n  - python 3.11.*\n` });
    const run = async (n: number) => {
      // A fresh runner: the same HOME path, empty (the cache's version depends on the path).
      const home = path.join(fx.root, 'home');
      await fs.rm(home, { recursive: true, force: true });
      await fs.mkdir(home);
      const before = channel.bytesSent();
      const ran = await runAction('dist/resolve/index.js', { repository: fx.origin, 'dry-run': 'true' }, path.join(fx.root, `run${n}`), {
        HOME: home,
        XDG_CACHE_HOME: '',
        ACTIONS_CACHE_URL: service.url,
        ACTIONS_RUNTIME_TOKEN: 'runtime-token',
        GITHUB_RUN_ID: String(1000 + n),
        GITHUB_RUN_ATTEMPT: '1',
        RUNNER_OS: 'Linux',
        RUNNER_TEMP: runnerTemp,
      });
      return { ...ran, bytes: channel.bytesSent() - before };
    };
    const first = await run(1);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('No repodata cache restored: this run fetches all repodata');
    expect(first.stdout).toContain('Repodata cache saved as gitenv-repodata-Linux-linux-64-1001-1');
    expect(service.entries.map((e) => [e.key, e.committed])).toEqual([['gitenv-repodata-Linux-linux-64-1001-1', true]]);

    const second = await run(2);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('Repodata cache restored from gitenv-repodata-Linux-linux-64-1001-1');
    expect(second.stdout).toContain('not modified');
    expect(second.stdout).toContain('Repodata cache unchanged: nothing to save');
    expect(first.bytes).toBeGreaterThan(1000);
    expect(second.bytes / first.bytes).toBeLessThan(0.01);

    // cache: false leaves the service alone.
    const calls = service.calls.length;
    const off = await runAction('dist/resolve/index.js', { repository: fx.origin, 'dry-run': 'true', cache: 'false' }, path.join(fx.root, 'run3'), {
      HOME: path.join(fx.root, 'home'),
      ACTIONS_CACHE_URL: service.url,
      ACTIONS_RUNTIME_TOKEN: 'runtime-token',
    });
    expect(off.code).toBe(0);
    expect(service.calls.length).toBe(calls);
  } finally {
    await channel.close();
    await service.close();
    await fx.cleanup();
    await fs.rm(runnerTemp, { recursive: true, force: true });
  }
}, 300_000);
