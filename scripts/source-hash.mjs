// What a bundle is built from, as one content hash: every file under src/, the lock file and the
// build scripts. scripts/build.mjs writes it beside each bundle (dist/<entry>/source.sha256); the
// tests compare it with the working tree's to know whether the committed bundle is current.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export const STAMP = 'source.sha256';
const INPUTS = ['src', 'package-lock.json', 'scripts/build.mjs', 'scripts/source-hash.mjs'];

/** The hex sha256 over the bundle inputs under `root` (paths and contents, in sorted order). */
export function sourceHash(root) {
  const hash = createHash('sha256');
  const add = (rel) => {
    const abs = path.join(root, rel);
    if (statSync(abs).isDirectory()) {
      for (const name of readdirSync(abs).sort()) add(`${rel}/${name}`);
      return;
    }
    const data = readFileSync(abs);
    hash.update(`${rel}\0${data.length}\0`);
    hash.update(data);
  };
  for (const rel of INPUTS) add(rel);
  return hash.digest('hex');
}
