/**
 * Short paths for the installer's bursts of hard links (src/util/anchored-paths.ts): the process
 * works from the deepest directory the paths share only between enter() and leave(), and otherwise
 * is exactly where it was.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AnchoredPaths } from '../../src/util/anchored-paths.js';

let work: string;
let home: string;

beforeEach(() => {
  home = process.cwd();
  work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'gitenv-anchored-')));
});
afterEach(() => {
  process.chdir(home);
  fs.rmSync(work, { recursive: true, force: true });
});

test('the anchor is the deepest directory every path is under (never one of the paths itself)', () => {
  const anchored = AnchoredPaths.around([path.join(work, 'env', '.staging-x'), path.join(work, '.pkg_cache', 'a-1-0'), path.join(work, '.pkg_cache', 'b-1-0')]);
  expect(anchored?.anchor).toBe(work);
  expect(AnchoredPaths.around([path.join(work, 'a', 'b'), path.join(work, 'a', 'b', 'c')])?.anchor).toBe(path.join(work, 'a'));
  expect(AnchoredPaths.around([path.join(work, 'a', 'b')])?.anchor).toBe(path.join(work, 'a'));
  expect(anchored?.short(path.join(work, 'env', '.staging-x'))).toBe(path.join('env', '.staging-x'));
});

test('nothing to gain, or not safe to: no anchor', () => {
  expect(AnchoredPaths.around([])).toBeUndefined();
  expect(AnchoredPaths.around(['/usr/lib', '/var/cache'])).toBeUndefined(); // only / in common
  expect(AnchoredPaths.around(['/x'])).toBeUndefined();
  expect(AnchoredPaths.around([path.join(work, 'a'), 'relative/b'])).toBeUndefined(); // a relative path would change meaning
});

test('enter() works from the anchor, leave() puts the working directory back; short paths reach the same files', () => {
  fs.mkdirSync(path.join(work, 'cache', 'pkg'), { recursive: true });
  fs.mkdirSync(path.join(work, 'prefix'));
  fs.writeFileSync(path.join(work, 'cache', 'pkg', 'f'), 'data');
  const anchored = AnchoredPaths.around([path.join(work, 'prefix'), path.join(work, 'cache', 'pkg')]) as AnchoredPaths;
  expect(anchored.enter()).toBe(true);
  expect(process.cwd()).toBe(work);
  fs.linkSync(path.join(anchored.short(path.join(work, 'cache', 'pkg')), 'f'), path.join(anchored.short(path.join(work, 'prefix')), 'f'));
  anchored.leave();
  expect(process.cwd()).toBe(home);
  expect(fs.statSync(path.join(work, 'prefix', 'f')).ino).toBe(fs.statSync(path.join(work, 'cache', 'pkg', 'f')).ino);
  anchored.leave(); // twice: nothing
  expect(process.cwd()).toBe(home);
});

test('an anchor that cannot be entered: false, and the caller keeps its absolute paths', () => {
  const anchored = AnchoredPaths.around([path.join(work, 'gone', 'a'), path.join(work, 'gone', 'b')]) as AnchoredPaths;
  expect(anchored.anchor).toBe(path.join(work, 'gone'));
  expect(anchored.enter()).toBe(false);
  expect(process.cwd()).toBe(home);
  fs.mkdirSync(path.join(work, 'gone'));
  expect(anchored.enter()).toBe(false); // never again once it failed
});

test('a working directory removed while the anchor is in use: the process stays at the anchor, and never enters again', () => {
  const doomed = path.join(work, 'doomed');
  fs.mkdirSync(doomed);
  fs.mkdirSync(path.join(work, 'p'));
  process.chdir(doomed);
  const anchored = AnchoredPaths.around([path.join(work, 'p', 'a'), path.join(work, 'p', 'b')]) as AnchoredPaths;
  expect(anchored.enter()).toBe(true);
  fs.rmdirSync(doomed);
  anchored.leave(); // nowhere to come back to: nothing relative means anything there
  expect(process.cwd()).toBe(path.join(work, 'p'));
  expect(anchored.enter()).toBe(false);
});

test('a working directory already removed: no anchor (nowhere to come back to)', () => {
  const doomed = path.join(work, 'doomed');
  fs.mkdirSync(doomed);
  process.chdir(doomed);
  fs.rmdirSync(doomed);
  expect(AnchoredPaths.around([path.join(work, 'x', 'a'), path.join(work, 'x', 'b')])).toBeUndefined();
});
