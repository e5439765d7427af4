/**
 * Concurrency, through the CLI bundle as separate processes: four deploys at once to one target, two
 * resolves at once on one repository (their pushes race), two label commands at once on one
 * environment branch. Each final state must equal what the same commands leave when run one after
 * the other, and no commit may be lost.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { serveChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { git, GitFixture } from '../fixtures/git-repo.js';
import { buildAppChannel, type AppChannel } from './support/app-channel.js';
import { ensureCli, runCli, runCliOk, type RunResult } from './support/cli.js';
import { Counters, recordFigures } from './support/figures.js';
import { setLabel, specFor, tagLock } from './support/repo.js';
import { checkDeployInvariants, inspectCache, snapshotEnvs } from './support/tree.js';

const counters = new Counters();
let bundle: string;
let fx: GitFixture;
let app: AppChannel;
let server: ChannelServer;
let url: string;

beforeAll(async () => {
  bundle = ensureCli();
  fx = await GitFixture.create();
  app = await buildAppChannel(path.join(fx.root, 'channels', 'app'));
  server = await serveChannel(path.join(fx.root, 'channels'));
  url = `${server.url}/app`;
}, 300_000);

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
  await recordFigures('concurrency', { figures: counters.figures, details: counters.details });
});

const allOk = (runs: RunResult[]) => runs.map((r) => (r.code === 0 ? 'ok' : `exit ${r.code}: ${r.out}`));

test('four deploys at once to one target leave what one deploy leaves, each prefix installed once', async () => {
  await tagLock(fx, 'app', 'env-app-2026_01_01', url, app.v1, '2026-01-01T10:00:00Z');
  await tagLock(fx, 'app', 'env-app-2026_01_02', url, app.v2, '2026-01-02T10:00:00Z');
  await tagLock(fx, 'other', 'env-other-2026_01_01', url, app.v1, '2026-01-01T10:00:00Z');
  await setLabel(fx, 'app', 'current', 'env-app-2026_01_01');
  const target = path.join(fx.root, 'shared target');

  const runs = await Promise.all([1, 2, 3, 4].map(() => runCli(bundle, ['deploy', fx.origin, target])));
  expect(allOk(runs)).toEqual(['ok', 'ok', 'ok', 'ok']);
  const installs = runs.flatMap((r) => r.out.match(/^Installing \S+/gm) ?? []).sort();
  expect(installs).toEqual(['Installing app/2026_01_01', 'Installing app/2026_01_02', 'Installing other/2026_01_01']);
  await checkDeployInvariants(target);
  const concurrent = await snapshotEnvs(target);
  const cache = await inspectCache(path.join(target, '.pkg_cache'), app.sha256);
  expect(cache.incomplete).toEqual([]);
  expect(cache.leftovers).toEqual([]);
  const find = ['-name', '.staging-*', '-o', '-name', '.link-*', '-o', '-name', '.trash-*'];
  expect(execFileSync('find', [target, ...find], { encoding: 'utf8' })).toBe('');

  await fs.rm(target, { recursive: true, force: true });
  await runCliOk(bundle, ['deploy', fx.origin, target]);
  expect(concurrent).toEqual(await snapshotEnvs(target));
  counters.add('deploys run at once on one target', 4);
  counters.note('4 deploys at once: each prefix installed exactly once, final tree equal to a single deploy');
});

/** Every commit of every branch of a repository (with its parents), to compare histories. */
async function commitsOf(repo: string, ref: string): Promise<string[]> {
  const out = await git(['log', '--format=%s', ref], repo).catch(() => '');
  return out.split('\n').filter(Boolean);
}

async function treeOf(repo: string, ref: string): Promise<string> {
  return git(['ls-tree', '-r', ref], repo);
}

test('two resolves at once on one repository: their pushes race, and the result equals a serial run', async () => {
  const specs: Record<string, string[]> = { alpha: ['tool'], beta: ['data', 'docs'], gamma: ['extra-b', 'big'] };
  const repo = await GitFixture.create();
  try {
    for (const [env, names] of Object.entries(specs)) await repo.commit(env, { 'env.spec': specFor(url, names) });
    const serial = await repo.copy();
    try {
      // One resolve does alpha and beta, the other beta and gamma: both push beta.
      const runs = await Promise.all([runCli(bundle, ['resolve', repo.origin, '--envs', 'alpha', '--envs', 'beta']), runCli(bundle, ['resolve', repo.origin, '--envs', 'beta', '--envs', 'gamma'])]);
      expect(allOk(runs)).toEqual(['ok', 'ok']);
      await runCliOk(bundle, ['resolve', serial.origin, '--envs', 'alpha', '--envs', 'beta']);
      await runCliOk(bundle, ['resolve', serial.origin, '--envs', 'beta', '--envs', 'gamma']);
      for (const env of Object.keys(specs)) {
        expect(await treeOf(repo.origin, `manifest/${env}`)).toEqual(await treeOf(serial.origin, `manifest/${env}`));
        // exactly one manifest commit per environment: nothing lost, nothing doubled
        expect(await commitsOf(repo.origin, `manifest/${env}`)).toEqual([`Manifest update for ${env}`]);
        expect(await commitsOf(repo.origin, env)).toEqual(await commitsOf(serial.origin, env));
      }
      const pushes = runs.flatMap((r) => r.out.match(/^Pushing changes to manifest\/\S+/gm) ?? []);
      counters.add('resolves run at once on one repository', 2);
      counters.note(`2 resolves at once (alpha+beta, beta+gamma): ${pushes.length} manifest pushes, one commit per manifest branch, trees equal to a serial run`);
    } finally {
      await serial.cleanup();
    }
  } finally {
    await repo.cleanup();
  }
});

test('two label commands at once on one environment branch both land', async () => {
  const repo = await GitFixture.create();
  try {
    await tagLock(repo, 'app', 'env-app-2026_01_01', url, app.v1, '2026-01-01T10:00:00Z');
    await tagLock(repo, 'app', 'env-app-2026_01_02', url, app.v2, '2026-01-02T10:00:00Z');
    const serial = await repo.copy();
    try {
      const pairs: [string[], string[]][] = [
        [
          ['--label', 'qa', 'env-app-2026_01_01'],
          ['--label', 'prod', 'env-app-2026_01_02'],
        ],
        [['env-app-2026_01_01'], ['--label', 'hotfix', 'env-app-2026_01_02']],
        [
          ['--label', 'qa', 'env-app-2026_01_02'],
          ['--label', 'stage', 'env-app-2026_01_01'],
        ],
      ];
      for (const [a, b] of pairs) {
        const runs = await Promise.all([a, b].map((args) => runCli(bundle, ['label', repo.origin, ...args.slice(-1), ...args.slice(0, -1)])));
        expect(allOk(runs)).toEqual(['ok', 'ok']);
        for (const args of [a, b]) await runCliOk(bundle, ['label', serial.origin, ...args.slice(-1), ...args.slice(0, -1)]);
        counters.add('label commands run at once', 2);
      }
      expect(await treeOf(repo.origin, 'app')).toEqual(await treeOf(serial.origin, 'app'));
      const subjects = (await commitsOf(repo.origin, 'app')).sort();
      expect(subjects).toEqual((await commitsOf(serial.origin, 'app')).sort());
      counters.note('3 rounds of 2 label commands at once on one branch: every label commit present, labels/ equal to a serial run');
    } finally {
      await serial.cleanup();
    }
  } finally {
    await repo.cleanup();
  }
});
