/**
 * Adopting prefixes that conda-gitenv deployed. They carry no `conda-meta/gitenv.json`, so without
 * this they would be rebuilt beside themselves and swapped in — one reinstall per environment on
 * migration, and a moment between two renames in which their labels dangle. A prefix whose
 * conda-meta records exactly the tag's packages is complete by conda's own account: it gets the
 * marker written into it and is kept as it is.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { distName } from '../conda/types.js';
import { parseLock } from '../manifest/lock.js';
import { parseManifest } from '../manifest/manifest.js';
import type { Engine } from '../engines/types.js';
import { VERSION } from '../version.js';
import { MARKER_FILE, type DeployMarker } from './layout.js';
import { sha256, type TagFileReader } from './packages.js';
import type { SelectedPrefix } from './selection.js';

export type AdoptFn = (selected: SelectedPrefix, prefix: string) => Promise<Omit<DeployMarker, 'time' | 'sizeBytes'> | undefined>;

/** The dist names conda-meta records (`<name>-<version>-<build>.json`), or undefined without conda-meta. */
export async function condaMetaDists(prefix: string): Promise<string[] | undefined> {
  let names: string[];
  try {
    names = await fs.readdir(path.join(prefix, 'conda-meta'));
  } catch {
    return undefined;
  }
  return names.filter((n) => n.endsWith('.json') && n !== path.basename(MARKER_FILE)).map((n) => n.slice(0, -'.json'.length));
}

export function sameDists(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  return a.length === b.length && left.size === new Set(b).size && b.every((d) => left.has(d));
}

/** The adopt step deploy uses: compares a marker-less prefix's conda-meta with the tag's env.lock or env.manifest. */
export function adoptFromRepository(repo: TagFileReader, engine: Engine): AdoptFn {
  return async (selected, prefix) => {
    const present = await condaMetaDists(prefix);
    if (!present || present.length === 0) return undefined;
    const [lock, manifest] = await repo.readFiles(['env.lock', 'env.manifest'].map((p) => ({ rev: selected.commit, path: p })));
    const source = lock ?? manifest;
    if (!source) return undefined;
    let wanted: string[];
    try {
      wanted = lock ? parseLock(lock.toString('utf8')).map((p) => distName(p.fn)) : parseManifest(source.toString('utf8')).map((e) => e.dist);
    } catch {
      return undefined;
    }
    if (!sameDists(present, wanted)) return undefined;
    return {
      env: selected.env,
      tag: selected.tag,
      deployedName: selected.deployedName,
      commit: selected.commit,
      lockSha256: sha256(source),
      engine,
      gitenvVersion: VERSION,
      packages: wanted.length,
    };
  };
}
