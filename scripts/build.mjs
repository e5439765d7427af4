// Bundles every action entry and the CLI with @vercel/ncc into the committed dist/.
// One bundle per entry keeps each action standalone (GitHub runs `node dist/<phase>/index.js`).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';

const entries = ['main', 'resolve', 'autotag', 'label', 'deploy', 'setup', 'cli'];
const only = process.argv.slice(2);
for (const entry of entries) {
  if (only.length > 0 && !only.includes(entry)) continue;
  const out = `dist/${entry}`;
  rmSync(out, { recursive: true, force: true });
  execFileSync(process.execPath, ['node_modules/@vercel/ncc/dist/ncc/cli.js', 'build', `src/entries/${entry}.ts`, '-o', out, '--license', 'licenses.txt', '-q'], {
    stdio: 'inherit',
  });
}
if (only.length === 0 || only.includes('cli')) {
  const cli = 'dist/cli/index.js';
  const text = readFileSync(cli, 'utf8');
  if (!text.startsWith('#!')) writeFileSync(cli, '#!/usr/bin/env node\n' + text);
  chmodSync(cli, 0o755);
}
