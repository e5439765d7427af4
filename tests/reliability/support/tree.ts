/**
 * What a deploy leaves on disk, made comparable, and the invariants that must hold after any crash:
 * labels point at complete prefixes, no final name without its marker, the package cache complete
 * or recognisably incomplete.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DEPLOYED_NAME, readIncomplete, readMarker } from '../../../src/deploy/layout.js';
import { COMPLETE_MARKER } from '../../../src/installer/package-cache.js';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

async function list(dir: string): Promise<string[]> {
  return (await fs.readdir(dir).catch(() => [] as string[])).sort();
}

/** Bookkeeping that may differ between runs and says nothing about the result. */
function isBookkeeping(name: string): boolean {
  return name.startsWith('.gitenv.lock');
}

/** File content made run-independent: history timestamps and the marker's completion time dropped. */
function normalised(rel: string, data: Buffer): string {
  if (rel.endsWith(path.join('conda-meta', 'history'))) return sha256(data.toString('utf8').replace(/^==> .* <==$/gm, '==> <=='));
  if (rel.endsWith(path.join('conda-meta', 'gitenv.json'))) {
    const { time: _time, ...rest } = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    return sha256(JSON.stringify(rest));
  }
  return sha256(data);
}

/**
 * Every path under each environment directory of `target` (hidden bookkeeping excepted): type, mode,
 * normalised content hash or link target, and whether a file shares its inode (hard-linked).
 */
export async function snapshotEnvs(target: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (abs: string, rel: string): Promise<void> => {
    const st = await fs.lstat(abs);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out.push(`${rel} -> ${await fs.readlink(abs)}`);
    else if (st.isDirectory()) {
      out.push(`${rel}/ ${mode}`);
      for (const n of await list(abs)) if (!isBookkeeping(n)) await walk(path.join(abs, n), path.join(rel, n));
    } else out.push(`${rel} ${mode} ${normalised(rel, await fs.readFile(abs))}${st.nlink > 1 ? ' linked' : ''}`);
  };
  for (const env of await list(target)) if (!env.startsWith('.')) await walk(path.join(target, env), env);
  return out;
}

export interface CacheState {
  /** Extracted packages whose marker is there and whose files are what paths.json says. */
  complete: string[];
  /** Extracted directories without a marker: the next run redoes them. */
  incomplete: string[];
  /** Archives under their final name (always whole and verified, by construction). */
  archives: string[];
  /** Scratch and partial files left behind by a killed run. */
  leftovers: string[];
}

/**
 * Reads the package cache and checks it: a directory with a completion marker must hold every file
 * its paths.json lists with the right size and sha256; an archive under its final name must have the
 * sha256 the channel gives (`expected`: fn -> sha256).
 */
export async function inspectCache(cache: string, expected: ReadonlyMap<string, string>): Promise<CacheState> {
  const state: CacheState = { complete: [], incomplete: [], archives: [], leftovers: [] };
  for (const name of await list(cache)) {
    const p = path.join(cache, name);
    const st = await fs.lstat(p);
    if (name.startsWith('.') || name.includes('.partial-')) state.leftovers.push(name);
    else if (name.endsWith('.lock')) continue;
    else if (st.isDirectory()) {
      const marker = await fs.readFile(path.join(p, COMPLETE_MARKER), 'utf8').catch(() => undefined);
      if (marker === undefined) state.incomplete.push(name);
      else {
        await checkExtracted(p, name);
        state.complete.push(name);
      }
    } else {
      const want = expected.get(name);
      if (want === undefined) throw new Error(`package cache holds an unknown file ${name}`);
      const got = sha256(await fs.readFile(p));
      if (got !== want) throw new Error(`package cache archive ${name} is not whole: sha256 ${got}, expected ${want}`);
      state.archives.push(name);
    }
  }
  return state;
}

async function checkExtracted(dir: string, name: string): Promise<void> {
  const paths = JSON.parse(await fs.readFile(path.join(dir, 'info', 'paths.json'), 'utf8')) as {
    paths: { _path: string; path_type: string; sha256?: string; size_in_bytes?: number }[];
  };
  for (const p of paths.paths) {
    if (p.path_type !== 'hardlink') continue;
    const data = await fs.readFile(path.join(dir, p._path)).catch(() => undefined);
    if (!data) throw new Error(`cache entry ${name} is marked complete but ${p._path} is missing`);
    if (p.size_in_bytes !== undefined && data.length !== p.size_in_bytes) throw new Error(`cache entry ${name}: ${p._path} has the wrong size`);
    if (p.sha256 && sha256(data) !== p.sha256) throw new Error(`cache entry ${name}: ${p._path} has the wrong sha256`);
  }
}

/**
 * The deploy invariants over every environment of `target`: each label symlink resolves to a
 * prefix with its completion marker, and no directory under a deployed name lacks its marker
 * unless it says it is incomplete (`conda-meta/gitenv.incomplete`: renamed into place, post-link
 * scripts or smoke tests not finished; no label points there and the next run rebuilds it).
 * Returns the label -> deployed-name map per environment.
 */
export async function checkDeployInvariants(target: string): Promise<Record<string, Record<string, string>>> {
  const labels: Record<string, Record<string, string>> = {};
  for (const env of await list(target)) {
    if (env.startsWith('.')) continue;
    labels[env] = {};
    for (const name of await list(path.join(target, env))) {
      const p = path.join(target, env, name);
      const st = await fs.lstat(p);
      if (st.isSymbolicLink()) {
        if (name.startsWith('.')) continue; // a temporary label link: a leftover, not a label
        const to = await fs.readlink(p);
        const marker = await readMarker(path.join(target, env, to));
        if (!marker) throw new Error(`label ${env}/${name} -> ${to} points at an incomplete or missing prefix`);
        labels[env][name] = to;
      } else if (st.isDirectory() && DEPLOYED_NAME.test(name)) {
        if (!(await readMarker(p)) && (await readIncomplete(p)) === undefined) {
          throw new Error(`${env}/${name} stands under its final name without its completion marker, and not marked incomplete`);
        }
      }
    }
  }
  return labels;
}

/** Every regular file under `dir` with its content hash (a canary directory's fingerprint). */
export async function fingerprint(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (abs: string, rel: string): Promise<void> => {
    for (const n of await list(abs)) {
      const p = path.join(abs, n);
      const st = await fs.lstat(p);
      if (st.isDirectory()) await walk(p, path.join(rel, n));
      else out.push(`${path.join(rel, n)} ${st.isSymbolicLink() ? 'l:' + (await fs.readlink(p)) : sha256(await fs.readFile(p))} ${(st.mode & 0o7777).toString(8)}`);
    }
  };
  await walk(dir, '');
  return out;
}

/** Sets the mtime of every `*.lock` under `dir` back a minute: what the clock does to a dead holder's lock. */
export async function ageLocks(dir: string): Promise<void> {
  const old = new Date(Date.now() - 60_000);
  for (const name of await list(dir)) {
    if (name.endsWith('.lock')) await fs.utimes(path.join(dir, name), old, old).catch(() => undefined);
  }
}

/** Sets the leftovers of killed runs in a package cache two hours back (past the installer's sweep age). */
export async function ageLeftovers(cache: string): Promise<number> {
  const old = new Date(Date.now() - 2 * 3_600_000);
  // An archive too: the cache keeps none, so one there was left between its download and its extraction.
  const leftovers = (await list(cache)).filter((n) => (n.startsWith('.') || n.includes('.partial-') || /\.(conda|tar\.bz2)$/.test(n)) && !n.endsWith('.lock'));
  for (const name of leftovers) await fs.utimes(path.join(cache, name), old, old).catch(() => undefined);
  return leftovers.length;
}
