import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PackageError, tailLines } from '../util/errors.js';

export interface PostLinkPackage {
  name: string;
  version: string;
  buildNumber: number;
}

/** bin/.<name>-post-link.sh, conda's place for a package's post-link script. */
export function postLinkScript(name: string): string {
  return `bin/.${name}-post-link.sh`;
}

/**
 * Runs a package's post-link script when it has one, with the variables conda gives it. `prefix` is
 * where the files are now (the staging directory). A failing script fails the package, with its output.
 * Returns whether a script ran.
 */
export async function runPostLink(prefix: string, pkg: PostLinkPackage, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const script = path.join(prefix, postLinkScript(pkg.name));
  if (!(await fs.stat(script).then((s) => s.isFile(), () => false))) return false;
  const shell = (await fs.stat('/bin/bash').then(() => true, () => false)) ? '/bin/bash' : '/bin/sh';
  const vars = {
    ...env,
    PREFIX: prefix,
    ROOT_PREFIX: prefix,
    PKG_NAME: pkg.name,
    PKG_VERSION: pkg.version,
    PKG_BUILDNUM: String(pkg.buildNumber),
    PATH: `${path.join(prefix, 'bin')}${path.delimiter}${env.PATH ?? ''}`,
  };
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(shell, [script], { cwd: prefix, env: vars, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, output }));
  });
  if (code !== 0) {
    throw new PackageError(
      pkg.name,
      `post-link script ${postLinkScript(pkg.name)} failed (exit code ${code ?? 'signal'})` +
        (output.trim() ? `:\n${tailLines(output, 20)}` : ''),
    );
  }
  return true;
}
