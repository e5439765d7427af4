/**
 * `engine: micromamba` with several platforms (issue 13): one `--platform` solve per platform with
 * that platform's CONDA_OVERRIDE_* variables, per-platform files; deploy installs this machine's lock,
 * and with the platform override another platform's, passing `--platform` and skipping link scripts.
 * micromamba is the recording stand-in of tests/fixtures/micromamba (its dry-run answer is canned:
 * what is checked here is what gitenv asks of micromamba and which lock it hands over).
 */
import { existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { autotag } from '../../src/phases/autotag.js';
import { deploy } from '../../src/phases/deploy.js';
import { resolve } from '../../src/phases/resolve.js';
import type { CommonSettings } from '../../src/phases/settings.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { GitFixture } from '../fixtures/git-repo.js';

const fixture = (name: string): string => new URL(`../fixtures/micromamba/${name}`, import.meta.url).pathname;

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
  env = { PATH: process.env.PATH, HOME: process.env.HOME, MAMBA_EXE: path.join(bin, 'micromamba'), GITENV_STANDIN_RECORD: recordFile, GITENV_STANDIN_ANSWER: fixture('dry-run-linux-64.json') };
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
const platformOf = (argv: string[]): string | undefined => (argv.includes('--platform') ? argv[argv.indexOf('--platform') + 1] : undefined);

test("micromamba: a solve per platform with its virtual packages; deploy hands over this machine's lock, or with the override another one without link scripts", async () => {
  await fx.commit('default', { 'env.spec': 'channels:\n  - conda-forge\n  - https://repo.example.com/private\nplatforms:\n  - linux-64\n  - osx-arm64\nenv:\n  - python 3.12.*\n' });
  const logger = new MemoryLogger();
  const resolved = await resolve({ ...common(), platform: 'linux-64', channelAlias: 'https://conda.anaconda.org', engine: 'micromamba', mode: 'push' }, { logger, env });
  expect(resolved.failed).toEqual([]);
  // The platforms are solved side by side: one solve each, in any order.
  const solves = new Map(
    calls()
      .filter((c) => c.argv.includes('--dry-run'))
      .map((c) => [platformOf(c.argv), c]),
  );
  expect([...solves.keys()].sort()).toEqual(['linux-64', 'osx-arm64']);
  expect(solves.get('linux-64')?.env).toMatchObject({ CONDA_OVERRIDE_GLIBC: '2.28' });
  expect(solves.get('osx-arm64')?.env).toMatchObject({ CONDA_OVERRIDE_OSX: '11.0' });
  expect(solves.get('osx-arm64')?.env.CONDA_OVERRIDE_GLIBC ?? '').toBe('');
  expect((await fx.show('manifest/default', 'env.osx-arm64.lock'))?.split('\n')[0]).toBe('# platform: osx-arm64');
  expect(await fx.show('manifest/default', 'env.lock')).toBeUndefined();

  const tag = (await autotag(common(), { logger })).tags[0];
  const settings = { ...common(), envLabels: ['*'], engine: 'micromamba' as const, prune: false, keep: 2 };
  const here = await deploy({ ...settings, target: path.join(fx.root, 'here') }, { logger, env });
  expect(here.failed).toEqual([]);
  const create = calls().filter((c) => c.argv[0] === 'create' && !c.argv.includes('--dry-run'));
  expect(create).toHaveLength(1);
  expect(platformOf(create[0].argv)).toBeUndefined();
  expect(create[0].env.MAMBA_SKIP_RUN_LINK_SCRIPTS).toBeUndefined();
  expect(logger.lines('info')).toContain(`${tag}: installing env.linux-64.lock for linux-64`);

  const foreign = new MemoryLogger();
  const there = await deploy({ ...settings, target: path.join(fx.root, 'there'), platform: 'osx-arm64' }, { logger: foreign, env });
  expect(there.failed).toEqual([]);
  const second = calls().filter((c) => c.argv[0] === 'create' && !c.argv.includes('--dry-run'))[1];
  expect(platformOf(second.argv)).toBe('osx-arm64');
  expect(second.env.MAMBA_SKIP_RUN_LINK_SCRIPTS).toBe('true');
  expect(foreign.lines('info')).toContain(`${tag}: installing env.osx-arm64.lock for osx-arm64 (not this machine's platform, linux-64)`);
  expect(there.summary).toContain('explicit platform override): post-link scripts and smoke tests are not run');
});
