import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { captureActivation, diffEnv } from '../../src/deploy/activation.js';
import { DEFAULT_TEMPLATE, luaString, renderModule, renderRc, syncModules, tclString } from '../../src/deploy/modulefiles.js';
import { treeAccess, WORLD_READABLE, wantedMode } from '../../src/deploy/permissions.js';
import { main } from '../../src/cli.js';
import { MemoryLogger } from '../../src/util/logger.js';

const activation = { set: { GDAL_DATA: '/t/default/2026_01_01/share/gdal' }, prepend: { PROJ_PATHS: ['/t/default/2026_01_01/a', '/b'] }, append: {} };
const src = { env: 'default', version: 'current', root: '/t/default/current', recordedPrefix: '/t/default/2026_01_01', activation };

test('a label module goes through the label path, activation paths rebased onto it', () => {
  const lua = renderModule(src, { format: 'lua', template: DEFAULT_TEMPLATE });
  expect(lua).toContain('local prefix = "/t/default/current"');
  expect(lua).toContain('setenv("GDAL_DATA", "/t/default/current/share/gdal")');
  expect(lua).toContain('family("gitenv-default")');
  // prepended in reverse, so the first entry ends up first
  expect(lua.indexOf('"/b"')).toBeLessThan(lua.indexOf('"/t/default/current/a"'));
  const tcl = renderModule(src, { format: 'tcl', template: DEFAULT_TEMPLATE });
  expect(tcl.startsWith('#%Module1.0\n')).toBe(true);
  expect(tcl).toContain('conflict "default"');
  expect(tcl).toContain('setenv "GDAL_DATA" "/t/default/current/share/gdal"');
  expect(renderRc('default', 'lua')).toContain('module_version("default/latest", "default")');
  expect(renderRc('default', 'tcl')).toContain('module-version "default/latest" default');
});

test('hostile values stay string literals in both languages', () => {
  const evil = 'x"); os.execute("id") --\n]] $(id) [exec id] {a} \\ \u0001 é';
  const lua = luaString(evil);
  expect(lua).toBe('"x\\"); os.execute(\\"id\\") --\\010]] $(id) [exec id] {a} \\\\ \\001 \\195\\169"');
  const tcl = tclString(evil);
  expect(tcl).toBe('"x\\"); os.execute(\\"id\\") --\\u000a\\]\\] \\$(id) \\[exec id\\] \\{a\\} \\\\ \\u0001 \\u00e9"');
});

test('activation: what the scripts set, prepend and append; shell bookkeeping and odd names ignored', () => {
  const before = new Map([
    ['PATH', '/usr/bin'],
    ['PWD', '/a'],
    ['KEEP', 'same'],
  ]);
  const after = new Map([
    ['PATH', '/p/bin:/usr/bin'],
    ['PWD', '/b'],
    ['KEEP', 'same'],
    ['GDAL_DATA', '/p/share/gdal'],
    ['BASH_FUNC_x%%', '() { :; }'],
    ['MANPATH2', 'x'],
  ]);
  expect(diffEnv(before, after)).toEqual({ set: { GDAL_DATA: '/p/share/gdal', MANPATH2: 'x' }, prepend: { PATH: ['/p/bin'] }, append: {} });
});

test('modes: read (and search where executable) added for everyone, or the group only; nothing else taken', () => {
  expect(wantedMode(0o600, false, WORLD_READABLE)).toBe(0o644);
  expect(wantedMode(0o700, false, WORLD_READABLE)).toBe(0o755);
  expect(wantedMode(0o444, false, WORLD_READABLE)).toBe(0o444);
  expect(wantedMode(0o700, true, WORLD_READABLE)).toBe(0o755);
  const group = { gid: 1234, worldReadable: false };
  expect(wantedMode(0o600, false, group)).toBe(0o640);
  expect(wantedMode(0o755, false, group)).toBe(0o750);
  expect(wantedMode(0o700, true, group)).toBe(0o2750);
  expect(wantedMode(0o600, false, { gid: 1234, worldReadable: true })).toBe(0o644);
});

test('sync: writes what changed, removes only generated files, refuses to overwrite a hand-made one', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-mods-'));
  try {
    const content = renderModule(src, { format: 'lua', template: DEFAULT_TEMPLATE });
    await fs.writeFile(path.join(dir, 'hand.lua'), '-- mine\n');
    expect((await syncModules(dir, new Map([['current.lua', content]]), WORLD_READABLE, true)).written).toEqual([path.join(dir, 'current.lua')]);
    expect(await syncModules(dir, new Map([['current.lua', content]]), WORLD_READABLE, true)).toEqual({ written: [], removed: [] });
    expect((await syncModules(dir, new Map(), WORLD_READABLE, true)).removed).toEqual([path.join(dir, 'current.lua')]);
    expect((await fs.readdir(dir)).sort()).toEqual(['hand.lua']);
    await expect(syncModules(dir, new Map([['hand.lua', content]]), WORLD_READABLE, true)).rejects.toThrow('was not written by gitenv');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

describe('bad input gets a clear error', () => {
  test('world-readable false without a group; a group that does not exist or is no name', async () => {
    await expect(treeAccess(undefined, false)).rejects.toThrow('world-readable: false needs input group');
    await expect(treeAccess('no-such-group-gitenv-test')).rejects.toThrow('no group "no-such-group-gitenv-test"');
    await expect(treeAccess('-rf /')).rejects.toThrow('is not a group name');
    expect(await treeAccess('4321', false)).toEqual({ gid: 4321, groupName: '4321', worldReadable: false });
  });

  test('CLI: a modulefiles format, a test timeout, a template that cannot be read', async () => {
    const run = async (...args: string[]) => {
      const logger = new MemoryLogger();
      const code = await main(['deploy', os.tmpdir(), path.join(os.tmpdir(), 'gitenv-no-target'), ...args], logger as never);
      return { failed: code !== 0, errors: logger.lines('error').join('\n') };
    };
    expect(await run('--modulefiles', '/tmp/m', '--modulefiles-format', 'xml')).toEqual({ failed: true, errors: expect.stringMatching(/modulefiles-format.*must be lua or tcl, got "xml"/) });
    expect(await run('--test-timeout', '0')).toEqual({ failed: true, errors: expect.stringContaining('test-timeout must be a positive number of seconds') });
    expect(await run('--modulefiles', '/tmp/m', '--modulefiles-template', '/nonexistent/site.yml')).toEqual({
      failed: true,
      errors: expect.stringContaining('modulefiles-template: cannot read /nonexistent/site.yml'),
    });
  });
});

test('activation capture sources the scripts in a bash with CONDA_PREFIX set; a script that exits is an error', async () => {
  const prefix = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-act-'));
  try {
    const dir = path.join(prefix, 'etc', 'conda', 'activate.d');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'a.sh'), 'export A_DATA="$CONDA_PREFIX/share/a"\nexport PATH="$CONDA_PREFIX/extra:$PATH"\n');
    expect(await captureActivation(prefix)).toEqual({ set: { A_DATA: `${prefix}/share/a` }, prepend: { PATH: [`${prefix}/extra`] }, append: {} });
    await fs.writeFile(path.join(dir, 'b.sh'), 'exit 3\n');
    await expect(captureActivation(prefix)).rejects.toThrow('exit status 3');
  } finally {
    await fs.rm(prefix, { recursive: true, force: true });
  }
});
