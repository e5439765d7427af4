// Bundles every action entry and the CLI with @vercel/ncc into the committed dist/ (or, with
// `--out DIR`, into DIR: the tests build there when dist/ is not current, never over tracked files).
// One bundle per entry keeps each action standalone (GitHub runs `node dist/<phase>/index.js`).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { STAMP, sourceHash } from './source-hash.mjs';

const entries = ['main', 'resolve', 'autotag', 'label', 'deploy', 'setup', 'cli', 'extract-worker'];
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const root = outAt >= 0 ? args[outAt + 1] : 'dist';
const only = args.filter((_, i) => outAt < 0 || (i !== outAt && i !== outAt + 1));
const hash = sourceHash('.');
for (const entry of entries) {
  if (only.length > 0 && !only.includes(entry)) continue;
  const out = `${root}/${entry}`;
  rmSync(out, { recursive: true, force: true });
  execFileSync(process.execPath, ['node_modules/@vercel/ncc/dist/ncc/cli.js', 'build', `src/entries/${entry}.ts`, '-o', out, '--license', 'licenses.txt', '-q'], {
    stdio: 'inherit',
  });
  if (entry === 'cli') {
    const cli = `${out}/index.js`;
    const text = readFileSync(cli, 'utf8');
    if (!text.startsWith('#!')) writeFileSync(cli, '#!/usr/bin/env node\n' + text);
    chmodSync(cli, 0o755);
  }
  // Last: a bundle whose stamp is there is whole.
  writeFileSync(`${out}/${STAMP}`, hash + '\n');
}
