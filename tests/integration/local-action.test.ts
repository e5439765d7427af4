// The actions run the way a developer runs them on their own machine: `npx local-action` with the
// action's .env.example (edited as the file says), against an environments repository in a temporary
// directory (a bare `origin`) and a channel built by the fixture builder. Also checks that each
// .env.example names exactly the inputs of its action.yml, so the examples cannot drift.
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { buildChannel, type BuiltChannel } from '../fixtures/channel/channel.js';
import { git, localAction, makeOrigin, parseDotenv, ROOT, writeEnvFile } from './local-action-support.js';

const PHASES = ['resolve', 'autotag', 'label', 'deploy', 'setup'];

describe('each action has a .env.example for local runs', () => {
  test.each(PHASES)('actions/%s/.env.example sets every input of its action.yml and no other', (phase) => {
    const action = yaml.load(readFileSync(path.join(ROOT, 'actions', phase, 'action.yml'), 'utf8')) as { inputs: Record<string, unknown> };
    const keys = parseDotenv(readFileSync(path.join(ROOT, 'actions', phase, '.env.example'), 'utf8')).map(([k]) => k);
    const inputs = keys.filter((k) => k.startsWith('INPUT_')).map((k) => k.slice('INPUT_'.length));
    expect(inputs.sort()).toEqual(
      Object.keys(action.inputs)
        .map((n) => n.toUpperCase())
        .sort(),
    );
    expect(keys).toContain('GITHUB_STEP_SUMMARY');
  });

  test('the root .env.example only sets inputs of the root action.yml', () => {
    const action = yaml.load(readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as { inputs: Record<string, unknown> };
    const names = Object.keys(action.inputs).map((n) => n.toUpperCase());
    const inputs = parseDotenv(readFileSync(path.join(ROOT, '.env.example'), 'utf8'))
      .map(([k]) => k)
      .filter((k) => k.startsWith('INPUT_'))
      .map((k) => k.slice('INPUT_'.length));
    expect(inputs).toContain('PHASE');
    for (const input of inputs) expect(names).toContain(input);
  });
});

describe('resolve then autotag under npx local-action', () => {
  let tmp: string;
  let origin: string;
  let channel: BuiltChannel;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'gitenv-local-resolve-'));
    channel = await buildChannel(path.join(tmp, 'channel'), [
      { name: 'libzlib', version: '1.3.1', build: 'h0_0', files: { 'lib/libz.txt': 'zlib\n' } },
      { name: 'python', version: '3.12.1', build: 'h0_0', depends: ['libzlib >=1.3'], files: { 'bin/python-version.txt': '3.12.1\n' } },
    ]);
    ({ origin } = await makeOrigin(tmp, `channels:\n  - ${channel.url}\nenv:\n  - python\n`));
  });

  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('resolve pushes manifest/default (env.manifest, env.lock, env.spec); autotag tags the new head', async () => {
    const common = { INPUT_REPOSITORY: origin, 'INPUT_DRY-RUN': 'false' };
    const resolveSummary = path.join(tmp, 'resolve-summary.md');
    const resolve = await localAction('resolve', await writeEnvFile('resolve', tmp, { ...common, GITHUB_STEP_SUMMARY: resolveSummary }));
    expect(resolve.errors).toEqual([]);
    expect(JSON.parse(resolve.outputs.changed)).toEqual(['default']);
    expect(resolve.log).toContain('Pushing changes to manifest/default');

    const files = (await git(origin, 'ls-tree', '--name-only', 'manifest/default')).split('\n').sort();
    expect(files).toEqual(['env.lock', 'env.manifest', 'env.spec']);
    const manifest = await git(origin, 'show', 'manifest/default:env.manifest');
    expect(manifest.split('\n')).toEqual([`${channel.url}/linux-64\tlibzlib-1.3.1-h0_0`, `${channel.url}/linux-64\tpython-3.12.1-h0_0`]);
    const lock = await git(origin, 'show', 'manifest/default:env.lock');
    const python = channel.packages.find((p) => p.record.name === 'python')!;
    expect(lock).toContain('@EXPLICIT');
    expect(lock).toContain(`${channel.url}/linux-64/${python.fn}#${python.sha256}`);
    expect(await readFile(resolveSummary, 'utf8')).toContain('default');

    const autotag = await localAction('autotag', await writeEnvFile('autotag', tmp, { ...common, GITHUB_STEP_SUMMARY: path.join(tmp, 'autotag-summary.md') }));
    expect(autotag.errors).toEqual([]);
    // env-<env>-<YYYY_MM_DD> from the manifest head's committer date in UTC.
    const committed = new Date(Number(await git(origin, 'log', '-1', '--format=%ct', 'manifest/default')) * 1000);
    const expected = `env-default-${committed.toISOString().slice(0, 10).replace(/-/g, '_')}`;
    expect(JSON.parse(autotag.outputs.tags)).toEqual([expected]);
    expect(await git(origin, 'rev-parse', `${expected}^{commit}`)).toBe(await git(origin, 'rev-parse', 'manifest/default'));
  });
});
