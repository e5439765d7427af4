/**
 * Progress on long work: a resolve over a 24 MB repodata served slowly (2 MB/s on loopback) says
 * what it fetches, how far it got, and when each solve starts and ends; no two log lines are more
 * than 10 s apart. The second run says "not modified".
 */
import { readFile } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { resolve } from '../../src/phases/resolve.js';
import type { Logger } from '../../src/util/logger.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { buildSeedChannel } from '../fixtures/channel/index.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { resolveSettings, specText } from './resolve-support.js';

const SIZE = 24_000_000;
const CHUNK = 250_000;
const CHUNK_EVERY_MS = 125; // 2 MB/s: twelve seconds for the whole file

/** A MemoryLogger that also notes when each line came. */
class TimedLogger extends MemoryLogger {
  readonly times: number[] = [];
  constructor() {
    super();
    for (const level of ['info', 'warning', 'error', 'debug'] as const) {
      const write = this[level].bind(this) as Logger['info'];
      this[level] = (message: string) => {
        this.times.push(Date.now());
        write(message);
      };
    }
  }
}

test('a slow 24 MB repodata: sizes, progress every few seconds, solve start and end; never silent for 10 s', async () => {
  const fx = await GitFixture.create();
  const channelDir = path.join(fx.root, 'seed');
  await buildSeedChannel(channelDir);
  const etag = '"slow-1"';
  const server = http.createServer((req, res) => {
    const subdir = /^\/seed\/(linux-64|noarch)\/repodata\.json$/.exec(req.url ?? '')?.[1];
    if (!subdir) return void res.writeHead(404).end();
    if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end();
    void readFile(path.join(channelDir, subdir, 'repodata.json'), 'utf8').then((text) => {
      // The same repodata, padded with JSON whitespace to 24 MB (linux-64 only), sent slowly.
      const body = subdir === 'linux-64' ? Buffer.from(text.replace(/\}\s*$/, ' '.repeat(SIZE - text.length) + '}')) : Buffer.from(text);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, etag });
      let sent = 0;
      const tick = setInterval(() => {
        if (res.destroyed) return clearInterval(tick);
        res.write(body.subarray(sent, sent + CHUNK));
        sent += CHUNK;
        if (sent >= body.length) {
          clearInterval(tick);
          res.end();
        }
      }, CHUNK_EVERY_MS);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/seed`;
  try {
    await fx.commit('default', { 'env.spec': specText([url], ['python 3.11.*']) });
    const logger = new TimedLogger();
    const started = Date.now();
    const result = await resolve(resolveSettings(fx, { dryRun: true }), { logger });
    const ended = Date.now();
    expect(result.failed).toEqual([]);
    const lines = logger.lines('info');
    expect(lines).toEqual(
      expect.arrayContaining([
        'Solving default: 1 spec(s) over 1 channel(s) for linux-64',
        `Fetched ${url}/linux-64/repodata.json: 24.0 MB`,
        expect.stringMatching(new RegExp(`^Fetched ${url}/noarch/repodata\\.json: [\\d.]+ kB$`)),
        expect.stringMatching(/^Solved default in [\d.]+ s$/),
      ]),
    );
    const ticks = lines.filter((l) => l.startsWith(`Fetching ${url}/linux-64/repodata.json: `));
    expect(ticks.length).toBeGreaterThanOrEqual(1);
    expect(ticks[0]).toMatch(/: [\d.]+ MB of 24\.0 MB so far$/);
    const moments = [started, ...logger.times, ended];
    const gaps = moments.slice(1).map((t, i) => t - moments[i]);
    expect(Math.max(...gaps)).toBeLessThan(10_000);

    const again = new MemoryLogger();
    await resolve(resolveSettings(fx, { dryRun: true }), { logger: again });
    expect(again.lines('info')).toEqual(expect.arrayContaining([`Fetched ${url}/linux-64/repodata.json: not modified (24.0 MB from the cache)`]));
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await fx.cleanup();
  }
}, 120_000);
