/**
 * A benchmark's child process bundled by ncc as the actions are: what runs in it (and the threads it
 * starts) loads a bundle, as on a runner, and its memory is its own. The bench process itself holds
 * fixtures and tsx's compiled sources: a git or python started from it costs several times more to
 * fork than from an action's process (fork copies the page tables: 2 ms at 50 MB, 16 ms at 400 MB).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * `bench/<entry>` bundled by ncc into `dir`; the bundle's path. Beside it (`dir/../extract-worker/`)
 * the small bundle the installer's extraction threads load, as `dist/extract-worker/` is beside each
 * action's bundle: without it they would load the whole child bundle (extract-pool.ts workerEntry).
 */
export async function bundleChild(entry: string, dir: string): Promise<string> {
  await ncc(path.join(here, entry), dir);
  await ncc(path.join(here, '..', 'src', 'entries', 'extract-worker.ts'), path.join(dir, '..', 'extract-worker'));
  const bundle = (await fs.readdir(dir)).find((n) => /^index\.m?js$/.test(n));
  if (!bundle) throw new Error(`ncc left no index.js in ${dir}`);
  return path.join(dir, bundle);
}

function ncc(entry: string, out: string): Promise<void> {
  const cli = path.join(here, '..', 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js');
  return new Promise<void>((resolve, reject) =>
    execFile(process.execPath, [cli, 'build', entry, '-o', out, '-q'], { maxBuffer: 16 << 20 }, (err, _out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve())),
  );
}

/** Runs `bundle` with `request` (as a JSON file's path) in a process of its own; the last line of its output, parsed. */
export async function runChild<T>(bundle: string, request: unknown, work: string, name: string, nodeArgs: string[] = []): Promise<{ result: T; stderr: string }> {
  const file = path.join(work, `request-${name}.json`);
  await fs.writeFile(file, JSON.stringify(request));
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
    execFile(process.execPath, [...nodeArgs, bundle, file], { maxBuffer: 64 << 20 }, (err, out, errOut) =>
      err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve({ stdout: out, stderr: errOut }),
    ),
  );
  return { result: JSON.parse(stdout.trim().split('\n').pop() as string) as T, stderr };
}
