/**
 * What an HPC site needs on the target (issue 14), against real parts: Debian's Lmod and Environment
 * Modules loading the modulefiles deploy writes, smoke tests from env.spec, post-link scripts that see
 * the final prefix, and a tree that another (unprivileged) user, or a group, can read after a deploy
 * run as root under `umask 077`.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { main } from '../../src/cli.js';
import { readIncomplete, readMarker } from '../../src/deploy/layout.js';
import { deploy } from '../../src/phases/deploy.js';
import type { DeploySettings } from '../../src/phases/settings.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { ensureBundles, ROOT } from '../fixtures/bundles.js';
import { buildChannel, seedPackages, serveChannel, type BuiltChannel, type BuiltPackage, type ChannelServer, type PackageSpec } from '../fixtures/channel/index.js';
import { GitFixture } from '../fixtures/git-repo.js';
import { py3Packages, setLabel, snapshotTree, tagManifest } from './deploy-support.js';

const run = promisify(execFile);

/** A package whose activation script exports GDAL_DATA (and a value made to break a careless module writer). */
const GDALISH: PackageSpec = {
  name: 'gdalish',
  version: '3.8.0',
  files: {
    'etc/conda/activate.d/gdalish.sh': `export GDAL_DATA="$CONDA_PREFIX/share/gdal"\nexport GDALISH_NOTE='say "hi" $(id) [exit] {y} \\\\ ]] ; x'\n`,
    'etc/conda/deactivate.d/gdalish.sh': 'unset GDAL_DATA GDALISH_NOTE\n',
    'share/gdal/data.csv': { content: 'a,b\n1,2\n', mode: 0o600 },
    'share/gdal/readonly.txt': { content: 'do not edit\n', mode: 0o444 },
    'bin/gdal-tool': { content: '#!/bin/sh\necho gdal-tool\n', mode: 0o700 },
  },
};
/** A package whose post-link script writes the PREFIX it was given into the prefix. */
const POSTWRITER: PackageSpec = {
  name: 'postwriter',
  version: '1.0',
  postLink: 'mkdir -p "$PREFIX/share/postwriter"\necho "$PREFIX" > "$PREFIX/share/postwriter/prefix.txt"\n',
};

/** The interpreter behind the fixture's bin/python: the system's, which every user may run (a pyenv under /root is not). */
const SYSTEM_PYTHON = spawnSync('/usr/bin/python3', ['--version']).status === 0 ? '/usr/bin/python3' : undefined;

let fx: GitFixture;
let channel: BuiltChannel;
let server: ChannelServer;
let target: string;
let modDir: string;
let chanUrl: string;

beforeEach(async () => {
  fx = await GitFixture.create();
  await fs.chmod(fx.root, 0o755); // other users of the machine walk through it to the target
  channel = await buildChannel(path.join(fx.root, 'channels', 'seed'), [...seedPackages({ hostPython: SYSTEM_PYTHON }), GDALISH, POSTWRITER], { subdirs: ['linux-64'] });
  server = await serveChannel(path.join(fx.root, 'channels'));
  chanUrl = `${server.url}/seed`;
  target = path.join(fx.root, 'deployed envs');
  modDir = path.join(fx.root, 'modules');
});
afterEach(async () => {
  await server.close();
  await fx.cleanup();
});

const pkgs = (): BuiltPackage[] => [...py3Packages(channel), ...channel.packages.filter((p) => ['gdalish', 'postwriter'].includes(p.record.name))];

function spec(tests: string[] = []): string {
  const lines = ['channels:', `  - ${chanUrl}`, 'env:', '  - python 3.11.*', '  - numpy', '  - pyhello', '  - gdalish', '  - postwriter'];
  if (tests.length > 0) lines.push('tests:', ...tests.map((t) => `  - ${JSON.stringify(t)}`));
  return lines.join('\n') + '\n';
}

async function tag(day: number, tests: string[] = []): Promise<string> {
  const d = String(day).padStart(2, '0');
  return tagManifest(fx, 'default', `env-default-2026_01_${d}`, chanUrl, pkgs(), { date: `2026-01-${d}T10:00:00Z`, spec: spec(tests) });
}

function settings(over: Partial<DeploySettings> = {}): DeploySettings {
  return { repository: fx.origin, envs: [], dryRun: false, target, envLabels: ['*'], engine: 'builtin', prune: false, keep: 2, workDir: path.join(fx.root, 'work'), ...over };
}

async function runDeploy(over: Partial<DeploySettings> = {}) {
  const logger = new MemoryLogger();
  const result = await deploy(settings(over), { logger });
  return { result, logger, text: logger.records.map((r) => r.message).join('\n') };
}

const at = (...p: string[]) => path.join(target, 'default', ...p);
const link = (label: string) => fs.readlink(at(label)).catch(() => undefined);

describe('post-link scripts', () => {
  test('see the final prefix as PREFIX, and what they write lands in it; the prefix is complete only after', async () => {
    await tag(1);
    const { result } = await runDeploy();
    expect(result.failed).toEqual([]);
    expect(await fs.readFile(at('2026_01_01', 'share/postwriter/prefix.txt'), 'utf8')).toBe(`${at('2026_01_01')}\n`);
    expect(await readIncomplete(at('2026_01_01'))).toBeUndefined();
    const marker = await readMarker(at('2026_01_01'));
    expect(marker?.activation?.set.GDAL_DATA).toBe(`${at('2026_01_01')}/share/gdal`);
    expect(await link('latest')).toBe('2026_01_01');
  });
});

describe('smoke tests', () => {
  const GOOD = [
    'python -c "import numpy, pyhello"',
    'test "$(command -v python)" = "$CONDA_PREFIX/bin/python"',
    'test "$GDAL_DATA" = "$CONDA_PREFIX/share/gdal"',
    'test -z "$(ls -A)" && touch left-behind', // a fresh, empty working directory each time
    'test ! -e left-behind',
    'test -z "${GITENV_SECRET_PROBE:-}"', // the runner's variables do not reach a test
  ];
  const BAD = 'python -c "import sys; print(\'boom from python\'); sys.exit(3)"';

  test('a failure leaves every label where it was and the prefix unlabelled; a fixed env.spec moves them', async () => {
    process.env.GITENV_SECRET_PROBE = 'do-not-leak';
    try {
      const first = await tag(1, GOOD);
      await setLabel(fx, 'default', 'current', first);
      const ok = await runDeploy();
      expect(ok.result.failed).toEqual([]);
      expect(ok.text).toContain('default/2026_01_01: smoke tests passed');
      expect((await readMarker(at('2026_01_01')))?.tests).toEqual({ status: 'passed', commands: GOOD });

      const broken = await tag(2, [GOOD[0], BAD]);
      await setLabel(fx, 'default', 'current', broken);
      const bad = await runDeploy();
      expect(bad.result.failed.map((f) => f.env)).toEqual(['default']);
      expect(await link('latest')).toBe('2026_01_01');
      expect(await link('current')).toBe('2026_01_01');
      expect(await readMarker(at('2026_01_02'))).toBeUndefined(); // there, for inspection, but incomplete
      expect(await readIncomplete(at('2026_01_02'))).toContain('exited with status 3');
      for (const where of [bad.text, bad.result.summary]) {
        expect(where).toContain('smoke test of default failed');
        expect(where).toContain(BAD);
        expect(where).toContain('exited with status 3');
        expect(where).toContain('boom from python');
      }
      expect(bad.text).toContain('every label stays where it was');

      // The CLI: a non-zero exit, the reason on its error lines.
      const cli = new MemoryLogger();
      expect(await main(['deploy', fx.origin, target], cli as never)).toBe(1);
      expect(cli.lines('error').join('\n')).toContain('boom from python');
      expect(await link('current')).toBe('2026_01_01');

      const fixed = await tag(3, GOOD);
      await setLabel(fx, 'default', 'current', fixed);
      const again = await runDeploy({ prune: true, keep: 0 });
      expect(again.result.failed).toEqual([]);
      expect(await link('latest')).toBe('2026_01_03');
      expect(await link('current')).toBe('2026_01_03');
      expect(again.text).toContain('Pruned default/2026_01_02'); // the failed one went like any unlabelled prefix
    } finally {
      delete process.env.GITENV_SECRET_PROBE;
    }
  });

  test('passed tests are not run again; skip-tests is logged and recorded; a command past test-timeout fails', async () => {
    const counter = path.join(fx.root, 'runs.txt');
    await tag(1, [`echo ran >> ${JSON.stringify(counter)}`]);
    await runDeploy();
    await runDeploy();
    expect(await fs.readFile(counter, 'utf8')).toBe('ran\n');

    await tag(2, ['exit 1']);
    const skipped = await runDeploy({ skipTests: true });
    expect(skipped.result.failed).toEqual([]);
    expect(skipped.logger.lines('warning').join('\n')).toMatch(/skip-tests.*not run/);
    expect(skipped.text).toContain('default/2026_01_02: skipping 1 smoke test (skip-tests)');
    expect((await readMarker(at('2026_01_02')))?.tests).toEqual({ status: 'skipped', commands: ['exit 1'] });
    expect(await link('latest')).toBe('2026_01_02');

    await tag(3, ['sleep 30 & sleep 30']);
    const started = Date.now();
    const slow = await runDeploy({ testTimeout: 1 });
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(slow.text).toContain('`sleep 30 & sleep 30` did not finish within 1 s (input test-timeout)');
    expect(await link('latest')).toBe('2026_01_02');
  });
});

// ---- module systems ------------------------------------------------------------------------------

const LMOD_INITS = [process.env.GITENV_LMOD_INIT, '/opt/gitenv-ci/lmod/usr/share/lmod/lmod/init/bash', '/usr/share/lmod/lmod/init/bash'];
const TCL_INITS = [process.env.GITENV_MODULES_INIT, '/usr/share/modules/init/bash'];

/** How a login shell gets `module` for this format (a fresh one: the other system's definitions dropped). */
async function moduleInit(format: 'lua' | 'tcl'): Promise<string | undefined> {
  for (const p of format === 'lua' ? LMOD_INITS : TCL_INITS) {
    if (
      p &&
      (await fs.access(p).then(
        () => true,
        () => false,
      ))
    ) {
      return `unset -f module ml _module_raw 2>/dev/null; unset MODULEPATH MODULESHOME LOADEDMODULES _LMFILES_ LMOD_CMD; . ${JSON.stringify(p)}\n`;
    }
  }
  if (process.env.CI) throw new Error(`${format === 'lua' ? 'Lmod' : 'Environment Modules'} missing in CI: .ci/setup-extra should have installed it`);
  return undefined;
}

/** `bash -l` running `script` (as `user` when given), stdout and stderr together. */
function loginShell(script: string, user?: string): { status: number | null; output: string } {
  const argv = user ? ['runuser', '-u', user, '--', 'env', `HOME=${path.join('/tmp')}`, 'bash', '-l', '-c', script] : ['bash', '-l', '-c', script];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', cwd: '/' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const value = (output: string, key: string) =>
  output
    .split('\n')
    .find((l) => l.startsWith(`${key}=`))
    ?.slice(key.length + 1);

describe.each(['lua', 'tcl'] as const)('modulefiles (%s)', (format) => {
  test('module avail, load, unload; two versions never together; a moved label loads the new prefix; no-op stays no-op', async () => {
    const init = await moduleInit(format);
    if (!init) return; // the module system is not installed here (CI installs it)
    const first = await tag(1);
    await setLabel(fx, 'default', 'current', first);
    const opts = { modulefiles: modDir, modulefilesFormat: format };
    const written = await runDeploy(opts);
    expect(written.result.failed).toEqual([]);
    expect(written.result.summary).toContain('Updated 4 modulefile(s)');
    const suffix = format === 'lua' ? '.lua' : '';
    expect((await fs.readdir(path.join(modDir, 'default'))).sort()).toEqual([format === 'lua' ? '.modulerc.lua' : '.modulerc', `2026_01_01${suffix}`, `current${suffix}`, `latest${suffix}`].sort());

    const script = (load: string) =>
      init +
      `module use ${JSON.stringify(modDir)}\n` +
      // Lmod drops repeated entries of any PATH it edits unless the site sets LMOD_DUPLICATE_PATHS=yes
      // (Lmod's own rule, not the module's): a PATH without repeats comes back exactly.
      (format === 'lua' ? 'PATH=$(printf %s "$PATH" | tr ":" "\\n" | awk "!seen[\\$0]++" | paste -sd: -)\n' : '') +
      'module avail 2>&1 | tr -s " " "\\n" | grep "^default/" | sed "s/^/AVAIL=/"\n' +
      'echo "BEFORE=$PATH"\n' +
      `module load ${load}\n` +
      'echo "PY=$(command -v python)"; echo "REAL=$(realpath "$CONDA_PREFIX")"; echo "GDAL=$GDAL_DATA"; echo "NOTE=$GDALISH_NOTE"\n' +
      'echo "PYOUT=$(python -c "import numpy; print(numpy.__version__)")"\n' +
      'module load default/2026_01_01 >/dev/null 2>&1\n' +
      'echo "LOADED=$(module -t list 2>&1 | grep -c "^default/")"\n' +
      'module unload default\n' +
      'echo "AFTER=$PATH"; echo "GDAL_AFTER=${GDAL_DATA-unset}"; echo "PREFIX_AFTER=${CONDA_PREFIX-unset}"\n';
    const one = loginShell(script('default/current'));
    expect(one.output).toContain('AVAIL=default/current');
    expect(one.output).toMatch(/AVAIL=default\/latest/);
    expect(one.output).toContain('AVAIL=default/2026_01_01');
    expect(value(one.output, 'PY')).toBe(at('current', 'bin', 'python'));
    expect(value(one.output, 'REAL')).toBe(at('2026_01_01'));
    expect(value(one.output, 'GDAL')).toBe(at('current', 'share', 'gdal'));
    expect(value(one.output, 'NOTE')).toBe('say "hi" $(id) [exit] {y} \\\\ ]] ; x'); // as the script's single quotes hold it
    expect(value(one.output, 'PYOUT')).toBe('1.26.4');
    expect(value(one.output, 'LOADED')).toBe('1');
    expect(value(one.output, 'AFTER')).toBe(value(one.output, 'BEFORE'));
    expect(value(one.output, 'GDAL_AFTER')).toBe('unset');
    expect(value(one.output, 'PREFIX_AFTER')).toBe('unset');
    // `module load default` takes the default version, latest.
    expect(value(loginShell(init + `module use ${JSON.stringify(modDir)}\nmodule load default\necho "P=$CONDA_PREFIX"\n`).output, 'P')).toBe(at('latest'));

    // A no-op deploy writes nothing.
    const before = await snapshotTree(modDir);
    const noop = await runDeploy(opts);
    expect(noop.text).not.toContain('modulefile');
    expect(await snapshotTree(modDir)).toEqual(before);

    // The label moves: its module file is not rewritten, and the same load gets the new prefix.
    const second = await tag(2);
    await setLabel(fx, 'default', 'current', second);
    const currentFile = path.join(modDir, 'default', `current${suffix}`);
    const old = await fs.stat(currentFile);
    const moved = await runDeploy({ ...opts, prune: true, keep: 0 });
    expect(moved.result.failed).toEqual([]);
    expect((await fs.stat(currentFile)).ino).toBe(old.ino);
    expect(value(loginShell(script('default/current')).output, 'REAL')).toBe(at('2026_01_02'));
    // The pruned prefix's module went with it.
    expect(moved.text).toContain(`Removed modulefile ${path.join(modDir, 'default', `2026_01_01${suffix}`)}`);
    expect(await fs.readdir(path.join(modDir, 'default'))).not.toContain(`2026_01_01${suffix}`);
  });
});

test('a site template adds help, whatis and extra lines; a file gitenv did not write is never touched; a label gone takes its module', async () => {
  await setLabel(fx, 'default', 'current', await tag(1));
  const template = path.join(fx.root, 'site.yml');
  await fs.writeFile(template, 'help: "{env} {version}: ask hpc-help@example.org"\nwhatis: "Site env {env}"\nlua: |\n  setenv("SITE_FLAG", "1")\n');
  await fs.mkdir(path.join(modDir, 'default'), { recursive: true });
  await fs.writeFile(path.join(modDir, 'default', 'mine.lua'), '-- hand made\n');
  const { result } = await runDeploy({ modulefiles: modDir, modulefilesTemplate: template });
  expect(result.failed).toEqual([]);
  const text = await fs.readFile(path.join(modDir, 'default', 'latest.lua'), 'utf8');
  expect(text).toContain('help("default latest: ask hpc-help@example.org")');
  expect(text).toContain('whatis("Site env default")');
  expect(text).toContain('setenv("SITE_FLAG", "1")');
  expect(await fs.readFile(path.join(modDir, 'default', 'mine.lua'), 'utf8')).toBe('-- hand made\n');
  expect(await fs.readdir(path.join(modDir, 'default'))).toContain('current.lua');

  await setLabel(fx, 'default', 'current', null);
  const gone = await runDeploy({ modulefiles: modDir, modulefilesTemplate: template });
  expect(gone.text).toContain(`Removed modulefile ${path.join(modDir, 'default', 'current.lua')}`);
  expect((await fs.readdir(path.join(modDir, 'default'))).sort()).toEqual(['.modulerc.lua', '2026_01_01.lua', 'latest.lua', 'mine.lua']);

  await fs.writeFile(template, 'colour: red\n');
  await expect(runDeploy({ modulefiles: modDir, modulefilesTemplate: template })).rejects.toThrow('unknown key "colour"');
});

// ---- other users -----------------------------------------------------------------------------------

const isRoot = process.getuid?.() === 0;
const made: { users: string[]; groups: string[] } = { users: [], groups: [] };
afterAll(() => {
  for (const u of made.users) spawnSync('userdel', [u]);
  for (const g of made.groups) spawnSync('groupdel', [g]);
});

function needRoot(): boolean {
  if (isRoot) return true;
  if (process.env.CI) throw new Error('the other-user tests need root (useradd, runuser) in CI');
  return false;
}

function addUser(groups: string[] = []): string {
  const name = `gtu${randomBytes(3).toString('hex')}`;
  const r = spawnSync('useradd', ['-M', '-N', '-s', '/bin/bash', ...(groups.length ? ['-G', groups.join(',')] : []), name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`useradd failed: ${r.stderr}`);
  made.users.push(name);
  return name;
}

function addGroup(): string {
  const name = `gtg${randomBytes(3).toString('hex')}`;
  const r = spawnSync('groupadd', [name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`groupadd failed: ${r.stderr}`);
  made.groups.push(name);
  return name;
}

/** The CLI bundle run as users do, under `umask 077`. */
async function deployUnderUmask077(extra: string[]): Promise<void> {
  const bundles = await ensureBundles(['cli']);
  const cli = bundles.cli ?? path.join(ROOT, 'dist', 'cli', 'index.js');
  await run('bash', ['-c', 'umask 077 && exec node "$@"', 'bash', cli, 'deploy', fx.origin, target, '--modulefiles', modDir, '--modulefiles-format', 'tcl', ...extra], {
    env: { ...process.env, GITENV_TOKEN: '' },
  });
}

/** What `user` cannot read (files) or enter (directories) under the deployed tree. */
function unreadable(user: string): string {
  const roots = [target, modDir].map((p) => JSON.stringify(p)).join(' ');
  return loginShell(`find ${roots} \\( -type f ! -readable \\) -o \\( -type d \\( ! -readable -o ! -executable \\) \\) -print 2>&1`, user).output.trim();
}

test('a deploy as root under umask 077: another user runs python, reads every file, loads the module; package modes kept', async () => {
  if (!needRoot()) return;
  await tag(1);
  await deployUnderUmask077([]);
  const user = addUser();
  expect(unreadable(user)).toBe('');
  expect(loginShell(`${JSON.stringify(at('latest', 'bin', 'python'))} -c "import numpy; print(numpy.__version__)"`, user).output.trim()).toBe('1.26.4');
  const init = await moduleInit('tcl');
  if (init) {
    const out = loginShell(`${init}module use ${JSON.stringify(modDir)}\nmodule load default/latest\necho "GDAL=$GDAL_DATA"\n`, user).output;
    expect(value(out, 'GDAL')).toBe(at('latest', 'share', 'gdal'));
  }
  const mode = async (...p: string[]) => (await fs.stat(at('2026_01_01', ...p))).mode & 0o7777;
  expect(await mode('bin', 'gdal-tool')).toBe(0o755);
  expect(await mode('share', 'gdal', 'readonly.txt')).toBe(0o444);
  expect(await mode('share', 'gdal', 'data.csv')).toBe(0o644);
  expect((await fs.stat(path.join(target, '.pkg_cache'))).mode & 0o777).toBe(0o755);
});

test('group: the tree belongs to it, a member reads it, others (world-readable false) cannot', async () => {
  if (!needRoot()) return;
  await tag(1);
  const group = addGroup();
  await deployUnderUmask077(['--group', group, '--world-readable', 'false']);
  const member = addUser([group]);
  const outsider = addUser();
  expect(unreadable(member)).toBe('');
  expect(loginShell(`${JSON.stringify(at('latest', 'bin', 'gdal-tool'))}`, member).output.trim()).toBe('gdal-tool');
  expect(loginShell(`${JSON.stringify(at('latest', 'bin', 'python'))} -c "import numpy; print(numpy.__version__)"`, member).output.trim()).toBe('1.26.4');
  const init = await moduleInit('tcl');
  if (init) {
    const load = `${init}module use ${JSON.stringify(modDir)}\nmodule load default/latest\necho "GDAL=$GDAL_DATA"\n`;
    expect(value(loginShell(load, member).output, 'GDAL')).toBe(at('latest', 'share', 'gdal'));
    expect(value(loginShell(load, outsider).output, 'GDAL')).toBe(''); // cannot even read the modulefiles
  }
  expect(loginShell(`cat ${JSON.stringify(at('latest', 'share', 'gdal', 'readonly.txt'))}`, outsider).output).toContain('Permission denied');
  const foreign = loginShell(`find ${JSON.stringify(target)} ${JSON.stringify(modDir)} ! -type l ! -group ${group} -print`).output.trim();
  expect(foreign).toBe('');
  expect((await fs.stat(at('2026_01_01', 'share', 'gdal', 'data.csv'))).mode & 0o777).toBe(0o640);
});
