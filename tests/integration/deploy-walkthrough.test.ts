/**
 * The seed walk-through end to end as a user runs it: resolve → autotag → deploy through the CLI
 * bundle, and deploy through the action bundle (INPUT_* variables, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY).
 */
import { execFile, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildSeedChannel, type BuiltChannel } from '../fixtures/channel/index.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { buildBundles, envEntries, snapshotTree } from './deploy-support.js';

const run = promisify(execFile);
const ROOT = path.resolve('.');
let CLI: string;
let ACTION: string;

beforeAll(async () => {
  ({ cli: CLI, deploy: ACTION } = await buildBundles(ROOT, ['cli', 'deploy']));
}, 180_000);

let fx: GitFixture;
let channel: BuiltChannel;
let target: string;

beforeEach(async () => {
  fx = await GitFixture.create();
  channel = await buildSeedChannel(path.join(fx.root, 'seed channel'));
  target = path.join(fx.root, 'deployed envs');
});
afterEach(async () => {
  await fx.cleanup();
});

const spec = (packages: string[]) => `channels:\n  - ${channel.url}\nenv:\n${packages.map((p) => `  - ${p}\n`).join('')}`;

/**
 * The Node 20 the README promises the CLI works on (the tests themselves run on the runners' Node 24,
 * .node-version): GITENV_NODE20 (.ci/run sets it to the machine's node) or /usr/bin/node, when v20.
 */
const NODE20 = [process.env.GITENV_NODE20, '/usr/bin/node'].find((n) => n && spawnSync(n, ['--version'], { encoding: 'utf8' }).stdout?.startsWith('v20.'));
const runtimes: [string, string | undefined][] = [
  [`the tests' Node (${process.version})`, process.execPath],
  ['Node 20, which the README promises', NODE20],
];

let node = process.execPath;
async function gitenv(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run(node, [CLI, ...args], { env: { ...process.env, RUNNER_TEMP: fx.root } });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`gitenv ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** resolve then autotag; returns the tag autotag made. */
async function resolveAndTag(): Promise<string> {
  const before = new Set(await fx.tags());
  await gitenv('resolve', fx.origin);
  await gitenv('autotag', fx.origin);
  const made = (await fx.tags()).filter((t) => !before.has(t));
  expect(made).toHaveLength(1);
  return made[0];
}

const deployedName = (tag: string) => tag.replace(/^env-default-/, '');
const link = (label: string) => fs.readlink(path.join(target, 'default', label));

test.each(runtimes)('through the CLI on %s: latest follows new tags, labels keep theirs, pre-prod links, the entry point runs, a no-op needs no channel', async (_name, runtime) => {
  if (!runtime) {
    // In CI a missing tool fails the test; elsewhere say why it did not run.
    if (process.env.CI === 'true') throw new Error('no Node 20 found (GITENV_NODE20 or /usr/bin/node)');
    console.warn('skipped: no Node 20 found (GITENV_NODE20 or /usr/bin/node)');
    return;
  }
  node = runtime;
  await fx.commit('default', { 'env.spec': spec(['python 3.11.*', 'pyhello']) });
  const first = await resolveAndTag();
  expect(first).toMatch(/^env-default-\d{4}_\d{2}_\d{2}$/);

  const out = await gitenv('deploy', fx.origin, target);
  expect(out).toContain(`Linking default/latest to ${first}`);
  expect(await envEntries(target, 'default')).toEqual([deployedName(first), 'latest']);
  expect(await link('latest')).toBe(deployedName(first));
  const hello = await run(path.join(target, 'default', 'latest', 'bin', 'pyhello'));
  expect(hello.stdout.trim()).toBe('hello from pyhello 1.0.0');

  await gitenv('label', fx.origin, first, '--label', 'current');
  await fx.commit('default', { 'env.spec': spec(['python 3.11.*', 'pyhello', 'numpy']) });
  const second = await resolveAndTag();
  expect(deployedName(second)).toMatch(/^\d{4}_\d{2}_\d{2}-1$/);
  await fx.commit('default', { 'labels/pre-prod.txt': `${second}\n` });

  const out2 = await gitenv('deploy', fx.origin, target);
  expect(out2).toContain(`Linking default/latest to ${second}`);
  expect(out2).toContain(`Linking default/pre-prod to ${second}`);
  expect(await link('latest')).toBe(deployedName(second));
  expect(await link('current')).toBe(deployedName(first));
  expect(await link('pre-prod')).toBe(deployedName(second));
  const numpy = await run(path.join(target, 'default', 'pre-prod', 'bin', 'python'), ['-c', 'import numpy; print(numpy.__version__)']);
  expect(numpy.stdout.trim()).toBe('1.26.4');

  // The channel is gone: a deploy with nothing new neither needs it nor touches anything.
  await fs.rename(channel.dir, `${channel.dir} moved`);
  const before = await snapshotTree(target);
  const out3 = await gitenv('deploy', fx.origin, target);
  expect(out3).not.toMatch(/Linking|Installing/);
  expect(await snapshotTree(target)).toEqual(before);
});

test('through the action bundle: outputs `deployed` and writes the summary table', async () => {
  await fx.commit('default', { 'env.spec': spec(['python 3.11.*', 'pyhello']) });
  const tag = await resolveAndTag();
  const outputFile = path.join(fx.root, 'github_output');
  const summaryFile = path.join(fx.root, 'step_summary');
  await fs.writeFile(outputFile, '');
  await fs.writeFile(summaryFile, '');
  const env = {
    ...process.env,
    INPUT_REPOSITORY: fx.origin,
    INPUT_TARGET: target,
    INPUT_ENVS: '*',
    'INPUT_ENV-LABELS': '*',
    'INPUT_DRY-RUN': 'false',
    INPUT_ENGINE: 'builtin',
    INPUT_PRUNE: 'false',
    INPUT_KEEP: '2',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: fx.root,
  };
  const { stdout } = await run(process.execPath, [ACTION], { env });
  expect(stdout).toContain(`Linking default/latest to ${tag}`);
  expect(stdout).not.toContain('::error');
  const prefix = path.join(target, 'default', deployedName(tag));
  const output = await fs.readFile(outputFile, 'utf8');
  const deployed = /deployed<<(\S+)\n([\s\S]*?)\n\1/.exec(output);
  expect(JSON.parse(deployed?.[2] ?? 'null')).toEqual([{ env: 'default', tag, prefix }]);
  const summary = await fs.readFile(summaryFile, 'utf8');
  expect(summary).toContain('| Environment | Label | Tag | Prefix | Status | Size | Time |');
  expect(summary).toMatch(new RegExp(`\\| default \\| latest \\| ${tag} \\| \`[^\`]+\` \\| installed \\| [\\d.]+ [kM]?B \\| [\\d.]+ s \\|`));
  expect(await link('latest')).toBe(deployedName(tag));

  // Again, channel gone: up to date, nothing touched.
  await fs.rename(channel.dir, `${channel.dir} moved`);
  const before = await snapshotTree(target);
  await fs.writeFile(summaryFile, '');
  await run(process.execPath, [ACTION], { env });
  expect(await snapshotTree(target)).toEqual(before);
  expect(await fs.readFile(summaryFile, 'utf8')).toMatch(/\| default \| latest \| \S+ \| `[^`]+` \| up to date \|/);
});
