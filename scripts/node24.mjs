#!/usr/bin/env node
/**
 * The runtime the actions ship on (`using: node24`), for the tests and benchmarks: the version named
 * in `.node-version`, installed from the npm registry (package `node-<platform>-<arch>`, which holds
 * the official binary) into `.tools/node-<version>/`, git-ignored. Idempotent: a present binary of
 * the right version is used as it is; an install goes to a temporary folder renamed into place.
 *
 *   node scripts/node24.mjs --bin          # installs if needed, prints the folder holding `node`
 *   node scripts/node24.mjs <node args…>   # runs that Node with these arguments (its folder first on PATH)
 *
 * Runs on any Node >= 20 (it is what `npm run bench` and .ci/run start from).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const version = fs.readFileSync(path.join(root, '.node-version'), 'utf8').trim().replace(/^v/, '');
if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`.node-version: expected an exact version like 24.1.0, got "${version}"`);
const pkg = `node-${process.platform}-${process.arch}`;
const home = path.join(root, '.tools', `node-${version}`);
const binDir = (dir) => path.join(dir, 'node_modules', pkg, 'bin');

function installedVersion(dir) {
  try {
    return execFileSync(path.join(binDir(dir), 'node'), ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

function ensure() {
  if (installedVersion(home) === `v${version}`) return binDir(home);
  const tmp = `${home}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  process.stderr.write(`Installing Node ${version} (${pkg}) into ${path.relative(root, home)}\n`);
  execFileSync('npm', ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', tmp, `${pkg}@${version}`], {
    // npm's own report goes to stderr: stdout carries only the folder (--bin).
    stdio: ['ignore', 2, 'inherit'],
  });
  if (installedVersion(tmp) !== `v${version}`) throw new Error(`${pkg}@${version} installed, but its node does not report v${version}`);
  fs.rmSync(home, { recursive: true, force: true });
  fs.renameSync(tmp, home);
  return binDir(home);
}

const bin = ensure();
const args = process.argv.slice(2);
if (args[0] === '--bin') {
  process.stdout.write(`${bin}\n`);
} else {
  const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` };
  const r = spawnSync(path.join(bin, 'node'), args, { stdio: 'inherit', env });
  process.exitCode = r.status ?? 1;
}
