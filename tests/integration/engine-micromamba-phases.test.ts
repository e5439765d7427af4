/**
 * `engine: micromamba` through the phases: resolve turns micromamba's dry-run JSON into the same
 * manifest files the builtin engine writes, and deploy builds the prefix with micromamba, then
 * gives it the same marker, rename and labels. micromamba itself is the recording stand-in of
 * tests/fixtures/micromamba (no real micromamba can be downloaded here), found through MAMBA_EXE.
 */
import { existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readlink } from 'node:fs/promises';
import * as path from 'node:path';
import type { PackageRecord } from '../../src/conda/types.js';
import { readMarker } from '../../src/deploy/layout.js';
import { formatLock } from '../../src/manifest/lock.js';
import { formatManifest } from '../../src/manifest/manifest.js';
import { autotag } from '../../src/phases/autotag.js';
import { deploy } from '../../src/phases/deploy.js';
import { resolve } from '../../src/phases/resolve.js';
import type { CommonSettings } from '../../src/phases/settings.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { GitFixture } from '../fixtures/git-repo.js';

const fixture = (name: string): string => new URL(`../fixtures/micromamba/${name}`, import.meta.url).pathname;
const EXPECTED = JSON.parse(readFileSync(fixture('expected-records.json'), 'utf8')) as PackageRecord[];

let fx: GitFixture;
let env: NodeJS.ProcessEnv;
let recordFile: string;

beforeEach(async () => {
  fx = await GitFixture.create();
  const bin = path.join(fx.root, 'stand in bin');
  await mkdir(bin);
  for (const f of ['micromamba', 'standin.mjs']) await copyFile(fixture(f), path.join(bin, f));
  await chmod(path.join(bin, 'micromamba'), 0o755);
  recordFile = path.join(fx.root, 'calls.jsonl');
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    MAMBA_EXE: path.join(bin, 'micromamba'),
    GITENV_STANDIN_RECORD: recordFile,
    GITENV_STANDIN_ANSWER: fixture('dry-run-linux-64.json'),
  };
  // the stand-in's answer has a package of a second channel: resolve refuses packages of channels env.spec does not list
  await fx.commit('default', { 'env.spec': 'channels:\n  - conda-forge\n  - https://repo.example.com/private\nenv:\n  - python 3.12.*\n' }, { date: '2026-03-04T10:00:00Z' });
});
afterEach(async () => {
  await fx.cleanup();
});

const common = (): CommonSettings => ({ repository: fx.origin, envs: [], dryRun: false, workDir: path.join(fx.root, 'work') });
const calls = (): { argv: string[]; env: Record<string, string> }[] =>
  existsSync(recordFile)
    ? readFileSync(recordFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
    : [];

test('resolve with micromamba writes the manifest files the builtin engine would; deploy installs with it', async () => {
  const logger = new MemoryLogger();
  const resolved = await resolve({ ...common(), platform: 'linux-64', channelAlias: 'https://conda.anaconda.org', engine: 'micromamba', mode: 'push' }, { logger, env });
  expect(resolved.failed).toEqual([]);
  expect(resolved.changed).toEqual(['default']);
  // fx.show gives git's output without its last newline.
  expect(await fx.show('manifest/default', 'env.manifest')).toBe(formatManifest(EXPECTED).trimEnd());
  const lock = await fx.show('manifest/default', 'env.lock');
  expect(lock).toBe(formatLock(EXPECTED, { platform: 'linux-64', env: 'default' }).trimEnd());
  const solve = calls().find((c) => c.argv.includes('--dry-run'));
  expect(solve?.argv).toEqual(expect.arrayContaining(['--override-channels', '--channel', 'https://conda.anaconda.org/conda-forge', '--platform', 'linux-64', 'python 3.12.*']));
  expect(solve?.env.CONDA_OVERRIDE_GLIBC).toBe('2.28');

  const tagged = await autotag(common(), { logger });
  expect(tagged.tags).toHaveLength(1);
  const target = path.join(fx.root, 'deployed envs');
  const deployed = await deploy({ ...common(), target, envLabels: ['*'], engine: 'micromamba', prune: false, keep: 2 }, { logger, env });
  expect(deployed.failed).toEqual([]);
  const name = tagged.tags[0].replace(/^env-default-/, '');
  const prefix = path.join(target, 'default', name);
  expect(deployed.deployed).toEqual([{ env: 'default', tag: tagged.tags[0], prefix }]);
  expect(await readlink(path.join(target, 'default', 'latest'))).toBe(name);
  expect(await readMarker(prefix)).toMatchObject({ tag: tagged.tags[0], engine: 'micromamba', packages: EXPECTED.length });
  const meta = (await readdir(path.join(prefix, 'conda-meta'))).filter((f) => f !== 'gitenv.json').sort();
  expect(meta).toEqual(EXPECTED.map((r) => `${r.name}-${r.version}-${r.build}.json`).sort());
  const create = calls().find((c) => c.argv[0] === 'create' && !c.argv.includes('--dry-run'));
  expect(create?.argv).toEqual(expect.arrayContaining(['--relocate-prefix', prefix]));
  expect(create?.env.CONDA_PKGS_DIRS).toBe(path.join(target, '.pkg_cache'));

  // Deploying again finds the complete prefix: micromamba is not even looked for.
  const before = calls().length;
  const again = await deploy({ ...common(), target, envLabels: ['*'], engine: 'micromamba', prune: false, keep: 2 }, { logger, env });
  expect(again.failed).toEqual([]);
  expect(calls().length).toBe(before);
});
