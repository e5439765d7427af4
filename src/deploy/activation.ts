/**
 * What a prefix's activation scripts (`etc/conda/activate.d/*.sh`) do to the environment: read once,
 * when the prefix is deployed, by sourcing them in a prefix shell and comparing `env` before and
 * after. The modulefiles carry the result (a module cannot source a script and undo it on unload).
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import * as path from 'node:path';
import { prefixEnv, runBash, SOURCE_ACTIVATION } from './prefix-shell.js';

/** Variables the activation scripts set, and path lists they put entries in front of or behind. */
export interface Activation {
  set: Record<string, string>;
  prepend: Record<string, string[]>;
  append: Record<string, string[]>;
}

export const NO_ACTIVATION: Activation = { set: {}, prepend: {}, append: {} };

/** Names a modulefile may set: shell variable names, not the shell's own bookkeeping. */
const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const IGNORED = new Set(['_', 'PWD', 'OLDPWD', 'SHLVL', 'CONDA_PREFIX', 'CONDA_DEFAULT_ENV', 'CONDA_SHLVL', 'TMPDIR']);
const SPLIT = '__gitenv_activation__';

/** The activation scripts of a prefix, sorted (none: no shell is started at all). */
export async function activationScripts(prefix: string): Promise<string[]> {
  const dir = path.join(prefix, 'etc', 'conda', 'activate.d');
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith('.sh')).sort();
}

/** Sources the activation scripts in `prefix` and returns what they changed. */
export async function captureActivation(prefix: string, timeoutSeconds = 60): Promise<Activation> {
  if ((await activationScripts(prefix)).length === 0) return NO_ACTIVATION;
  const cwd = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-activate-'));
  const chunks: Buffer[] = [];
  try {
    const run = await runBash(`env -0; printf '\\0${SPLIT}\\0'; ${SOURCE_ACTIVATION}env -0`, [], {
      cwd,
      env: prefixEnv(prefix),
      timeoutMs: timeoutSeconds * 1000,
      stdout: (d) => chunks.push(d),
    });
    if (run.code !== 0 || run.timedOut) {
      throw new Error(`sourcing the activation scripts of ${prefix} failed (${run.timedOut ? 'timed out' : `exit status ${run.code}`}): ${run.output.trim().slice(-500)}`);
    }
  } finally {
    await fs.rm(cwd, { recursive: true, force: true }).catch(() => undefined);
  }
  const [before, after] = Buffer.concat(chunks).toString('utf8').split(`\0${SPLIT}\0`);
  return diffEnv(parseEnv(before ?? ''), parseEnv(after ?? ''));
}

function parseEnv(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const entry of text.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) vars.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return vars;
}

/** What changed from `before` to `after`, as settings, prepends and appends (unsets are ignored). */
export function diffEnv(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): Activation {
  const result: Activation = { set: {}, prepend: {}, append: {} };
  for (const [name, value] of [...after].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!VARIABLE.test(name) || IGNORED.has(name)) continue;
    const old = before.get(name);
    if (old === value) continue;
    if (old && value.endsWith(`:${old}`))
      result.prepend[name] = value
        .slice(0, -old.length - 1)
        .split(':')
        .filter(Boolean);
    else if (old && value.startsWith(`${old}:`))
      result.append[name] = value
        .slice(old.length + 1)
        .split(':')
        .filter(Boolean);
    else result.set[name] = value;
  }
  return result;
}
