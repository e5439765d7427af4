/**
 * `npm run demo`: the seed walk-through of conda-gitenv, end to end, on this machine alone.
 *
 * It builds a local conda channel with the test channel builder, an environments repository (a bare
 * git `origin` plus a working clone, as a site would have on GitHub), and runs the four phases through
 * the committed action bundles exactly as a GitHub runner does (`node dist/<phase>/index.js` with
 * INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files). Everything lands in demo-out/.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, lstatSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildSeedChannel } from '../tests/fixtures/channel/index.js';

const root = path.resolve(process.argv[2] ?? 'demo-out');
const dirs = {
  channels: path.join(root, 'channels'),
  origin: path.join(root, 'environments.git'),
  work: path.join(root, 'work'),
  target: path.join(root, 'environments'),
  runner: path.join(root, 'runner'),
};
const started = Date.now();

function heading(text: string): void {
  process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
}

function show(text: string): void {
  process.stdout.write(text.replace(/\n$/, '').replace(/^/gm, '   ') + '\n');
}

function git(args: string[], cwd = dirs.work): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Reads a GITHUB_OUTPUT file (`name<<DELIM` blocks or `name=value` lines). */
function readOutputs(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i]);
    if (heredoc) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) value.push(lines[i]);
      out[heredoc[1]] = value.join('\n');
    } else if (lines[i].includes('=')) {
      const at = lines[i].indexOf('=');
      out[lines[i].slice(0, at)] = lines[i].slice(at + 1);
    }
  }
  return out;
}

let step = 0;
/** Runs one action bundle as the runner would, echoing its log; returns its outputs. */
function runAction(phase: string, inputs: Record<string, string>): Record<string, string> {
  step++;
  const output = path.join(dirs.runner, `${step}-${phase}.output`);
  const summary = path.join(dirs.runner, `${step}-${phase}.summary.md`);
  writeFileSync(output, '');
  writeFileSync(summary, '');
  const env: NodeJS.ProcessEnv = { ...process.env, GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary, RUNNER_TEMP: dirs.runner };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  process.stdout.write(
    `\x1b[2m$ node dist/${phase}/index.js   (${Object.entries(inputs)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')})\x1b[0m\n`,
  );
  const r = spawnSync(process.execPath, [path.resolve('dist', phase, 'index.js')], { env, encoding: 'utf8' });
  const log = (r.stdout + r.stderr).split('\n').filter((l) => l.trim() !== '' && !l.startsWith('::debug::') && !l.startsWith('::group::') && !l.startsWith('::endgroup::'));
  show(log.join('\n'));
  if (r.status !== 0) throw new Error(`${phase} failed (exit ${r.status}); its log is above`);
  return readOutputs(output);
}

function writeSpec(branch: string, specs: string[], message: string, create = false): void {
  // The phases push to origin (labels land on the environment branch), so start from origin's head.
  git(['fetch', '-q', 'origin']);
  git(create ? ['checkout', '-q', '--orphan', branch] : ['checkout', '-q', '-B', branch, `origin/${branch}`]);
  if (create) git(['rm', '-rfq', '--ignore-unmatch', '.']);
  writeFileSync(path.join(dirs.work, 'env.spec'), `channels:\n  - demo\nenv:\n${specs.map((s) => `  - ${s}\n`).join('')}\n`);
  git(['add', 'env.spec']);
  git(['commit', '-qm', message]);
  git(['push', '-q', 'origin', branch]);
}

/** `ls -l` of each environment directory under the target, the seed README's view. */
function showTree(): void {
  for (const env of readdirSync(dirs.target)
    .filter((e) => !e.startsWith('.'))
    .sort()) {
    show(`${path.join(dirs.target, env)}:`);
    for (const entry of readdirSync(path.join(dirs.target, env))
      .filter((e) => !e.startsWith('.'))
      .sort()) {
      const full = path.join(dirs.target, env, entry);
      const st = lstatSync(full);
      show(st.isSymbolicLink() ? `  lrwxrwxrwx  ${entry} -> ${readlinkSync(full)}` : `  drwxr-xr-x  ${entry}/`);
    }
  }
}

function run(cmd: string, args: string[]): void {
  process.stdout.write(`\x1b[2m$ ${[cmd, ...args].join(' ').replace(root, 'demo-out')}\x1b[0m\n`);
  show(execFileSync(cmd, args, { encoding: 'utf8' }));
}

function cycle(label?: string): { tags: string[] } {
  const common = { repository: dirs.origin, token: '', envs: '*', 'dry-run': 'false' };
  heading('Phase 1: resolve (env.spec → manifest/<env>)');
  runAction('resolve', { ...common, 'channel-alias': `file://${dirs.channels}`, platform: 'linux-64', engine: 'builtin', mode: 'push' });
  heading('Phase 2: autotag');
  const tags = JSON.parse(runAction('autotag', common).tags || '[]') as string[];
  if (label) {
    heading(`Phase 4: label (${label})`);
    for (const tag of tags) runAction('label', { ...common, tag, 'next-only': 'true', label: '' });
  }
  heading('Phase 3: deploy');
  runAction('deploy', { ...common, target: dirs.target, 'env-labels': '*', engine: 'builtin', prune: 'false', keep: '2' });
  return { tags };
}

async function main(): Promise<void> {
  rmSync(root, { recursive: true, force: true });
  Object.values(dirs).forEach((d) => mkdirSync(d, { recursive: true }));

  heading('A local conda channel (the test channel builder)');
  const channel = await buildSeedChannel(path.join(dirs.channels, 'demo'));
  show(
    `${channel.dir}: ${readdirSync(path.join(channel.dir, 'linux-64'))
      .filter((f) => f !== 'repodata.json')
      .join(', ')}`,
  );

  heading('An environments repository: branch `default` with env.spec');
  git(['init', '-q', '--bare', dirs.origin], root);
  git(['clone', '-q', dirs.origin, dirs.work], root);
  git(['config', 'user.name', 'gitenv demo']);
  git(['config', 'user.email', 'demo@gitenv.invalid']);
  writeSpec('default', ['python 3.*', 'pyhello'], 'Added the default environment.', true);
  show(readFileSync(path.join(dirs.work, 'env.spec'), 'utf8'));

  cycle('next');
  heading('What resolve wrote: manifest/default');
  git(['fetch', '-q', 'origin']);
  show(git(['show', 'origin/manifest/default:env.manifest']));
  show(git(['show', 'origin/manifest/default:env.lock']));
  heading('The deployed tree');
  showTree();
  run(path.join(dirs.target, 'default', 'latest', 'bin', 'pyhello'), []);
  run(path.join(dirs.target, 'default', 'latest', 'bin', 'python'), ['--version']);

  heading('Rinse and repeat: numpy in default, and a `legacy` environment with python 2');
  writeSpec('default', ['python 3.*', 'pyhello', 'numpy'], 'Updated the default environment to include numpy.');
  writeSpec('legacy', ['python 2.*', 'numpy'], "Created a 'legacy' environment for py2k.", true);
  cycle();
  heading('latest moved to the new tag; next stays where it was labelled');
  showTree();
  run(path.join(dirs.target, 'legacy', 'latest', 'bin', 'python'), ['--version']);
  run(path.join(dirs.target, 'default', 'latest', 'bin', 'python'), ['-c', 'import numpy; print("numpy", numpy.__version__)']);
  git(['fetch', '-q', '--tags', 'origin']);
  show(`tags: ${git(['tag', '--list', 'env-*']).trim().split('\n').join(', ')}`);

  heading('Where everything is');
  show(
    [
      `channel:       ${channel.dir}`,
      `repository:    ${dirs.origin} (a working clone in ${dirs.work})`,
      `environments:  ${dirs.target}`,
      `runner files:  ${dirs.runner} (GITHUB_OUTPUT and job summaries of every step)`,
      `took ${((Date.now() - started) / 1000).toFixed(1)} s`,
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
