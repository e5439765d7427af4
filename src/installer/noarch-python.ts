import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PackageError } from '../util/errors.js';
import { packageCodeEnv } from './package-env.js';

/**
 * noarch: python packages ship `site-packages/` and `python-scripts/`; where those go depends on the
 * python of the environment they are installed into. conda's rules, reimplemented.
 */

/** `3.12` from a python version such as `3.12.1` (or `3.12.0rc1`). */
export function pythonShortVersion(version: string): string {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) throw new Error(`cannot read a python version from ${version}`);
  return `${m[1]}.${m[2]}`;
}

/**
 * Where a noarch python package's file lands in the prefix. `sitePackages` is the python package's
 * CEP-17 `python_site_packages_path` when it declares one (free-threaded builds:
 * `lib/python3.13t/site-packages`).
 */
export function noarchTarget(rel: string, pyVersion: string, sitePackages = defaultSitePackages(pyVersion)): string {
  if (rel.startsWith('site-packages/')) return `${sitePackages}/${rel.slice('site-packages/'.length)}`;
  if (rel.startsWith('python-scripts/')) return `bin/${rel.slice('python-scripts/'.length)}`;
  return rel;
}

/** `lib/python3.12/site-packages`: where site-packages is when python declares nothing else. */
export function defaultSitePackages(pyVersion: string): string {
  return `lib/python${pyVersion}/site-packages`;
}

/**
 * The site-packages path of the environment's python: its record's CEP-17 `python_site_packages_path`
 * when it has one (checked: a relative, normalised path inside the prefix), else the default.
 */
export function sitePackagesOf(index: { version: string; python_site_packages_path?: unknown }): string {
  const declared = index.python_site_packages_path;
  if (declared === undefined || declared === null) return defaultSitePackages(pythonShortVersion(index.version));
  const p = typeof declared === 'string' ? declared.replace(/\/+$/, '') : '';
  if (!p || p.startsWith('/') || path.posix.normalize(p) !== p || p === '.' || p.split('/').includes('..') || p.includes('\0')) {
    throw new Error(`python_site_packages_path ${JSON.stringify(declared)} is not a relative path inside the prefix`);
  }
  return p;
}

export interface EntryPoint {
  name: string;
  module: string;
  func: string;
}

/** `name = module:func` (link.json's entry_points). */
export function parseEntryPoint(spec: string, pkg: string): EntryPoint {
  const m = /^\s*([^=\s]+)\s*=\s*([\w.]+)\s*:\s*([\w.]+)\s*$/.exec(spec);
  if (!m || m[1].includes('/') || m[1] === '..' || m[1] === '.') {
    throw new PackageError(pkg, `info/link.json has an entry point conda cannot read: ${JSON.stringify(spec)}`);
  }
  return { name: m[1], module: m[2], func: m[3] };
}

/**
 * The shebang conda writes for the python of `prefix` (`bin/pythonX.Y`): the plain form while it fits
 * the kernel's 127-byte limit and has no space, else a /bin/sh trampoline that re-executes the file.
 */
export function pythonShebang(prefix: string, pyVersion: string): string {
  const python = `${prefix}/bin/python${pyVersion}`;
  // Inside the trampoline's double quotes these would be run by sh: deploy refuses such targets.
  // eslint-disable-next-line no-control-regex
  if (/[$`"\\\x00-\x1f\x7f]/.test(python)) throw new Error(`${JSON.stringify(prefix)}: a prefix holding $, \`, ", \\ or a control character cannot be written into an entry point`);
  const plain = `#!${python}\n`;
  if (plain.length <= 127 && !python.includes(' ')) return plain;
  return `#!/bin/sh\n'''exec' "${python}" "$0" "$@" #'''\n`;
}

/** The script conda writes into bin/ for an entry point. */
export function entryPointScript(ep: EntryPoint, prefix: string, pyVersion: string): string {
  const importName = ep.func.split('.')[0];
  return (
    pythonShebang(prefix, pyVersion) +
    '# -*- coding: utf-8 -*-\n' +
    'import re\n' +
    'import sys\n' +
    '\n' +
    `from ${ep.module} import ${importName}\n` +
    '\n' +
    "if __name__ == '__main__':\n" +
    "    sys.argv[0] = re.sub(r'(-script\\.pyw?|\\.exe)?$', '', sys.argv[0])\n" +
    `    sys.exit(${ep.func}())\n`
  );
}

/** The `.pyc` a `.py` compiles to for an interpreter whose cache tag is `tag` (`cpython-312`). */
export function pycPath(py: string, tag: string): string {
  const dir = path.posix.dirname(py);
  const stem = path.posix.basename(py, '.py');
  return `${dir === '.' ? '' : dir + '/'}__pycache__/${stem}.${tag}.pyc`;
}

export interface CompileResult {
  /** Each source that compiled, with its .pyc (paths relative to the prefix). */
  compiled: { source: string; pyc: string }[];
  /** Why nothing was compiled (python missing or not runnable), when so. */
  skipped?: string;
}

/**
 * One python run: prints the interpreter's cache tag, then byte-compiles each path read from stdin
 * with compileall (what conda's `python -Wi -m compileall -q -l -i -` does, in one process start).
 * `-S`: no site-packages (compiling needs only the standard library); the interpreter may start while
 * other packages are still being linked (startCompiler), and a package's `.pth` file must not run
 * half-linked, nor at all for this.
 */
const COMPILE_SCRIPT = [
  'import compileall, sys',
  'print(sys.implementation.cache_tag, flush=True)',
  'for line in sys.stdin:',
  '    path = line.rstrip("\\n")',
  '    if path:',
  '        compileall.compile_file(path, quiet=1)',
].join('\n');

/** The environment's python, started to byte-compile what it is given later. */
export interface Compiler {
  /** The interpreter's process id, when it started. */
  readonly pid?: number;
  /** Byte-compiles `sources` (relative to the prefix); once only. */
  compile(sources: string[]): Promise<CompileResult>;
  /** Stops the interpreter when nothing is to be compiled after all (a failed install). */
  stop(): void;
}

/**
 * Starts the environment's python (`<root>/bin/python`, run from `root` so the paths recorded in the
 * .pyc files are relative, as conda's are) before the sources are known: its start (tens of
 * milliseconds) then overlaps the linking of the packages after it. The python package and what it
 * depends on must be linked already.
 */
export function startCompiler(root: string, env: NodeJS.ProcessEnv = packageCodeEnv()): Compiler {
  const python = path.join(root, 'bin', 'python');
  const args = ['-Wi', '-S', '-c', COMPILE_SCRIPT];
  let stdout = '';
  let stderr = '';
  let child: ChildProcess | undefined;
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>;
  try {
    child = spawn(python, args, { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'], timeout: 600_000 });
    const c = child;
    // Its first line is the cache tag; what compileall says of modules that do not compile is not kept.
    c.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout = stdout.length < 4096 ? stdout + d : stdout));
    c.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-16_384)));
    // A python that stops reading (it failed to start) must not fail the install with EPIPE.
    c.stdin?.on('error', () => undefined);
    exited = new Promise((resolve) => {
      c.once('error', (error) => resolve({ code: null, signal: null, error }));
      c.once('close', (code, signal) => resolve({ code, signal }));
    });
  } catch (error) {
    exited = Promise.resolve({ code: null, signal: null, error: error as Error });
  }
  let used = false;
  return {
    pid: child?.pid,
    async compile(sources: string[]): Promise<CompileResult> {
      if (used) throw new Error('a compiler compiles once');
      used = true;
      child?.stdin?.end(sources.length > 0 ? sources.join('\n') + '\n' : '');
      const done = await exited;
      if (done.error || done.code !== 0) {
        const why = done.error ? done.error.message : `exit code ${String(done.code ?? done.signal)}`;
        return {
          compiled: [],
          skipped: `the environment's python does not run (${path.basename(python)} ${args.slice(0, 2).join(' ')}: ${why}${stderr ? `; ${stderr.trim().split('\n').pop()}` : ''})`,
        };
      }
      const tag = stdout.split('\n')[0].trim();
      // A module that does not compile (python-2-only syntax, say) simply has no .pyc, as with conda.
      const compiled: CompileResult['compiled'] = [];
      for (const source of sources) {
        const pyc = pycPath(source, tag);
        if (existsSync(path.join(root, pyc))) compiled.push({ source, pyc });
      }
      return { compiled };
    },
    stop(): void {
      used = true;
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
