// The actions run the way a developer runs them on their own machine: `npx local-action` with the
// action's .env.example (edited as the file says), against an environments repository in a temporary
// directory (a bare `origin`) and a channel built by the fixture builder. Also checks that each
// .env.example names exactly the inputs of its action.yml, so the examples cannot drift.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { buildChannel, type BuiltChannel } from '../fixtures/channel/channel.js';

const exec = promisify(execFile);
const ROOT = path.resolve('.');
const PHASES = ['resolve', 'autotag', 'label', 'deploy', 'setup'];

// Identity for the commits this test makes itself; the actions bring their own.
const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'gitenv test',
  GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'gitenv test',
  GIT_COMMITTER_EMAIL: 'test@example.invalid',
};

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec('git', args, { cwd, env: GIT_ENV });
  return stdout.trim();
}

/** KEY=value lines of a dotenv file, in order (comments and blank lines dropped). */
function parseDotenv(text: string): [string, string][] {
  return text
    .split('\n')
    .filter((line) => /^[A-Za-z_][\w.-]*=/.test(line))
    .map((line) => {
      const i = line.indexOf('=');
      return [line.slice(0, i), line.slice(i + 1)];
    });
}

/** The action's .env.example with some values replaced, written where local-action can read it. */
async function writeEnvFile(phase: string, dir: string, values: Record<string, string>): Promise<string> {
  const entries = parseDotenv(readFileSync(path.join(ROOT, 'actions', phase, '.env.example'), 'utf8'));
  for (const key of Object.keys(values)) {
    if (!entries.some(([k]) => k === key)) throw new Error(`${key} is not in actions/${phase}/.env.example`);
  }
  const lines = entries.map(([k, v]) => `${k}=${values[k] ?? v}`);
  const file = path.join(dir, `${phase}.env`);
  await writeFile(file, lines.join('\n') + '\n');
  // The runner creates the summary file before a step starts; @actions/core insists on it.
  if (values.GITHUB_STEP_SUMMARY) await writeFile(values.GITHUB_STEP_SUMMARY, '', { flag: 'a' });
  return file;
}

interface LocalRun {
  outputs: Record<string, string>;
  errors: string[];
  log: string;
}

/** `npx local-action actions/<phase> ../../src/actions/<phase>.ts <env file>` from the repository root. */
async function localAction(phase: string, envFile: string): Promise<LocalRun> {
  // local-action exits 0 when the action failed (its core stub only records the failure); should the
  // real @actions/core run instead, a failure exits 1. Either way the ::error:: lines tell.
  const { stdout, stderr } = await exec('npx', ['--no', 'local-action', `actions/${phase}`, `../../src/actions/${phase}.ts`, envFile], {
    cwd: ROOT,
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: { stdout?: string; stderr?: string; message: string }) => ({
    stdout: err.stdout ?? '',
    stderr: `${err.stderr ?? ''}\n::error::local-action exited non-zero: ${err.message}`,
  }));
  const log = stdout + stderr;
  const outputs: Record<string, string> = {};
  for (const m of log.matchAll(/^::set-output name=([\w-]+)::(.*)$/gm)) outputs[m[1]] = m[2];
  const errors = [...log.matchAll(/^::error[^:]*::(.*)$/gm)].map((m) => m[1]);
  return { outputs, errors, log };
}

describe('each action has a .env.example for local runs', () => {
  test.each(PHASES)('actions/%s/.env.example sets every input of its action.yml and no other', (phase) => {
    const action = yaml.load(readFileSync(path.join(ROOT, 'actions', phase, 'action.yml'), 'utf8')) as { inputs: Record<string, unknown> };
    const keys = parseDotenv(readFileSync(path.join(ROOT, 'actions', phase, '.env.example'), 'utf8')).map(([k]) => k);
    const inputs = keys.filter((k) => k.startsWith('INPUT_')).map((k) => k.slice('INPUT_'.length));
    expect(inputs.sort()).toEqual(Object.keys(action.inputs).map((n) => n.toUpperCase()).sort());
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

/** A bare `origin` with branch `default` holding env.spec, as the old README starts; returns its path. */
async function makeOrigin(tmp: string, spec: string): Promise<{ origin: string; work: string }> {
  const origin = path.join(tmp, 'origin.git');
  const work = path.join(tmp, 'work');
  await git(tmp, 'init', '--bare', '--quiet', origin);
  await git(tmp, 'init', '--quiet', '-b', 'default', work);
  await writeFile(path.join(work, 'env.spec'), spec);
  await git(work, 'add', 'env.spec');
  await git(work, 'commit', '--quiet', '-m', 'Added the default environment.');
  await git(work, 'push', '--quiet', origin, 'default');
  return { origin, work };
}

describe('autotag under npx local-action', () => {
  let tmp: string;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'gitenv-local-autotag-'));
  });

  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('tags the head of a manifest branch made by the old tool, once', async () => {
    const spec = 'channels:\n - defaults\nenv:\n - python\n';
    const { origin, work } = await makeOrigin(tmp, spec);
    // manifest/default as conda-gitenv left it on 2015-11-12 (spaces, trailing slash, no env.lock).
    await git(work, 'checkout', '--quiet', '--orphan', 'manifest/default');
    await writeFile(path.join(work, 'env.manifest'), 'https://repo.continuum.io/pkgs/free/linux-64/   python-3.5.0-1\n');
    await git(work, 'add', 'env.spec', 'env.manifest');
    await exec('git', ['commit', '--quiet', '-m', 'Manifest update for default'], {
      cwd: work,
      env: { ...GIT_ENV, GIT_AUTHOR_DATE: '2015-11-12T10:54:00Z', GIT_COMMITTER_DATE: '2015-11-12T10:54:00Z' },
    });
    await git(work, 'push', '--quiet', origin, 'manifest/default');

    const summary = path.join(tmp, 'autotag-summary.md');
    const envFile = await writeEnvFile('autotag', tmp, { INPUT_REPOSITORY: origin, 'INPUT_DRY-RUN': 'false', GITHUB_STEP_SUMMARY: summary });
    const first = await localAction('autotag', envFile);
    expect(first.errors).toEqual([]);
    expect(JSON.parse(first.outputs.tags)).toEqual(['env-default-2015_11_12']);
    expect(first.log).toContain('Pushing tag env-default-2015_11_12');
    expect(await git(origin, 'cat-file', '-t', 'env-default-2015_11_12')).toBe('tag');
    expect(await git(origin, 'rev-parse', 'env-default-2015_11_12^{commit}')).toBe(await git(origin, 'rev-parse', 'manifest/default'));
    expect(await readFile(summary, 'utf8')).toContain('env-default-2015_11_12');

    // The head carries a tag of its environment now: nothing more to do.
    const second = await localAction('autotag', envFile);
    expect(second.errors).toEqual([]);
    expect(JSON.parse(second.outputs.tags)).toEqual([]);
    expect(await git(origin, 'tag', '--list')).toBe('env-default-2015_11_12');
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
